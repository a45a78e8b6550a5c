// Bindings of the floor module: ground-plane detection and alignment of a
// track file to Blender's world (floor z = 0, Z up, metres).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {

void BindFloor(py::module_& m) {
  m.def(
      "align_track_file",
      [](const std::string& input,
         const std::string& output,
         double camera_height_m,
         bool no_scale,
         const std::optional<std::tuple<int64_t, int64_t, double>>& distance,
         const std::optional<std::vector<std::vector<double>>>& plane,
         bool overwrite) {
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
            return Eigen::Vector3d(
                (*plane)[k][0], (*plane)[k][1], (*plane)[k][2]);
          };
          options.manual_plane =
              Plane3d::FromPoints(point(0), point(1), point(2));
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
          alignment = AlignTrackFile(options, &file);
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
      },
      py::arg("input"),
      py::arg("output"),
      py::arg("camera_height_m") = 1.5,
      py::arg("no_scale") = false,
      py::arg("distance") = py::none(),
      py::arg("plane") = py::none(),
      py::arg("overwrite") = false,
      "Align a track file to the floor (z = 0, Z up, metres) from its "
      "stored points and write it to `output`.\n\n"
      "distance: (i, j, metres) between stored points i and j sets the "
      "scale; plane: three 3-D points [[x,y,z]]*3 of the track's world "
      "give the floor instead of detecting it. Returns a dict: aligned, "
      "method, scale_method, scale, warnings (+ inliers, confidence). "
      "When no floor is found the file keeps the tracker's world "
      "(aligned False, a warning).");
}

}  // namespace vanelia::python
