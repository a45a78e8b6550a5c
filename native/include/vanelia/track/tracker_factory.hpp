// Builds a Tracker by name from the options a caller gives (the CLI's
// `vanelia track --tracker ... --weights ...`, the Python binding's
// `track_video(tracker=..., weights=...)`), so both front ends share one set
// of defaults, checks and error messages. Which trackers exist depends on the
// build: "classical" with OpenCV (VANELIA_HAVE_CLASSICAL_TRACKER), "must3r"
// and "dust3r" with LibTorch (VANELIA_HAVE_MUST3R_TRACKER). No LibTorch or
// OpenCV type appears here.
#pragma once

#include "vanelia/track/network/dust3r_tracker.hpp"
#include "vanelia/track/network/must3r_tracker.hpp"
#include "vanelia/track/tracker.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vanelia {

struct TrackerChoice {
  std::string name = "classical";  // "classical", "must3r" or "dust3r"
  TrackerOptions common;           // focal, lens, per-frame focal
  // The networks' settings, used when name is theirs (their `common` is
  // replaced by the one above). The other's weights must be empty.
  Must3rTrackerOptions must3r;
  Dust3rTrackerOptions dust3r;
  // Ignore masks (decode/mask_source.hpp: a folder or pattern of images, a
  // video, or one image for every frame; white = keep out of the solve);
  // empty = none. The track stage reads them alongside the frames (Frame::
  // mask); the classical tracker uses them.
  std::string mask;
};

// The trackers this build has, in the order of preference ("classical",
// "must3r", "dust3r").
std::vector<std::string> AvailableTrackers();

bool HasTracker(const std::string& name);

// True when a CUDA GPU can run the networks (false in a build without them).
bool CudaAvailable();

// The checks of MakeTracker without building anything (no weights are
// read): front ends call it before decoding so that a bad option is reported
// as such, at once.
void CheckTrackerChoice(const TrackerChoice& choice);

// Checks `choice` and builds its tracker (for must3r: loads the weights,
// which takes seconds). Throws InputError for an unknown or missing tracker,
// weights given to a tracker that takes none, or missing weights; the
// tracker's own errors (ModelError for unusable weights) pass through.
std::unique_ptr<Tracker> MakeTracker(const TrackerChoice& choice);

// The `tracker.options` record of the track file: lens, per-frame focal,
// focal and frame range, then (must3r) the network settings with the weights'
// path. Also what keys a track for reuse.
nlohmann::ordered_json TrackerOptionsJson(const TrackerChoice& choice,
                                          int64_t start,
                                          int64_t end,
                                          int64_t every);

const char* LensModeName(LensMode mode);

// "none", "radial" or "auto"; throws InputError naming `what` otherwise.
LensMode LensModeFromName(const std::string& text, const std::string& what);

}  // namespace vanelia
