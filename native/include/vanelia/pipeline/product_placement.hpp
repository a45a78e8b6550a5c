// The product's place in a run (issue 20): its bounding box read from the
// GLB, and the automatic placement (floor/placement.hpp) of the run's
// aligned track, handed to Blender as --location and --rotation-z.
#pragma once

#include "vanelia/floor/placement.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <optional>
#include <string>

#include <Eigen/Core>

namespace vanelia {

// The size (x, y, z up; Blender axes, metres) of the bounding box of every
// mesh of a glTF 2.0 file (.glb or .gltf) in its default scene, node
// transforms applied, from the POSITION accessors' min/max (glTF +Y up
// becomes +Z, glTF +Z becomes -Y, as Blender's importer does). Throws
// InputError naming the file and what is wrong (not glTF 2.0, no mesh,
// a POSITION accessor without min/max).
Eigen::Vector3d ReadProductBoxSize(const std::string& path);

// The run's track as batch.py sees it: `track_path` read, a given track
// (options.track) scaled about the origin so that its first camera stands
// options.camera_height_m above the floor. nullopt when it cannot be read,
// is not in Blender's world or has no frames (batch.py refuses it with its
// own message).
std::optional<TrackFile> ReadRunTrack(const PipelineOptions& options,
                                      const std::string& track_path);

// The placement of a run whose Blender-world track is `track_path`:
// without options.location_m the chosen spot and heading, with it the
// report of that spot (heading 0). The track's scale follows batch.py's:
// a given track with options.camera_height_m is scaled first. nullopt when
// the track is not in Blender's world or cannot be read (batch.py refuses
// it with its own message).
std::optional<Placement> PlaceRunProduct(const PipelineOptions& options,
                                         const std::string& track_path);

// The options Blender gets: with an automatic placement, location_m = the
// spot and rotation_z_deg = heading + the user's rotation_z_deg. Logs the
// placement's one-line summary (or why there is none) through `reporter`.
PipelineOptions WithPlacement(const PipelineOptions& options,
                              const std::string& track_path,
                              RunReporter* reporter);

}  // namespace vanelia
