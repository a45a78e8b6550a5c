// MakeTracker and friends: the one place that turns a tracker name and its
// options into a Tracker (see tracker_factory.hpp).
#include "vanelia/track/tracker_factory.hpp"

#include "vanelia/core/error.hpp"

#ifdef VANELIA_HAVE_CLASSICAL_TRACKER
#include "vanelia/track/classical/classical_tracker.hpp"
#endif

#include <string>
#include <utility>

namespace vanelia {

std::vector<std::string> AvailableTrackers() {
  std::vector<std::string> names;
#ifdef VANELIA_HAVE_CLASSICAL_TRACKER
  names.emplace_back("classical");
#endif
#ifdef VANELIA_HAVE_MUST3R_TRACKER
  names.emplace_back("must3r");
  names.emplace_back("dust3r");
#endif
  return names;
}

bool HasTracker(const std::string& name) {
  for (const std::string& available : AvailableTrackers()) {
    if (available == name) return true;
  }
  return false;
}

bool CudaAvailable() {
#ifdef VANELIA_HAVE_MUST3R_TRACKER
  return Must3rCudaAvailable();
#else
  return false;
#endif
}

namespace {

std::string AvailableList() {
  std::string names;
  for (const std::string& name : AvailableTrackers()) {
    names += (names.empty() ? "" : ", ") + name;
  }
  return names.empty() ? "none" : names;
}

}  // namespace

void CheckTrackerChoice(const TrackerChoice& choice) {
  const std::string& name = choice.name;
  if (!HasTracker(name)) {
    throw InputError(
        "tracker = '" + name +
        "': not available in this build (available: " + AvailableList() + ")");
  }
  if (name != "must3r" && !choice.must3r.weights.empty()) {
    throw InputError("weights = '" + choice.must3r.weights +
                     "': only used by the must3r tracker, not by '" + name +
                     "'");
  }
  if (name != "dust3r" && !choice.dust3r.weights.empty()) {
    throw InputError("weights = '" + choice.dust3r.weights +
                     "': only used by the dust3r tracker, not by '" + name +
                     "'");
  }
  choice.common.Check();
#ifdef VANELIA_HAVE_MUST3R_TRACKER
  if (name == "must3r") {
    if (choice.must3r.weights.empty()) {
      throw InputError(
          "tracker 'must3r' needs weights: a MUSt3R checkpoint "
          "(MUSt3R_512.pth or MUSt3R_224_cvpr.pth, downloaded from "
          "naver/must3r)");
    }
    Must3rTrackerOptions options = choice.must3r;
    options.common = choice.common;
    options.Check();
  }
  if (name == "dust3r") {
    Dust3rTrackerOptions options = choice.dust3r;
    options.common = choice.common;
    options.Check();
  }
#endif
}

std::unique_ptr<Tracker> MakeTracker(const TrackerChoice& choice) {
  CheckTrackerChoice(choice);
#ifdef VANELIA_HAVE_CLASSICAL_TRACKER
  if (choice.name == "classical") {
    ClassicalTrackerOptions options;
    options.common = choice.common;
    return std::make_unique<ClassicalTracker>(options);
  }
#endif
#ifdef VANELIA_HAVE_MUST3R_TRACKER
  if (choice.name == "must3r") {
    Must3rTrackerOptions options = choice.must3r;
    options.common = choice.common;
    return std::make_unique<Must3rTracker>(std::move(options));
  }
  if (choice.name == "dust3r") {
    Dust3rTrackerOptions options = choice.dust3r;
    options.common = choice.common;
    return std::make_unique<Dust3rTracker>(std::move(options));
  }
#endif
  throw InputError("tracker = '" + choice.name + "': unknown");
}

const char* LensModeName(LensMode mode) {
  switch (mode) {
    case LensMode::kNone:
      return "none";
    case LensMode::kRadial:
      return "radial";
    case LensMode::kAuto:
      return "auto";
  }
  return "none";
}

LensMode LensModeFromName(const std::string& text, const std::string& what) {
  if (text == "none") return LensMode::kNone;
  if (text == "radial") return LensMode::kRadial;
  if (text == "auto") return LensMode::kAuto;
  throw InputError(what + " " + text + ": must be none, radial or auto");
}

nlohmann::ordered_json TrackerOptionsJson(const TrackerChoice& choice,
                                          int64_t start,
                                          int64_t end,
                                          int64_t every) {
  using Json = nlohmann::ordered_json;
  const TrackerOptions& common = choice.common;
  Json options = {
      {"lens", LensModeName(common.lens)},
      {"per_frame_focal", common.per_frame_focal},
      {"focal_px", common.focal_px ? Json(*common.focal_px) : Json(nullptr)},
      {"start", start},
      {"end", end},
      {"every", every}};
  if (choice.name == "must3r") {
    const Must3rTrackerOptions& m = choice.must3r;
    options["weights"] = m.weights;
    options["image_size"] = m.image_size;
    options["device"] = m.device;
    options["dtype"] = m.dtype;
    options["local_context"] = m.local_context;
    options["max_keyframes"] = m.max_keyframes;
    options["keyframe_rule"] = m.keyframe_rule;
    if (m.keyframe_rule == "overlap") {
      options["overlap_threshold"] = m.overlap_threshold;
      options["overlap_percentile"] = m.overlap_percentile;
      options["overlap_subsample"] = m.overlap_subsample;
      options["overlap_min_conf"] = m.overlap_min_conf;
    } else {
      options["keyframe_every"] = m.keyframe_every;
    }
    options["init_frames"] = m.init_frames;
    options["batch_frames"] = m.batch_frames;
  }
  if (choice.name == "dust3r") {
    const Dust3rTrackerOptions& d = choice.dust3r;
    options["weights"] = d.weights;
    options["image_size"] = d.image_size;
    options["device"] = d.device;
    options["dtype"] = d.dtype;
    options["scene_graph"] = d.scene_graph;
    options["pair_window"] = d.pair_window;
    options["align_iterations"] = d.align_iterations;
    options["align_window"] = d.align_window;
    options["align_overlap"] = d.align_overlap;
    options["align_lr"] = d.align_lr;
    options["align_schedule"] = d.align_schedule;
  }
  return options;
}

}  // namespace vanelia
