// The depth sidecar of a track file: per-frame depth and confidence maps at
// a network's resolution, in a folder next to the track that the track's
// optional `depth` object names (an addition to vanelia-track v1; README
// "Formats"; Python twin addon/vanelia_blender/core/depth_sidecar.py).
//
// The folder holds four NumPy .npy files (format 1.0, C order,
// little-endian), F maps of H x W pixels:
//   depth.npy        [F, H, W] '<f4' or '<f2': z of the surface along the
//                    camera's optical axis (OpenCV +z), in the raw tracker
//                    world's units (multiply by the scale s of the file's
//                    blender_from_track for the file's world); 0 (or not
//                    finite) = no depth
//   confidence.npy   [F, H, W] '|u1' (0..255 = 0..1) or '<f4' / '<f2' (0..1)
//   intrinsics.npy   [F, 4] '<f8': fx, fy, cx, cy of the map (pixels of the
//                    map, pixel centres at integers), the frame's pose being
//                    the track's
//   frame_index.npy  [F] '<i8': the decoded frame of each map, strictly
//                    ascending, each one a frames[].index of the track
// The track's `depth` object: {path (the folder, relative to the track
// file's folder or absolute), format "npy", width W, height H, count F}.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia {

inline constexpr const char* kDepthSidecarFormat = "npy";

// Depth maps in memory (a tracker's output, or a sidecar read back).
struct DepthMaps {
  int width = 0;                            // pixels of every map
  int height = 0;                           // pixels
  std::vector<int64_t> frame_index;         // [F] decoded frame
  std::vector<Eigen::Vector4d> intrinsics;  // [F] fx, fy, cx, cy (map px)
  std::vector<float> depth;                 // [F * H * W] raw world units
  std::vector<uint8_t> confidence;          // [F * H * W] 0..255

  int64_t Count() const { return static_cast<int64_t>(frame_index.size()); }

  int64_t Pixels() const { return int64_t{width} * height; }

  // InputError naming the field unless the sizes agree, frame_index
  // ascends and the intrinsics are positive.
  void Check() const;
};

// The sidecar folder of the track file at `track_path`: its name without
// ".json" plus ".depth" ("clip.track.json" -> "clip.track.depth").
std::string DepthSidecarFolderFor(const std::string& track_path);

// Writes `maps` into `folder` (made if missing; the four files replaced
// atomically one by one). depth as '<f4', confidence as '|u1'.
void WriteDepthSidecar(const std::string& folder, const DepthMaps& maps);

// Reads the sidecar in `folder` (any of the dtypes above), checking shapes
// and dtypes; InputError naming the file and the rule.
DepthMaps ReadDepthSidecar(const std::string& folder);

}  // namespace vanelia
