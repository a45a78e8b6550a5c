#include "vanelia/core/check.hpp"

#include <algorithm>
#include <map>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/video/tracking.hpp>

#include "track/classical/features/feature_tracks_impl.hpp"

namespace vanelia::internal {

struct FeatureTracker::State {
  std::map<int, std::vector<cv::Mat>> anchors;  // frame slot -> pyramid
  std::vector<cv::Mat> prev_pyramid;
  cv::Mat prev_raw;         // the previous frame's grey, not smoothed
  std::vector<int> active;  // track ids alive in the previous frame
  std::vector<cv::Point2f> active_px;
};

FeatureTracker::FeatureTracker(FeatureTrackerOptions options)
    : options_(options), state_(std::make_unique<State>()) {}

FeatureTracker::~FeatureTracker() = default;

const Eigen::Vector2d* FeatureTracker::Find(int id, int frame) const {
  const auto& obs = tracks_[id].obs;
  // Observations are contiguous in frame: index by offset.
  if (obs.empty()) return nullptr;
  const int k = frame - obs.front().frame;
  if (k < 0) return nullptr;
  if (k < static_cast<int>(obs.size()) && obs[k].frame == frame) {
    return &obs[k].px;
  }
  // A matched track (AddMatchedTrack) skips frames: search.
  const auto it = std::lower_bound(
      obs.begin(), obs.end(), frame, [](const FeatureObservation& o, int f) {
        return o.frame < f;
      });
  if (it == obs.end() || it->frame != frame) return nullptr;
  return &it->px;
}

int FeatureTracker::AddEmptyFrame() {
  frames_.emplace_back();
  return static_cast<int>(frames_.size()) - 1;
}

int FeatureTracker::AddTrack(FeatureTrack track) {
  const int id = static_cast<int>(tracks_.size());
  for (size_t k = 0; k < track.obs.size(); ++k) {
    const int f = track.obs[k].frame;
    VANELIA_CHECK(f >= 0 && f < NumFrames() &&
                  f == track.obs.front().frame + static_cast<int>(k))
        << "AddTrack: observations must lie in consecutive existing slots";
    frames_[f].refs.emplace_back(id, static_cast<int>(k));
  }
  track.alive = false;
  tracks_.push_back(std::move(track));
  return id;
}

int FeatureTracker::AddMatchedTrack(FeatureTrack track) {
  const int id = static_cast<int>(tracks_.size());
  // Checked before any frame refers to the track.
  for (size_t k = 0; k < track.obs.size(); ++k) {
    const int f = track.obs[k].frame;
    VANELIA_CHECK(f >= 0 && f < NumFrames() &&
                  (k == 0 || f > track.obs[k - 1].frame))
        << "AddMatchedTrack: observations must lie in ascending existing "
           "slots";
  }
  for (size_t k = 0; k < track.obs.size(); ++k) {
    frames_[track.obs[k].frame].refs.emplace_back(id, static_cast<int>(k));
  }
  track.alive = false;
  tracks_.push_back(std::move(track));
  return id;
}

namespace {

cv::Mat ToGrey(const Image& image) {
  VANELIA_CHECK(image.channels == 3 || image.channels == 1)
      << "channels = " << image.channels;
  const cv::Mat view(image.height,
                     image.width,
                     image.channels == 3 ? CV_8UC3 : CV_8UC1,
                     const_cast<uint8_t*>(image.data.data()),
                     static_cast<size_t>(image.stride));
  if (image.channels == 1) return view.clone();
  cv::Mat grey;
  cv::cvtColor(view, grey, cv::COLOR_RGB2GRAY);
  return grey;
}

// Drops the tracks whose pixel lies on a nonzero pixel of `ignore`.
void DropIgnored(const Image* ignore,
                 std::vector<int>* ids,
                 std::vector<cv::Point2f>* px) {
  if (ignore == nullptr) return;
  size_t kept = 0;
  for (size_t i = 0; i < ids->size(); ++i) {
    const cv::Point2f& p = (*px)[i];
    const int x =
        std::clamp(static_cast<int>(p.x + 0.5f), 0, ignore->width - 1);
    const int y =
        std::clamp(static_cast<int>(p.y + 0.5f), 0, ignore->height - 1);
    if (ignore->At(x, y, 0) != 0) continue;
    (*ids)[kept] = (*ids)[i];
    (*px)[kept] = p;
    ++kept;
  }
  ids->resize(kept);
  px->resize(kept);
}

Eigen::Matrix<uint8_t, 3, 1> ColorAt(const Image& image, cv::Point2f p) {
  const int x = std::clamp(static_cast<int>(p.x + 0.5f), 0, image.width - 1);
  const int y = std::clamp(static_cast<int>(p.y + 0.5f), 0, image.height - 1);
  Eigen::Matrix<uint8_t, 3, 1> rgb;
  for (int c = 0; c < 3; ++c) {
    rgb[c] = image.At(x, y, image.channels == 3 ? c : 0);
  }
  return rgb;
}

}  // namespace

cv::Mat FeatureTracker::Prepare(const cv::Mat& grey,
                                std::vector<cv::Mat>* pyramid) const {
  cv::Mat work = grey;
  if (Denoising()) {
    const double sigma = options_.denoise_sigma_px * grey.cols / 640.0;
    cv::GaussianBlur(grey, work, cv::Size(0, 0), sigma);
  }
  const cv::Size window(options_.window_px, options_.window_px);
  cv::buildOpticalFlowPyramid(work, *pyramid, window, options_.levels);
  return work;
}

void FeatureTracker::FlowActive(const std::vector<cv::Mat>& pyramid,
                                int slot,
                                int width,
                                int height,
                                std::vector<int>* ids,
                                std::vector<cv::Point2f>* px) const {
  const State& s = *state_;
  ids->clear();
  px->clear();
  if (s.active.empty()) return;
  const cv::Size window(options_.window_px, options_.window_px);
  std::vector<cv::Point2f> fwd;
  std::vector<uint8_t> st_fwd;
  std::vector<uint8_t> st_bwd;
  std::vector<float> err;
  const cv::TermCriteria term(
      cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 20, 0.01);
  cv::calcOpticalFlowPyrLK(s.prev_pyramid,
                           pyramid,
                           s.active_px,
                           fwd,
                           st_fwd,
                           err,
                           window,
                           options_.levels,
                           term);
  // Forward-backward check (Kalal et al. 2010) for the tracks whose anchor
  // is the previous frame; the others are checked against their anchor.
  std::vector<size_t> check;
  for (size_t i = 0; i < s.active.size(); ++i) {
    const int a = tracks_[s.active[i]].anchor_frame;
    if (st_fwd[i] && (a >= slot - 1 || s.anchors.count(a) == 0)) {
      check.push_back(i);
    }
  }
  std::vector<uint8_t> fb_ok(s.active.size(), 1);
  if (!check.empty()) {
    std::vector<cv::Point2f> from;
    std::vector<cv::Point2f> back;
    for (size_t i : check) {
      from.push_back(fwd[i]);
      back.push_back(s.active_px[i]);
    }
    cv::calcOpticalFlowPyrLK(pyramid,
                             s.prev_pyramid,
                             from,
                             back,
                             st_bwd,
                             err,
                             window,
                             1,
                             term,
                             cv::OPTFLOW_USE_INITIAL_FLOW);
    const double max_fb2 =
        options_.max_forward_backward_px * options_.max_forward_backward_px;
    for (size_t j = 0; j < check.size(); ++j) {
      const cv::Point2f d = back[j] - s.active_px[check[j]];
      fb_ok[check[j]] = st_bwd[j] && d.x * d.x + d.y * d.y <= max_fb2;
    }
  }
  const float b = static_cast<float>(options_.border_px);
  for (size_t i = 0; i < s.active.size(); ++i) {
    const bool ok = st_fwd[i] && fb_ok[i] && fwd[i].x >= b && fwd[i].y >= b &&
                    fwd[i].x <= width - 1 - b && fwd[i].y <= height - 1 - b;
    if (!ok) continue;
    ids->push_back(s.active[i]);
    px->push_back(fwd[i]);
  }
  CorrectFromAnchors(pyramid, slot, ids, px);
}

int FeatureTracker::AddFrame(const Image& image, const Image* ignore) {
  VANELIA_CHECK(ignore == nullptr ||
                (ignore->channels == 1 && ignore->width == image.width &&
                 ignore->height == image.height))
      << "AddFrame: the ignore mask must be one channel of the image's size";
  const int slot = static_cast<int>(frames_.size());
  frames_.emplace_back();
  cv::Mat raw = ToGrey(image);
  std::vector<cv::Mat> pyramid;
  cv::Mat grey = Prepare(raw, &pyramid);

  State& s = *state_;
  std::vector<int> next_active;
  std::vector<cv::Point2f> next_px;
  FlowActive(pyramid, slot, image.width, image.height, &next_active, &next_px);
  // Too many tracks lost in one step: noise, not the scene. Smooth from
  // this step on (the previous frame again too) and flow once more.
  if (!Denoising() && options_.denoise_below_survival > 0.0 &&
      s.active.size() >= 100 &&
      static_cast<double>(next_active.size()) <
          options_.denoise_below_survival * s.active.size()) {
    denoising_ = true;
    const bool anchored_prev = s.anchors.count(slot - 1) != 0;
    Prepare(s.prev_raw, &s.prev_pyramid);
    if (anchored_prev) s.anchors[slot - 1] = s.prev_pyramid;
    grey = Prepare(raw, &pyramid);
    FlowActive(
        pyramid, slot, image.width, image.height, &next_active, &next_px);
  }
  // A track that enters the ignore mask ends there (it follows a moving
  // thing, or is about to be occluded by one).
  DropIgnored(ignore, &next_active, &next_px);
  for (int id : s.active) tracks_[id].alive = false;
  for (int id : next_active) tracks_[id].alive = true;
  Reanchor(slot, image.width, next_active, next_px);
  for (size_t i = 0; i < next_active.size(); ++i) {
    auto& obs = tracks_[next_active[i]].obs;
    obs.push_back({slot, Eigen::Vector2d(next_px[i].x, next_px[i].y)});
    frames_[slot].refs.emplace_back(next_active[i],
                                    static_cast<int>(obs.size()) - 1);
  }

  Replenish(image, grey, ignore, slot, &next_active, &next_px);
  // Keep the pyramids some alive track is anchored on (this one included).
  std::map<int, std::vector<cv::Mat>> kept;
  for (int id : next_active) {
    const int a = tracks_[id].anchor_frame;
    if (kept.count(a) != 0) continue;
    if (a == slot) {
      kept[a] = pyramid;
    } else {
      kept[a] = s.anchors[a];
    }
  }
  s.anchors = std::move(kept);
  s.prev_pyramid = std::move(pyramid);
  s.prev_raw = std::move(raw);
  s.active = std::move(next_active);
  s.active_px = std::move(next_px);
  return slot;
}

void FeatureTracker::Replenish(const Image& image,
                               const cv::Mat& grey,
                               const Image* ignore,
                               int slot,
                               std::vector<int>* ids,
                               std::vector<cv::Point2f>* px) {
  // Replenish where the tracks are sparse.
  const int wanted = options_.max_features - static_cast<int>(px->size());
  if (wanted > options_.max_features / 10) {
    const double scale = image.width / 640.0;
    const int radius =
        std::max(2, static_cast<int>(options_.min_distance_px * scale));
    cv::Mat mask(grey.size(), CV_8UC1, cv::Scalar(255));
    if (ignore != nullptr) {
      const cv::Mat ignored(ignore->height,
                            ignore->width,
                            CV_8UC1,
                            const_cast<uint8_t*>(ignore->data.data()),
                            static_cast<size_t>(ignore->stride));
      mask.setTo(cv::Scalar(0), ignored);  // no corner on a moving thing
    }
    for (const auto& p : *px) {
      cv::circle(mask, p, radius, cv::Scalar(0), -1);
    }
    std::vector<cv::Point2f> corners;
    cv::goodFeaturesToTrack(
        grey, corners, wanted, 0.005, radius, mask, 5, false, 0.04);
    if (!corners.empty()) {
      cv::cornerSubPix(
          grey,
          corners,
          cv::Size(4, 4),
          cv::Size(-1, -1),
          cv::TermCriteria(
              cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 10, 0.01));
    }
    const float b = static_cast<float>(options_.border_px);
    for (const auto& p : corners) {
      if (p.x < b || p.y < b || p.x > image.width - 1 - b ||
          p.y > image.height - 1 - b) {
        continue;
      }
      FeatureTrack track;
      track.obs.push_back({slot, Eigen::Vector2d(p.x, p.y)});
      track.anchor_frame = slot;
      track.anchor_px = Eigen::Vector2f(p.x, p.y);
      track.rgb = ColorAt(image, p);
      const int id = static_cast<int>(tracks_.size());
      tracks_.push_back(std::move(track));
      frames_[slot].refs.emplace_back(id, 0);
      ids->push_back(id);
      px->push_back(p);
    }
  }
}

void FeatureTracker::CorrectFromAnchors(const std::vector<cv::Mat>& pyramid,
                                        int slot,
                                        std::vector<int>* ids,
                                        std::vector<cv::Point2f>* px) const {
  const State& s = *state_;
  const cv::Size window(options_.window_px, options_.window_px);
  std::map<int, std::vector<size_t>> groups;  // anchor -> indices
  for (size_t i = 0; i < ids->size(); ++i) {
    const int a = tracks_[(*ids)[i]].anchor_frame;
    if (a < slot - 1 && s.anchors.count(a) != 0) groups[a].push_back(i);
  }
  const cv::TermCriteria term(
      cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 20, 0.005);
  const double max_corr2 =
      options_.max_anchor_correction_px * options_.max_anchor_correction_px;
  std::vector<uint8_t> disowned(ids->size(), 0);
  for (const auto& [a, idx] : groups) {
    std::vector<cv::Point2f> from;
    std::vector<cv::Point2f> to;
    for (size_t i : idx) {
      const Eigen::Vector2f& p = tracks_[(*ids)[i]].anchor_px;
      from.emplace_back(p.x(), p.y());
      to.push_back((*px)[i]);
    }
    std::vector<uint8_t> status;
    std::vector<float> err;
    cv::calcOpticalFlowPyrLK(s.anchors.at(a),
                             pyramid,
                             from,
                             to,
                             status,
                             err,
                             window,
                             1,
                             term,
                             cv::OPTFLOW_USE_INITIAL_FLOW);
    for (size_t j = 0; j < idx.size(); ++j) {
      const size_t i = idx[j];
      const cv::Point2f d = to[j] - (*px)[i];
      if (status[j] && d.x * d.x + d.y * d.y <= max_corr2) {
        (*px)[i] = to[j];
      } else {
        disowned[i] = 1;  // the anchor disowns the prediction
      }
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < ids->size(); ++i) {
    if (disowned[i]) continue;
    (*ids)[kept] = (*ids)[i];
    (*px)[kept] = (*px)[i];
    ++kept;
  }
  ids->resize(kept);
  px->resize(kept);
}

void FeatureTracker::Reanchor(int slot,
                              int width,
                              const std::vector<int>& ids,
                              const std::vector<cv::Point2f>& px) {
  // Re-anchor tracks that moved far or aged.
  const float far = static_cast<float>(options_.reanchor_fraction * width);
  for (size_t i = 0; i < ids.size(); ++i) {
    FeatureTrack& t = tracks_[ids[i]];
    const Eigen::Vector2f p(px[i].x, px[i].y);
    if ((p - t.anchor_px).norm() > far ||
        slot - t.anchor_frame > options_.max_anchor_age) {
      t.anchor_frame = slot;
      t.anchor_px = p;
    }
  }
}

}  // namespace vanelia::internal
