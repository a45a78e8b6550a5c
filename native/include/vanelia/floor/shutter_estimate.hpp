// The plate's shutter, estimated from its motion blur (issue 21), so that
// Cycles blurs the product as the camera blurred the footage.
//
// A camera whose shutter is open for a fraction s of a frame smears the
// image along its motion: a straight edge becomes the sharp edge convolved
// with a box of length s * |n . v| pixels, v the image motion per frame at
// the edge and n the edge's normal (a straight edge keeps its direction
// under any blur). The method, on the fastest frames of the clip:
//   1. the image motion v of every pixel from the solved cameras of the
//      frame's neighbours (ImageMotion: the floor z = 0 gives the depth where
//      the pixel's ray meets it, otherwise the point is far away, which is
//      exact for a pan);
//   2. edge candidates: local maxima across the edge of the gradient of the
//      frame smoothed by about 2 px (noise and grain are not blurred by the
//      shutter and must not be taken for edges); at each, the luma profile
//      along n (15 lines along the edge averaged) is fitted by least squares
//      with a ramp (level, step, centre, width); strong steps the ramp
//      explains (residual <= 15 % of the step) are kept;
//   3. widths add as the square roots of summed squares (the variances of a
//      ramp's and a box's derivative, width^2 / 12, add): the sharp width is
//      the median over edges the motion runs along (|n . v| at most
//      static_motion_px), and for the edges it crosses fast (|n . v| at least
//      min_motion_px) s = sqrt(width^2 - sharp^2) / |n . v|; the shutter is
//      a low percentile of s (edge_percentile: soft shading and penumbrae
//      only widen "edges").
// With too few fast frames or edges the shutter is not measured: `reason`
// says why and the shutter is options.default_shutter (180 degrees).
// On tests/data/clips/fastpan (rendered with s = 1.0) it gives 0.88, on the
// same pan rendered with s = 0.25, 0.34.
#pragma once

#include "vanelia/core/image.hpp"
#include "vanelia/decode/frame.hpp"
#include "vanelia/trackfile/camera_track.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

struct ShutterEstimateOptions {
  // The shutter when it cannot be measured, frames (0 < s <= 1): 0.5 is the
  // 180-degree shutter most footage is shot with.
  double default_shutter = 0.5;
  // An edge measures the blur when the motion across it is at least this,
  // pixels per frame (> 0): slower, the blur is lost in the edge's own
  // softness.
  double min_motion_px = 6.0;
  // ... and is a sharp reference when the motion across it is at most this,
  // pixels per frame (>= 0, < min_motion_px).
  double static_motion_px = 1.0;
  // The longest blur measured, pixels (> 0): sets the profile's length.
  double max_blur_px = 28.0;
  // Luma step across an edge, 8-bit code values (> 0): weaker edges are
  // mostly noise.
  double min_contrast = 20.0;
  // Blurred edges needed for a measure (>= 1), and sharp ones for the
  // reference (>= 1; fewer: sharp_sigma_px is assumed). A diagonal motion
  // leaves a few stray "sharp" edges, the sides of smeared corners.
  int min_edges = 40;
  int min_sharp_edges = 20;
  // The sharp edge's spread assumed without a reference, pixels (> 0): the
  // anti-aliasing and compression of a typical plate.
  double sharp_sigma_px = 0.8;
  // The shutter is this percentile (0 < p <= 50) of the edges' own: every
  // edge the motion crosses is blurred at least by the shutter, and wider
  // "edges" are soft things (shading, shadows' penumbrae, defocus).
  double edge_percentile = 25.0;
  // Frames looked at, the fastest first (>= 1).
  int max_frames = 8;

  // Throws InputError naming the first field that breaks its rule.
  void Check() const;
};

// The image motion of one frame, pixels per frame, on a grid of cells of
// `step` pixels (cell (i, j) covers x in [i step, (i + 1) step)).
struct MotionField {
  int width = 0;   // pixels of the frame
  int height = 0;  // pixels
  int step = 8;    // pixels per cell
  int cols = 0;
  int rows = 0;
  std::vector<Eigen::Vector2f> px_per_frame;  // [rows * cols], row-major

  // The motion at pixel (x, y) (the nearest cell; clamped at the borders).
  Eigen::Vector2f At(double x, double y) const;

  // A field of one motion everywhere.
  static MotionField Uniform(int width,
                             int height,
                             const Eigen::Vector2f& v,
                             int step = 8);
};

struct ShutterEstimate {
  // False: not measured (see reason); shutter_frames is then the default.
  bool measured = false;
  // The fraction of a frame the shutter is open (0..1; 0.5 = 180 degrees).
  double shutter_frames = 0.5;
  std::string reason;           // empty when measured
  int64_t frames_used = 0;      // frames fast enough to look at
  int64_t blurred_edges = 0;    // edges the motion crosses fast
  int64_t sharp_edges = 0;      // edges the motion runs along
  double sharp_sigma_px = 0.0;  // the sharp edges' spread (or assumed)
  double median_motion_px = 0;  // |n . v| of the blurred edges, median
  double blur_length_px = 0.0;  // shutter_frames * median_motion_px
};

// Image motion per frame of track.frames[position]'s pixels, for a frame
// `width` x `height` (the track's intrinsics are scaled to it): from the
// neighbouring frames' cameras, the floor z = 0 (Blender world) giving the
// depth where the ray meets it in front of the camera within
// max_distance_m, farther points at max_distance_m. Throws InputError for a
// track of fewer than two frames or a position out of range.
MotionField ImageMotion(const CameraTrack& track,
                        size_t position,
                        int width,
                        int height,
                        int step = 8,
                        double max_distance_m = 1000.0);

// The shutter from frames and their motion fields (the same count, each
// field the size of its frame). Throws InputError for mismatched inputs or
// bad options; a shutter that cannot be measured is a value.
ShutterEstimate EstimateShutterFromMotion(
    const std::vector<Image>& frames,
    const std::vector<MotionField>& motion,
    const ShutterEstimateOptions& options);

// The shutter of a tracked clip: `frames` are decoded frames matched to the
// track's frames by index (any size); the fastest options.max_frames of
// them (median motion at least min_motion_px) are measured.
ShutterEstimate EstimateShutter(const CameraTrack& track,
                                const std::vector<Frame>& frames,
                                const ShutterEstimateOptions& options);

// Track positions of the fastest frames (median image motion of a coarse
// grid at least min_motion_px), the fastest first, at most max_frames: the
// frames EstimateShutter wants decoded.
std::vector<size_t> FastFramePositions(const CameraTrack& track,
                                       const ShutterEstimateOptions& options);

// One line: "shutter 0.98 frame (353 deg) from N edges on F frames (blur
// L px at M px/frame)" or "shutter 0.5 frame (180 deg, not measured:
// REASON)".
std::string DescribeShutter(const ShutterEstimate& estimate);

}  // namespace vanelia
