// The height of a plain floor from the footage itself (issue 17): a plane
// sweep along a known floor normal.
//
// On a plain floor (textured objects standing on an untextured floor) almost
// no reconstructed point lies on the floor, so the points give its
// orientation at best (the cameras' up) and its height badly: on the
// generated plain-floor clip the plane through the few low points sits
// 0.3 m of 1.5 m above the floor, which moves a product placed on it by
// 18 px. The floor's faint texture and the shadows on it still fix its
// height: every candidate height h gives a plane-induced homography from
// the first registered frame to each later view, and only the true height
// makes the floor region of the warped view agree with the first frame.
// The score is the zero-mean normalised cross-correlation of band-passed
// grey images (fine noise and shading removed), summed over the views; the
// best height is refined by a parabola through its neighbours. Objects in
// the region disagree at every height and only lower the score.
#pragma once

#include "vanelia/core/image.hpp"
#include "vanelia/geometry/plane.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace vanelia {

// A decoded frame of the tracked clip (RGB or grey, the track's size).
struct FloorView {
  int64_t index = 0;  // TrackedFrame::index
  Image image;
};

struct FloorSweepOptions {
  // Heights tried: the first camera's height above the given plane times
  // (1 +- range), in `steps` even steps.
  double range = 0.5;
  int steps = 101;
  // Images are swept at most this wide (downscaled by whole factors).
  int max_width = 640;
  // Band-pass: Gaussian sigmas (px at 640 px width) of the fine blur and of
  // the shading removed.
  double fine_sigma_px = 1.3;
  double coarse_sigma_px = 10.0;
  // Floor pixels of the first frame farther than this many camera heights
  // are left out (grazing, blurred).
  double max_distance = 8.0;
  // The sweep is trusted when the best summed correlation per view is at
  // least this, and the peak stands out of the range's ends by `min_peak`.
  double min_correlation = 0.2;
  double min_peak = 0.05;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

struct FloorSweepResult {
  Plane3d plane;             // the given normal at the swept height
  double correlation = 0.0;  // mean ZNCC of the views at the best height
  double peak = 0.0;         // that minus the lower of the range's ends
  int views = 0;             // views that scored
};

// The frames to decode for a sweep: the first registered frame, then up to
// count - 1 more spread evenly over the registered ones to the last.
std::vector<int64_t> FloorSweepFrames(const CameraTrack& track, int count = 5);

// Sweeps the height of `plane` (normal towards the cameras, in the track's
// world) over `views` (the first is the reference; each must be a
// registered frame of `track`, of the track's size). nullopt when fewer than
// two views can be used or the peak is not clear (see the options).
std::optional<FloorSweepResult> SweepFloorHeight(
    const CameraTrack& track,
    const Plane3d& plane,
    const std::vector<FloorView>& views,
    const FloorSweepOptions& options = {});

}  // namespace vanelia
