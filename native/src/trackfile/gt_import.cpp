#include "vanelia/trackfile/gt_import.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/trackfile/conventions.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "json_checker_impl.hpp"

namespace vanelia {
namespace {

using internal::Checker;
using internal::Index;
using Json = nlohmann::ordered_json;

TrackedFrame ReadGtFrame(const Checker& gt,
                         const Json& f,
                         const std::string& key,
                         const TrackFile& track) {
  TrackedFrame frame;
  frame.index = gt.Integer(gt.Member(f, key, "index"), key + ".index", 0);
  frame.timestamp_s =
      f.contains("time_s")
          ? gt.Number(f["time_s"], key + ".time_s")
          : static_cast<double>(frame.index) / track.fps.ToDouble();
  const Eigen::Matrix4d c2w =
      gt.Matrix(gt.Member(f, key, "c2w_blender"), key + ".c2w_blender", 4, 4);
  try {
    frame.cam_from_world = CamFromWorldFromBlenderC2w(c2w, 1e-4);
  } catch (const InputError& error) {
    gt.Fail(key, error.what());
  }
  const Eigen::Matrix3d k =
      gt.Matrix(gt.Member(f, key, "K_opencv"), key + ".K_opencv", 3, 3);
  if (!(k(0, 0) > 0.0 && k(1, 1) > 0.0) || k(0, 1) != 0.0 || k(1, 0) != 0.0 ||
      k(2, 0) != 0.0 || k(2, 1) != 0.0 || k(2, 2) != 1.0) {
    gt.Fail(key + ".K_opencv",
            "must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0");
  }
  frame.intrinsics = {
      k(0, 0), k(1, 1), k(0, 2), k(1, 2), track.width, track.height};
  frame.confidence = 1.0;
  return frame;
}

// Fills `source` from the gt.json's video (default: video.mp4 beside it).
void ReadGtSource(const Json& doc,
                  const std::string& gt_path,
                  int64_t num_frames,
                  TrackSource* source) {
  const std::filesystem::path video =
      std::filesystem::path(gt_path).parent_path() /
      (doc.contains("video") && doc["video"].is_string()
           ? doc["video"].get<std::string>()
           : std::string("video.mp4"));
  source->path = video.string();
  std::error_code ec;
  source->sha256 = std::filesystem::is_regular_file(video, ec)
                       ? Sha256OfFile(video.string())
                       : "";
  source->frame_count = num_frames;
}

// The manual ground plane of a gt.json, with its normal made unit length.
TrackGroundPlane ReadGtGroundPlane(const Checker& gt, const Json& p) {
  const Json& normal = gt.Member(p, "ground_plane", "normal");
  const Eigen::Vector3d n = gt.Vector3(normal, "ground_plane.normal");
  const double offset =
      gt.Number(gt.Member(p, "ground_plane", "offset"), "ground_plane.offset");
  if (!(n.norm() > 0.0)) gt.Fail("ground_plane.normal", "must be non-zero");
  TrackGroundPlane plane;
  plane.normal = n / n.norm();
  plane.offset = offset / n.norm();
  plane.method = GroundPlaneMethod::kManual;
  plane.inliers = 0;
  plane.rms = 0.0;
  plane.confidence = 1.0;
  return plane;
}

// The track file's normal points towards the cameras: flips `plane` if not.
void OrientTowardsCameras(const std::vector<TrackedFrame>& frames,
                          TrackGroundPlane* plane) {
  double side = 0.0;
  for (const TrackedFrame& f : frames) {
    side += plane->normal.dot(f.cam_from_world.Inverse().translation) +
            plane->offset;
  }
  if (side < 0.0) {
    plane->normal = -plane->normal;
    plane->offset = -plane->offset;
  }
}

}  // namespace

Rational RationalFromFps(double fps) {
  const double rounded = std::round(fps);
  if (std::abs(fps - rounded) < 1e-9 * fps) {
    return {static_cast<int64_t>(rounded), 1};
  }
  for (const int64_t base : {24, 30, 60, 120}) {
    const double ntsc = static_cast<double>(base) * 1000.0 / 1001.0;
    if (std::abs(fps - ntsc) < 1e-4) return {base * 1000, 1001};
  }
  return {static_cast<int64_t>(std::round(fps * 1000.0)), 1000};
}

TrackFile ImportGroundTruthString(const std::string& text,
                                  const std::string& gt_path) {
  const Checker gt("gt '" + gt_path + "'");
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::exception& error) {
    throw InputError("gt '" + gt_path +
                     "': not valid JSON: " + internal::JsonErrorText(error));
  }
  if (!doc.is_object()) gt.Fail("(document)", "must be a JSON object");
  const Json& format = gt.Member(doc, "", "format");
  // Version 1 only: a later version may mean something this reader cannot.
  if (!format.is_string() ||
      format.get<std::string>() != "vanelia-gt-track/1") {
    gt.Fail("format", "must be \"vanelia-gt-track/1\"");
  }
  TrackFile track;
  track.width =
      static_cast<int>(gt.Integer(gt.Member(doc, "", "width"), "width", 1));
  track.height =
      static_cast<int>(gt.Integer(gt.Member(doc, "", "height"), "height", 1));
  const double fps = gt.Number(gt.Member(doc, "", "fps"), "fps");
  if (!(fps > 0.0)) gt.Fail("fps", "must be > 0");
  track.fps = RationalFromFps(fps);
  track.tracker = {"ground-truth", format.get<std::string>(), {}};
  track.tracker.options = nlohmann::ordered_json::object();
  track.world = TrackWorld::kBlender;
  track.scale = {ScaleMethod::kNone, std::nullopt};
  const int64_t num_frames =
      gt.Integer(gt.Member(doc, "", "num_frames"), "num_frames", 1);
  ReadGtSource(doc, gt_path, num_frames, &track.source);
  if (doc.contains("ground_plane")) {
    track.ground_plane = ReadGtGroundPlane(gt, doc["ground_plane"]);
  }
  const Json& frames = gt.Member(doc, "", "frames");
  if (!frames.is_array() || frames.empty()) {
    gt.Fail("frames", "must be a non-empty array");
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    track.frames.push_back(
        ReadGtFrame(gt, frames[i], Index("frames", i), track));
  }
  std::sort(track.frames.begin(),
            track.frames.end(),
            [](const TrackedFrame& a, const TrackedFrame& b) {
              return a.index < b.index;
            });
  std::vector<double> focals;
  for (size_t i = 0; i < track.frames.size(); ++i) {
    if (i > 0 && track.frames[i].index == track.frames[i - 1].index) {
      gt.Fail(
          "frames",
          "index " + std::to_string(track.frames[i].index) + " appears twice");
    }
    focals.push_back(track.frames[i].intrinsics.fx);
  }
  std::nth_element(
      focals.begin(), focals.begin() + focals.size() / 2, focals.end());
  if (track.ground_plane) {
    OrientTowardsCameras(track.frames, &*track.ground_plane);
  }
  track.summary.registered = static_cast<int64_t>(track.frames.size());
  track.summary.total = std::max(num_frames, track.summary.registered);
  track.summary.focal_px = focals[focals.size() / 2];
  return track;
}

TrackFile ImportGroundTruth(const std::string& gt_path) {
  return ImportGroundTruthString(ReadFile(gt_path), gt_path);
}

}  // namespace vanelia
