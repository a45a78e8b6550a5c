#include "vanelia/track/tracker.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <sstream>

namespace vanelia {

void TrackerOptions::Check() const {
  if (focal_px.has_value() &&
      !(std::isfinite(*focal_px) && *focal_px > 0.0)) {
    std::ostringstream msg;
    msg << "TrackerOptions::focal_px = " << *focal_px
        << "; must be a finite number > 0";
    throw InputError(msg.str());
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

}  // namespace vanelia
