// Import of a COLMAP sparse model (text: cameras.txt, images.txt,
// points3D.txt; or binary: cameras.bin, images.bin, points3D.bin) into a
// track file with world "track" (COLMAP's world, unscaled, identity
// blender_from_track), so that the floor and the scale can be found later
// from its 3-D points.
//
// Conventions of the import:
// - Frame index: the trailing number of the image name's stem
//   ("frame_000123.png" -> 123, "img42.jpg" -> 42) minus
//   ColmapImportOptions::first_number (ffmpeg's image2 numbers from 1: pass
//   first_number = 1 for "%06d.png" extracts). A name without a trailing
//   number, or two images on one index, is an InputError.
// - Poses: COLMAP's cam_from_world (OpenCV camera axes) as is.
// - Intrinsics: COLMAP puts the centre of the top-left pixel at (0.5, 0.5);
//   the track file's K has it at (0, 0), so cx = cx_colmap - 0.5 and
//   cy = cy_colmap - 0.5.
// - Camera models: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL (k), RADIAL
//   (k1, k2) and OPENCV (k1, k2; its tangential p1, p2 are dropped with a
//   summary warning when non-zero). The radial terms are OpenCV's k1, k2
//   (x_d = x (1 + k1 r^2 + k2 r^4)). The track has one lens: when cameras
//   disagree, that of the camera used by the most images is kept and a
//   warning is added. All cameras must have the same width and height.
// - Points: at most max_points (100000), subsampled deterministically by
//   keeping every ceil(N / max_points)-th point in increasing POINT3D_ID
//   order; confidence = 1 / (1 + reprojection error in pixels).
// - Per-frame reproj_err_px: mean reprojection error of the points the image
//   sees (from points3D), null when it sees none.
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdint>
#include <string>

namespace vanelia {

struct ColmapImportOptions {
  // Frame rate of the source video (COLMAP does not know it), frames/s.
  Rational fps{24, 1};
  // Image number that is decoded frame index 0.
  int64_t first_number = 0;
  // Optional source video: written as source.path with its SHA-256. Empty:
  // source.path is the model folder and sha256 "".
  std::string video_path;
  // Decoded frames of the source; 0: the largest frame index + 1.
  int64_t frame_count = 0;
  // Most 3-D points written (the track file holds at most 100000).
  int64_t max_points = kTrackFileMaxPoints;

  // Throws InputError naming the field, value and rule.
  void Check() const;
};

// True when `path` is a folder holding cameras.txt or cameras.bin.
bool IsColmapModel(const std::string& path);

// Reads the model in `model_dir` (text when cameras.txt exists, else binary).
// Throws InputError naming the file, the line or record and the rule.
TrackFile ImportColmapModel(const std::string& model_dir,
                            const ColmapImportOptions& options = {});

// The trailing number of an image name's stem ("a/frame_0012.png" -> 12);
// throws InputError naming the image when it has none.
int64_t ImageNumberFromName(const std::string& name);

}  // namespace vanelia
