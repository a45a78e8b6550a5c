// Bindings of the floor module: ground-plane detection and alignment of a
// track file to Blender's world (floor z = 0, Z up, metres), and the
// product's automatic placement on that floor.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/floor/placement.hpp"
#include "vanelia/floor/proxies.hpp"
#include "vanelia/trackfile/track_file.hpp"
#ifdef VANELIA_BIND_PIPELINE
#include "vanelia/pipeline/track_stage.hpp"
#endif

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {
namespace {

// A track given as a path or as a document (dict), in Blender's world.
TrackFile PlacementTrack(const py::object& track,
                         const std::string& caller = "place_product") {
  TrackFile file = py::isinstance<py::str>(track)
                       ? ReadTrackFile(track.cast<std::string>())
                       : TrackFileFromJson(JsonFromPython(track), "<track>");
  if (file.world != TrackWorld::kBlender) {
    throw InputError(
        caller +
        ": the track's world is 'track' (the tracker's raw world); align it "
        "to the floor first");
  }
  return file;
}

py::dict PlaceProductPython(
    const py::object& track,
    const std::array<double, 3>& size_m,
    const std::optional<double>& target_height_m,
    const std::optional<std::array<double, 3>>& location,
    double heading_deg,
    bool allow_scale,
    const std::string& front) {
  const TrackFile file = PlacementTrack(track);
  PlacementOptions options;
  options.target_height_m = target_height_m;
  options.allow_scale = allow_scale;
  std::optional<Eigen::Vector3d> at_m;
  if (location)
    at_m = Eigen::Vector3d((*location)[0], (*location)[1], (*location)[2]);
  const Eigen::Matrix3Xf points =
      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
  const CameraTrack camera_track = CameraTrackOf(file);
  Placement placement;
  {
    py::gil_scoped_release release;
    placement =
        PlaceOrEvaluate(camera_track,
                        points,
                        Eigen::Vector3d(size_m[0], size_m[1], size_m[2]),
                        options,
                        front,
                        at_m,
                        heading_deg);
  }
  return JsonToPython(PlacementToJson(placement, !location.has_value()))
      .cast<py::dict>();
}

py::dict AlignTrackFilePython(
    const std::string& input,
    const std::string& output,
    double camera_height_m,
    bool no_scale,
    const std::optional<std::tuple<int64_t, int64_t, double>>& distance,
    const std::optional<std::vector<std::vector<double>>>& plane,
    bool overwrite,
    const std::string& video) {
  TrackFile file = ReadTrackFile(input);
  AlignmentOptions options;
  options.camera_height_m = camera_height_m;
  if (no_scale) options.scale = ScaleMethod::kNone;
  if (distance) {
    const auto [i, j, metres] = *distance;
    const int64_t count = file.points ? file.points->Size() : 0;
    if (i < 0 || j < 0 || i >= count || j >= count || i == j) {
      throw InputError("align_track_file: distance point indices (" +
                       std::to_string(i) + ", " + std::to_string(j) +
                       ") must be two different stored points of " +
                       std::to_string(count));
    }
    options.scale = ScaleMethod::kDistance;
    options.distance_a = file.points->xyz.col(i).cast<double>();
    options.distance_b = file.points->xyz.col(j).cast<double>();
    options.distance_m = metres;
  }
  if (plane) {
    if (plane->size() != 3 || (*plane)[0].size() != 3 ||
        (*plane)[1].size() != 3 || (*plane)[2].size() != 3) {
      throw InputError("align_track_file: plane must be 3 points x 3");
    }
    const auto point = [&](size_t k) {
      return Eigen::Vector3d((*plane)[k][0], (*plane)[k][1], (*plane)[k][2]);
    };
    options.manual_plane = Plane3d::FromPoints(point(0), point(1), point(2));
    if (!options.manual_plane) {
      throw InputError(
          "align_track_file: the plane's points are "
          "collinear");
    }
  }
  Alignment alignment;
  {
    py::gil_scoped_release release;
    CheckCanWrite(output, overwrite, "output", {input});
#ifdef VANELIA_BIND_PIPELINE
    alignment = AlignTrackFileWithFrames(options, video, &file);
#else
    if (!video.empty()) {
      throw InputError("align_track_file: video '" + video +
                       "': this build has no pipeline module to read it");
    }
    alignment = AlignTrackFile(options, &file);
#endif
    WriteTrackFile(output, file, overwrite);
  }
  py::dict result;
  result["aligned"] = alignment.aligned;
  result["method"] = std::string(ToString(alignment.method));
  result["scale_method"] = std::string(ToString(alignment.scale_method));
  result["scale"] = alignment.blender_from_track.scale;
  result["warnings"] = alignment.warnings;
  if (alignment.ground) {
    result["inliers"] = alignment.ground->num_inliers;
    result["confidence"] = alignment.ground->confidence;
  }
  return result;
}

py::dict BuildProxiesPython(const py::object& track,
                            double min_height_m,
                            int min_points) {
  const TrackFile file = PlacementTrack(track, "build_proxies");
  ProxyOptions options;
  options.min_height_m = min_height_m;
  options.min_points = min_points;
  const Eigen::Matrix3Xf points =
      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
  ProxySet set;
  {
    py::gil_scoped_release release;
    set = BuildProxies(points, options);
  }
  return JsonToPython(ProxySetToJson(set)).cast<py::dict>();
}

}  // namespace

void BindFloor(py::module_& m) {
  m.def("align_track_file",
        &AlignTrackFilePython,
        py::arg("input"),
        py::arg("output"),
        py::arg("camera_height_m") = 1.5,
        py::arg("no_scale") = false,
        py::arg("distance") = py::none(),
        py::arg("plane") = py::none(),
        py::arg("overwrite") = false,
        py::arg("video") = "",
        "Align a track file to the floor (z = 0, Z up, metres) from its "
        "stored points and write it to `output`, as `vanelia align`: a "
        "plain floor's height is swept from the frames of `video` (\"\" = "
        "the track's source when it is still there with the recorded "
        "content hash).\n\n"
        "distance: (i, j, metres) between stored points i and j sets the "
        "scale; plane: three 3-D points [[x,y,z]]*3 of the track's world "
        "give the floor instead of detecting it. Returns a dict: aligned, "
        "method, scale_method, scale, warnings (+ inliers, confidence). "
        "When no floor is found the file keeps the tracker's world "
        "(aligned False, a warning).");
  m.def("place_product",
        &PlaceProductPython,
        py::arg("track"),
        py::arg("size_m"),
        py::kw_only(),
        py::arg("target_height_m") = py::none(),
        py::arg("location") = py::none(),
        py::arg("heading_deg") = 0.0,
        py::arg("allow_scale") = false,
        py::arg("front") = "gltf",
        "Where the product stands (floor/placement.hpp): `track` is a track "
        "file path or document in Blender's world (its stored points are the "
        "obstacles); size_m the product's bounding box (x, y, z up) in "
        "metres, footprint centred, base on the floor. Without `location` "
        "the spot, heading (front: 'gltf' = glTF +Z, or 'widest') and scale "
        "are chosen; with it, that spot (and heading_deg) is only "
        "evaluated. Returns a dict: location [x, y, 0], heading_deg, scale, "
        "automatic, report {frames, fully_visible, partly_visible, "
        "out_of_frame, fully_visible_fraction, height_px_min/median/max, "
        "median_height_fraction, obstacle_points, obstacle_clusters, "
        "candidates, "
        "good_candidates, reason ('' for a good spot)} and summary (one "
        "line).");
  m.def("build_proxies",
        &BuildProxiesPython,
        py::arg("track"),
        py::kw_only(),
        py::arg("min_height_m") = ProxyOptions().min_height_m,
        py::arg("min_points") = ProxyOptions().min_points,
        "Proxy shapes of what stands on the floor (floor/proxies.hpp): the "
        "stored points of `track` (a track file path or document in "
        "Blender's world) higher than min_height_m metres, clustered on the "
        "floor; a cluster of >= min_points points becomes an oriented box "
        "(kind 'box') or, long and thin, a wall (kind 'wall'). Returns a "
        "dict: proxies [{kind, centre [x, y, z] m (z = half the height), "
        "size [x, y, z] m (x the longer side), yaw_deg (turn about +Z), "
        "points}], count, boxes, walls, points_above_floor, points_used, "
        "clusters_rejected and summary (one line).");
}

}  // namespace vanelia::python
