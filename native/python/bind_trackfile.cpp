// Bindings of the trackfile module: the track file (as the validated JSON
// document, a dict with the numbers exactly as in the file), the camera
// convention, and the gt.json / COLMAP importers.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/geometry/rotation.hpp"
#include "vanelia/trackfile/colmap_import.hpp"
#include "vanelia/trackfile/conventions.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <string>
#include <utility>

#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {
namespace {

using Json = nlohmann::ordered_json;

Rigid3d PoseFrom(const Eigen::Matrix3d& rotation,
                 const Eigen::Vector3d& translation) {
  return Rigid3d(Eigen::Quaterniond(ProjectToRotation(rotation)), translation);
}

// The track file I/O: read, validate, format, write and normalise documents.
void BindTrackFileIo(py::module_& m) {
  m.def(
      "read_track_file",
      [](const std::string& path) {
        Json doc;
        {
          py::gil_scoped_release release;
          doc = ReadTrackFileJson(path);
        }
        return JsonToPython(doc);
      },
      py::arg("path"),
      "Reads and validates a track file (C++ reader); returns the document as "
      "a dict, "
      "numbers exactly as in the file. Raises InputError naming the key and "
      "the rule.");
  m.def(
      "read_track_file_string",
      [](const std::string& text, const std::string& name) {
        return JsonToPython(ParseTrackFileJson(text, name));
      },
      py::arg("text"),
      py::arg("name") = "<string>",
      "Parses and validates the text of a track file; returns the document.");
  m.def(
      "validate_track",
      [](const py::object& doc, const std::string& name) {
        ValidateTrackFileJson(JsonFromPython(doc), name);
      },
      py::arg("doc"),
      py::arg("name") = "<document>",
      "Raises InputError unless `doc` (a dict) is a valid version-1 track.");
  m.def(
      "format_track",
      [](const py::object& doc) {
        const Json j = JsonFromPython(doc);
        ValidateTrackFileJson(j, "<track being written>");
        return FormatTrackFileJson(j);
      },
      py::arg("doc"),
      "The text the C++ writer writes for a track document (validated first).");
  m.def(
      "write_track_file",
      [](const std::string& path, const py::object& doc, bool overwrite) {
        const Json j = JsonFromPython(doc);
        py::gil_scoped_release release;
        CheckCanWrite(path, overwrite, "track");
        ValidateTrackFileJson(j, path);
        WriteFileAtomic(path, FormatTrackFileJson(j), overwrite);
      },
      py::arg("path"),
      py::arg("doc"),
      py::arg("overwrite") = false,
      "Writes a track document atomically; never replaces a file unless "
      "overwrite.");
  m.def(
      "normalize_track",
      [](const py::object& doc) {
        return JsonToPython(TrackFileToJson(
            TrackFileFromJson(JsonFromPython(doc), "<document>")));
      },
      py::arg("doc"),
      "The document after a pass through the typed C++ TrackFile (poses "
      "re-derived "
      "through the one convention).");
}

// The importers: gt.json and COLMAP sparse models to track documents.
void BindImporters(py::module_& m) {
  m.def(
      "import_ground_truth",
      [](const std::string& gt_path) {
        Json doc;
        {
          py::gil_scoped_release release;
          doc = TrackFileToJson(ImportGroundTruth(gt_path));
        }
        return JsonToPython(doc);
      },
      py::arg("gt_path"),
      "Converts a gt.json (footage/README.md) into a track document (world "
      "'blender').");
  m.def(
      "import_colmap",
      [](const std::string& model_dir,
         int64_t fps_num,
         int64_t fps_den,
         int64_t first_number,
         const std::string& video_path,
         int64_t frame_count,
         int64_t max_points) {
        ColmapImportOptions options;
        options.fps = {fps_num, fps_den};
        options.first_number = first_number;
        options.video_path = video_path;
        options.frame_count = frame_count;
        options.max_points = max_points;
        Json doc;
        {
          py::gil_scoped_release release;
          doc = TrackFileToJson(ImportColmapModel(model_dir, options));
        }
        return JsonToPython(doc);
      },
      py::arg("model_dir"),
      py::arg("fps_num") = 24,
      py::arg("fps_den") = 1,
      py::arg("first_number") = 0,
      py::arg("video_path") = "",
      py::arg("frame_count") = 0,
      py::arg("max_points") = kTrackFileMaxPoints,
      "Converts a COLMAP sparse model (text or binary) into a track document "
      "(world 'track', with its points and radial distortion).");
}

// The camera convention (OpenCV <-> Blender) and projection through a track.
void BindConventions(py::module_& m) {
  m.def(
      "blender_c2w_from_cam_from_world",
      [](const Eigen::Matrix3d& rotation, const Eigen::Vector3d& translation) {
        return BlenderC2wFromCamFromWorld(PoseFrom(rotation, translation));
      },
      py::arg("rotation"),
      py::arg("translation"),
      "Blender camera-to-world 4x4 of cam_from_world (OpenCV camera: R, t).");
  m.def(
      "cam_from_world_from_blender_c2w",
      [](const Eigen::Matrix4d& c2w) {
        const Rigid3d pose = CamFromWorldFromBlenderC2w(c2w);
        return std::make_pair(Eigen::Matrix3d(pose.rotation.toRotationMatrix()),
                              Eigen::Vector3d(pose.translation));
      },
      py::arg("c2w_blender"),
      "(R, t) of cam_from_world (OpenCV camera) from a Blender camera-to-world "
      "4x4.");
  m.def(
      "project_track_points",
      [](const std::string& path,
         int64_t index,
         const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>&
             points) {
        const TrackFile track = ReadTrackFile(path);
        for (const TrackedFrame& frame : track.frames) {
          if (frame.index != index) continue;
          Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor> pixels(
              points.rows(), 2);
          for (Eigen::Index i = 0; i < points.rows(); ++i) {
            const Eigen::Vector3d x_in_cam =
                frame.cam_from_world *
                Eigen::Vector3d(points.row(i).transpose());
            pixels.row(i) = frame.intrinsics.Project(x_in_cam).transpose();
          }
          return pixels;
        }
        throw InputError("track '" + path + "': no frame with index " +
                         std::to_string(index));
      },
      py::arg("path"),
      py::arg("index"),
      py::arg("points"),
      "Pixels (OpenCV, pixel centres at integers) of world points [N,3] in "
      "frame "
      "`index` of a track file, through the C++ reader's K and "
      "cam_from_world.");
}

}  // namespace

void BindTrackfile(py::module_& m) {
  m.attr("TRACK_FILE_FORMAT") = kTrackFileFormat;
  m.attr("TRACK_FILE_VERSION") = kTrackFileVersion;
  m.attr("TRACK_FILE_MAX_POINTS") = kTrackFileMaxPoints;

  BindTrackFileIo(m);
  BindImporters(m);
  BindConventions(m);
}

}  // namespace vanelia::python
