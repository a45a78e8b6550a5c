#include "vanelia/track/tracker.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vanelia {

void TrackerOptions::Check() const {
  if (focal_px.has_value() && !(std::isfinite(*focal_px) && *focal_px > 0.0)) {
    internal::ThrowBadOption(
        "TrackerOptions", "focal_px", *focal_px, "must be a finite number > 0");
  }
  if (per_frame_focal && focal_px.has_value()) {
    throw InputError(
        "TrackerOptions::per_frame_focal = true with a known focal_px; "
        "a per-frame focal is solved, not given");
  }
}

TrackResult Tracker::Track(const std::vector<Frame>& frames,
                           const ProgressCallback& progress) {
  FrameFeedInfo info;
  if (!frames.empty()) {
    info.width = frames.front().rgb.width;
    info.height = frames.front().rgb.height;
  }
  info.expected_frames = static_cast<int64_t>(frames.size());
  size_t next = 0;
  const FrameFeed feed = [&frames, &next](Frame* frame) {
    if (next >= frames.size()) return false;
    *frame = frames[next++];
    return true;
  };
  return Track(feed, info, progress);
}

TrackFile ToTrackFile(const TrackResult& result,
                      const TrackSource& source,
                      const TrackerInfo& tracker) {
  TrackFile file;
  file.source = source;
  file.width = result.track.width;
  file.height = result.track.height;
  file.fps = result.track.fps;
  file.tracker = tracker;
  file.world =
      result.blender_from_track ? TrackWorld::kBlender : TrackWorld::kTrack;
  file.blender_from_track = result.blender_from_track.value_or(Sim3d());
  file.ground_plane = result.ground_plane;
  file.lens = result.track.lens;
  file.frames = result.track.frames;
  file.summary = result.summary;
  file.depth_maps = result.depth;
  const PointCloud& in = result.points;
  if (in.Size() > 0) {
    std::vector<Eigen::Index> order(static_cast<size_t>(in.Size()));
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    if (in.Size() > kTrackFileMaxPoints) {
      std::stable_sort(
          order.begin(), order.end(), [&in](Eigen::Index a, Eigen::Index b) {
            return in.confidence[a] > in.confidence[b];
          });
      order.resize(static_cast<size_t>(kTrackFileMaxPoints));
      std::sort(order.begin(), order.end());
    }
    PointCloud out;
    const auto n = static_cast<Eigen::Index>(order.size());
    out.xyz.resize(3, n);
    out.rgb.resize(3, n);
    out.confidence.resize(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      const Eigen::Index k = order[static_cast<size_t>(i)];
      out.xyz.col(i) = in.xyz.col(k);
      out.rgb.col(i) = in.rgb.col(k);
      out.confidence[i] = in.confidence.size() > k ? in.confidence[k] : 1.0f;
      if (!in.frame_index.empty()) {
        out.frame_index.push_back(in.frame_index[static_cast<size_t>(k)]);
      }
    }
    file.points = std::move(out);
  }
  return file;
}

}  // namespace vanelia
