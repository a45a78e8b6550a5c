// Bindings of the track module: the track file (as the validated JSON
// document, a dict with the numbers exactly as in the file), the camera
// convention, and the gt.json / COLMAP importers.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/track/colmap_import.hpp"
#include "vanelia/track/conventions.hpp"
#include "vanelia/track/gt_import.hpp"
#include "vanelia/track/track_file.hpp"
#include "vanelia/track/tracker_factory.hpp"

#if defined(VANELIA_BIND_VIDEO) && (defined(VANELIA_HAVE_CLASSICAL_TRACKER) || \
                                    defined(VANELIA_HAVE_MUST3R_TRACKER))
#include "vanelia/video/video_reader.hpp"
#define VANELIA_BIND_TRACK_VIDEO
#endif

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace

#ifdef VANELIA_BIND_TRACK_VIDEO
namespace {

// `track_video`: decodes and tracks with the GIL released (loading network
// weights included); the progress callback (WrapProgress) can cancel.
Json TrackVideo(const std::string& path,
                const std::string& output,
                const ReadOptions& read,
                const TrackerChoice& choice,
                bool overwrite,
                const ProgressCallback& callback) {
  if (!output.empty()) CheckCanWrite(output, overwrite, "track");
  auto reader = VideoReader::Open(path, read);
  const std::unique_ptr<Tracker> tracker = MakeTracker(choice);
  FrameFeedInfo info;
  info.width = reader->OutputWidth();
  info.height = reader->OutputHeight();
  info.expected_frames = static_cast<int64_t>(reader->SelectedIndices().size());
  info.fps = reader->Info().fps;
  const TrackResult result = tracker->Track(
      [&reader](Frame* frame) { return reader->Next(frame); }, info, callback);
  TrackSource source;
  source.path = path;
  source.sha256 = SourceContentSha256(path);
  source.frame_count = reader->Info().frame_count;
  TrackerInfo tracker_info;
  tracker_info.name = tracker->Name();
  tracker_info.version = VANELIA_VERSION;
  tracker_info.options =
      TrackerOptionsJson(choice, read.start, read.end, read.every);
  const TrackFile file = ToTrackFile(result, source, tracker_info);
  if (!output.empty()) WriteTrackFile(output, file, overwrite);
  return TrackFileToJson(file);
}

void BindTrackVideo(py::module_& m) {
  const Must3rTrackerOptions defaults;
  m.def(
      "track_video",
      [](const std::string& path,
         const std::string& output,
         int64_t start,
         int64_t end,
         int64_t every,
         std::optional<double> focal_px,
         const std::string& lens,
         bool per_frame_focal,
         bool overwrite,
         const py::object& progress,
         const std::string& tracker,
         const std::string& weights,
         int image_size,
         const std::string& device,
         const std::string& dtype,
         std::optional<int> local_context,
         int max_keyframes,
         int keyframe_every,
         int init_frames,
         int batch_frames,
         const std::string& keyframe_rule,
         double overlap_threshold,
         double overlap_percentile,
         int overlap_subsample,
         double overlap_min_conf) {
        TrackerChoice choice;
        choice.name = tracker;
        choice.common.lens = LensModeFromName(lens, "lens");
        choice.common.focal_px = focal_px;
        choice.common.per_frame_focal = per_frame_focal;
        Must3rTrackerOptions& net = choice.must3r;
        net.weights = weights;
        net.image_size = image_size;
        net.device = device;
        net.dtype = dtype;
        net.keyframe_rule = keyframe_rule;
        // As the CLI: upstream's SLAM mode (rule overlap) has no working
        // window unless one is asked for.
        net.local_context = local_context.has_value()
                                ? *local_context
                                : (keyframe_rule == "overlap" ? 0 : 25);
        net.max_keyframes = max_keyframes;
        net.keyframe_every = keyframe_every;
        net.overlap_threshold = overlap_threshold;
        net.overlap_percentile = overlap_percentile;
        net.overlap_subsample = overlap_subsample;
        net.overlap_min_conf = overlap_min_conf;
        net.init_frames = init_frames;
        net.batch_frames = batch_frames;
        ReadOptions read;
        read.start = start;
        read.end = end;
        read.every = every;
        const ProgressCallback callback = WrapProgress(progress);
        Json doc;
        {
          py::gil_scoped_release release;
          doc = TrackVideo(path, output, read, choice, overwrite, callback);
        }
        return JsonToPython(doc);
      },
      py::arg("path"),
      py::arg("output") = "",
      py::arg("start") = 0,
      py::arg("end") = -1,
      py::arg("every") = 1,
      py::arg("focal_px") = py::none(),
      py::arg("lens") = "auto",
      py::arg("per_frame_focal") = false,
      py::arg("overwrite") = false,
      py::arg("progress") = py::none(),
      py::arg("tracker") = "classical",
      py::arg("weights") = "",
      py::arg("image_size") = defaults.image_size,
      py::arg("device") = defaults.device,
      py::arg("dtype") = defaults.dtype,
      py::arg("local_context") = py::none(),
      py::arg("max_keyframes") = defaults.max_keyframes,
      py::arg("keyframe_every") = defaults.keyframe_every,
      py::arg("init_frames") = defaults.init_frames,
      py::arg("batch_frames") = defaults.batch_frames,
      py::arg("keyframe_rule") = defaults.keyframe_rule,
      py::arg("overlap_threshold") = defaults.overlap_threshold,
      py::arg("overlap_percentile") = defaults.overlap_percentile,
      py::arg("overlap_subsample") = defaults.overlap_subsample,
      py::arg("overlap_min_conf") = defaults.overlap_min_conf,
      "Tracks the camera of a video (GIL released), as `vanelia track`: "
      "`tracker` is one of TRACKERS ('classical'; 'must3r' needs `weights`, "
      "a MUSt3R checkpoint, with `image_size` 512, 224 or 0 = the weights' "
      "own, `device` auto/cpu/cuda, `dtype` fp32/bf16/fp16 and the video-mode "
      "options; `keyframe_rule` 'every' (every `keyframe_every`-th frame) or "
      "'overlap' (upstream's SLAM mode, with the overlap_* options); "
      "`local_context` None = 25, or 0 with the overlap rule, as the CLI). "
      "Returns the track document (a dict, world \"track\"); "
      "writes it to `output` when given. `progress(p)` is called with a "
      "Progress; returning False (or Ctrl-C) raises Cancelled. Unusable "
      "weights raise ModelError, bad options InputError.");
}

}  // namespace
#endif

void BindTrack(py::module_& m) {
#ifdef VANELIA_BIND_TRACK_VIDEO
  BindTrackVideo(m);
  m.attr("TRACKERS") = py::tuple(py::cast(AvailableTrackers()));
#else
  m.attr("TRACKERS") = py::tuple();
#endif
  m.def(
      "cuda_available",
      []() {
        py::gil_scoped_release release;
        return CudaAvailable();
      },
      "True when a CUDA GPU can run the networks (device 'cuda'; 'auto' "
      "picks it). False in a build without them.");
  m.attr("TRACK_FILE_FORMAT") = kTrackFileFormat;
  m.attr("TRACK_FILE_VERSION") = kTrackFileVersion;
  m.attr("TRACK_FILE_MAX_POINTS") = kTrackFileMaxPoints;

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

}  // namespace vanelia::python
