// The track file, format "vanelia-track" version 1: the one JSON file every
// tracker writes and the Blender add-on reads (Python twin:
// addon/vanelia_blender/core/track_file.py; JSON Schema:
// addon/vanelia_blender/core/track_schema.json; example:
// docs/track_example.json). ../shared/tools/eval_track.py reads it as is.
//
// Keys (every number is written with enough digits to round-trip exactly):
//   format "vanelia-track", version 1
//   source {path, sha256 (64 hex digits, or "" when unknown), frame_count}
//   width, height             upright source frame the intrinsics refer to
//   fps {num, den}, fps_float (= num / den)
//   tracker {name, version, options (object)}
//   world "blender" (floor z = 0, Z up, metres) | "track" (raw tracker world)
//   blender_from_track        4x4 rows, similarity x_file = s R x_raw + t
//                             mapping the raw world into this file's world
//                             (identity when world is "track")
//   scale {method camera_height|distance|none, value_m (number or null)}
//   ground_plane              optional {normal (unit, towards the cameras),
//                             offset, method ransac|horizon|manual, inliers,
//                             rms (or null), confidence}: dot(n, X) + d = 0
//   lens {model pinhole|radial_k1k2, k1, k2}   OpenCV distortion of the
//                             source pixels (k1 = k2 = 0 for pinhole)
//   frames[]                  registered frames only, strictly ascending
//                             index, never null: {index, timestamp_s,
//                             c2w_blender (4x4 rows, see conventions.hpp),
//                             focal_px (= K[0][0]), K (3x3 rows, OpenCV,
//                             pixel centres at integers), confidence (0..1),
//                             reproj_err_px (or null)}
//   summary {registered, total, reproj_err_px, focal_px, warnings[]}
//   points                    optional {xyz [[x,y,z]...], rgb [[r,g,b]...],
//                             confidence [...]}, at most 100000, this world
//   depth                     optional {path, format "npy", width, height,
//                             count}: the depth sidecar folder (relative to
//                             this file's folder, or absolute) holding
//                             per-frame depth + confidence maps of width x
//                             height pixels, count of them (depth_sidecar.hpp)
//
// Reading validates every key; errors are InputError naming the file, the
// key path and the rule: "track 'x.json': frames[3].K: must be 3x3".
#pragma once

#include "vanelia/decode/frame.hpp"
#include "vanelia/geometry/sim3d.hpp"
#include "vanelia/trackfile/camera_track.hpp"
#include "vanelia/trackfile/depth_sidecar.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include <nlohmann/json.hpp>

namespace vanelia {

inline constexpr const char* kTrackFileFormat = "vanelia-track";
inline constexpr int kTrackFileVersion = 1;
inline constexpr int64_t kTrackFileMaxPoints = 100000;

struct TrackSource {
  std::string path;         // the video (or what the track was made from)
  std::string sha256;       // hex SHA-256 of its bytes, "" when unknown
  int64_t frame_count = 0;  // decoded frames of the source
};

struct TrackerInfo {
  std::string name;     // "classical", "must3r", "ground-truth", "colmap"...
  std::string version;  // tracker / format version
  nlohmann::ordered_json options = nlohmann::ordered_json::object();
};

enum class TrackWorld { kBlender, kTrack };

enum class ScaleMethod { kCameraHeight, kDistance, kNone };

struct TrackScale {
  ScaleMethod method = ScaleMethod::kNone;
  std::optional<double> value_m;  // camera height / distance used, metres
};

enum class GroundPlaneMethod { kRansac, kHorizon, kManual };

// The floor in the file's world: dot(normal, X) + offset = 0, unit normal
// pointing towards the cameras.
struct TrackGroundPlane {
  Eigen::Vector3d normal = Eigen::Vector3d::UnitZ();
  double offset = 0.0;
  GroundPlaneMethod method = GroundPlaneMethod::kRansac;
  int64_t inliers = 0;
  std::optional<double> rms;  // world units
  double confidence = 0.0;    // 0..1
};

// The track's `depth` object: where its depth sidecar is and its size.
struct TrackDepth {
  std::string path;    // as written: relative to the track's folder or absolute
  std::string folder;  // resolved when read from a file ("" from a string)
  int width = 0;       // pixels of every map
  int height = 0;
  int64_t count = 0;  // maps in the sidecar
};

struct TrackFile {
  TrackSource source;
  int width = 0;   // pixels
  int height = 0;  // pixels
  Rational fps{24, 1};
  TrackerInfo tracker;
  TrackWorld world = TrackWorld::kTrack;
  Sim3d blender_from_track;  // raw tracker world -> this file's world
  TrackScale scale;
  std::optional<TrackGroundPlane> ground_plane;
  LensDistortion lens;
  // Registered frames, strictly ascending index; poses are cam_from_world in
  // this file's world (written as c2w_blender through conventions.hpp).
  std::vector<TrackedFrame> frames;
  TrackSummary summary;
  std::optional<PointCloud> points;  // this file's world, <= 100000
  std::optional<TrackDepth> depth;   // the sidecar the file names
  // Maps in memory (a network tracker's): WriteTrackFile writes them into
  // DepthSidecarFolderFor(path) and names that folder in `depth`.
  std::shared_ptr<const DepthMaps> depth_maps;

  double FpsFloat() const { return fps.ToDouble(); }
};

// Parses and validates a track file. `name` is used in error messages.
TrackFile ReadTrackFile(const std::string& path);
TrackFile ReadTrackFileString(const std::string& text,
                              const std::string& name = "<string>");

// The parsed, validated JSON document, numbers exactly as written in the
// file (what the Python reader returns).
nlohmann::ordered_json ReadTrackFileJson(const std::string& path);
nlohmann::ordered_json ParseTrackFileJson(const std::string& text,
                                          const std::string& name);

// Throws InputError naming `name`, the key and the rule unless `document` is
// a valid version-1 track file.
void ValidateTrackFileJson(const nlohmann::ordered_json& document,
                           const std::string& name);

// The typed value of a validated document.
TrackFile TrackFileFromJson(const nlohmann::ordered_json& document,
                            const std::string& name);

// The document of a track (validated first: an inconsistent track, e.g.
// frames out of order, throws InputError naming the key).
nlohmann::ordered_json TrackFileToJson(const TrackFile& track);

// The text of a track file: one key per line, matrix rows and point triples
// on one line each; numbers with shortest round-trip digits.
std::string WriteTrackFileString(const TrackFile& track);

// Writes atomically (temporary file + rename). An existing `path` is
// replaced only when `overwrite` is true (else InputError). With
// depth_maps, writes the sidecar first (DepthSidecarFolderFor(path)); a
// `depth` read from another file is re-pointed (relative when the sidecar
// is in path's folder, else absolute). Returns the document written.
nlohmann::ordered_json WriteTrackFile(const std::string& path,
                                      const TrackFile& track,
                                      bool overwrite);

// Formats a validated document the way WriteTrackFileString does.
std::string FormatTrackFileJson(const nlohmann::ordered_json& document);

// Lower-case names as written in the file.
const char* ToString(TrackWorld world);
const char* ToString(ScaleMethod method);
const char* ToString(GroundPlaneMethod method);
const char* ToString(LensDistortion::Model model);

}  // namespace vanelia
