#include "vanelia/trackfile/track_file.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/trackfile/conventions.hpp"

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>

#include "json_checker_impl.hpp"

namespace vanelia {
namespace {

using internal::Checker;
using internal::Index;
using Json = nlohmann::ordered_json;

// Tolerances of the reader (shared with core/track_file.py).
constexpr double kRotationTolerance = 1e-5;    // max |R^T R - I|
constexpr double kSimilarityTolerance = 1e-6;  // same, after removing scale
constexpr double kUnitTolerance = 1e-6;        // | |n| - 1 |
constexpr double kFpsTolerance = 1e-9;         // relative, fps_float

constexpr std::pair<const char*, TrackWorld> kWorlds[] = {
    {"blender", TrackWorld::kBlender}, {"track", TrackWorld::kTrack}};
constexpr std::pair<const char*, ScaleMethod> kScaleMethods[] = {
    {"camera_height", ScaleMethod::kCameraHeight},
    {"distance", ScaleMethod::kDistance},
    {"none", ScaleMethod::kNone}};
constexpr std::pair<const char*, GroundPlaneMethod> kPlaneMethods[] = {
    {"ransac", GroundPlaneMethod::kRansac},
    {"horizon", GroundPlaneMethod::kHorizon},
    {"manual", GroundPlaneMethod::kManual}};
constexpr std::pair<const char*, LensDistortion::Model> kLensModels[] = {
    {"pinhole", LensDistortion::Model::kPinhole},
    {"radial_k1k2", LensDistortion::Model::kRadialK1K2}};

// s R | t with a last row of [0, 0, 0, 1]; returns it as a Sim3d.
Sim3d CheckSimilarity(const Checker& check,
                      const Eigen::Matrix4d& m,
                      const std::string& key) {
  const std::string rule =
      "must be a similarity [[s R, t], [0, 0, 0, 1]] with s > 0";
  if (m.row(3) != Eigen::RowVector4d(0.0, 0.0, 0.0, 1.0)) check.Fail(key, rule);
  const Eigen::Matrix3d a = m.topLeftCorner<3, 3>();
  const double det = a.determinant();
  if (!(det > 0.0)) check.Fail(key, rule);
  const double s = std::cbrt(det);
  const Eigen::Matrix3d r = a / s;
  if ((r.transpose() * r - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff() >
      kSimilarityTolerance) {
    check.Fail(key, rule);
  }
  return Sim3d(s, Eigen::Quaterniond(ProjectToRotation(r)), m.col(3).head<3>());
}

void ValidateHeader(const Checker& check, const Json& doc) {
  const Json& format = check.Member(doc, "", "format");
  if (!format.is_string() || format.get<std::string>() != kTrackFileFormat) {
    check.Fail("format", "must be \"vanelia-track\"");
  }
  const Json& version = check.Member(doc, "", "version");
  if (!version.is_number_integer() || version.get<int64_t>() != 1) {
    check.Fail("version",
               "is " + version.dump() + "; this reader reads version 1");
  }
  const Json& source = check.Object(check.Member(doc, "", "source"), "source");
  check.String(check.Member(source, "source", "path"), "source.path");
  const std::string sha =
      check.String(check.Member(source, "source", "sha256"), "source.sha256");
  const bool hex =
      sha.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!(sha.empty() || (sha.size() == 64 && hex))) {
    check.Fail("source.sha256", "must be 64 lower-case hex digits or \"\"");
  }
  check.Integer(
      check.Member(source, "source", "frame_count"), "source.frame_count", 0);
  check.Integer(check.Member(doc, "", "width"), "width", 1);
  check.Integer(check.Member(doc, "", "height"), "height", 1);
  const Json& fps = check.Object(check.Member(doc, "", "fps"), "fps");
  const int64_t num =
      check.Integer(check.Member(fps, "fps", "num"), "fps.num", 1);
  const int64_t den =
      check.Integer(check.Member(fps, "fps", "den"), "fps.den", 1);
  const double fps_float =
      check.Number(check.Member(doc, "", "fps_float"), "fps_float");
  const double expected = static_cast<double>(num) / static_cast<double>(den);
  if (std::abs(fps_float - expected) > kFpsTolerance * expected) {
    check.Fail("fps_float", "must equal fps.num / fps.den");
  }
  const Json& tracker =
      check.Object(check.Member(doc, "", "tracker"), "tracker");
  if (check.String(check.Member(tracker, "tracker", "name"), "tracker.name")
          .empty()) {
    check.Fail("tracker.name", "must be a non-empty string");
  }
  check.String(check.Member(tracker, "tracker", "version"), "tracker.version");
  check.Object(check.Member(tracker, "tracker", "options"), "tracker.options");
}

void ValidateWorld(const Checker& check, const Json& doc) {
  const TrackWorld world =
      check.Choice(check.Member(doc, "", "world"), "world", kWorlds);
  const Eigen::Matrix4d m = check.Matrix(
      check.Member(doc, "", "blender_from_track"), "blender_from_track", 4, 4);
  CheckSimilarity(check, m, "blender_from_track");
  if (world == TrackWorld::kTrack && m != Eigen::Matrix4d::Identity()) {
    check.Fail("blender_from_track",
               "must be the identity when world is \"track\"");
  }
  const Json& scale = check.Object(check.Member(doc, "", "scale"), "scale");
  check.Choice(
      check.Member(scale, "scale", "method"), "scale.method", kScaleMethods);
  check.NumberOrNull(
      check.Member(scale, "scale", "value_m"), "scale.value_m", true);
  if (doc.contains("ground_plane")) {
    const Json& plane = check.Object(doc["ground_plane"], "ground_plane");
    const Eigen::Vector3d n = check.Vector3(
        check.Member(plane, "ground_plane", "normal"), "ground_plane.normal");
    if (std::abs(n.norm() - 1.0) > kUnitTolerance) {
      check.Fail("ground_plane.normal", "must have unit length");
    }
    check.Number(check.Member(plane, "ground_plane", "offset"),
                 "ground_plane.offset");
    check.Choice(check.Member(plane, "ground_plane", "method"),
                 "ground_plane.method",
                 kPlaneMethods);
    check.Integer(check.Member(plane, "ground_plane", "inliers"),
                  "ground_plane.inliers",
                  0);
    check.NumberOrNull(
        check.Member(plane, "ground_plane", "rms"), "ground_plane.rms", false);
    check.Unit(check.Member(plane, "ground_plane", "confidence"),
               "ground_plane.confidence");
  }
  const Json& lens = check.Object(check.Member(doc, "", "lens"), "lens");
  const auto model = check.Choice(
      check.Member(lens, "lens", "model"), "lens.model", kLensModels);
  for (const char* k : {"k1", "k2"}) {
    const std::string key = std::string("lens.") + k;
    const double value = check.Number(check.Member(lens, "lens", k), key);
    if (model == LensDistortion::Model::kPinhole && value != 0.0) {
      check.Fail(key, "must be 0 when lens.model is \"pinhole\"");
    }
  }
}

void ValidateFrame(const Checker& check,
                   const Json& frame,
                   const std::string& key,
                   int64_t frame_count) {
  check.Object(frame, key);
  const int64_t index =
      check.Integer(check.Member(frame, key, "index"), key + ".index", 0);
  if (frame_count > 0 && index >= frame_count) {
    check.Fail(
        key + ".index",
        "must be < source.frame_count (" + std::to_string(frame_count) + ")");
  }
  const double t = check.Number(check.Member(frame, key, "timestamp_s"),
                                key + ".timestamp_s");
  if (!(t >= 0.0)) check.Fail(key + ".timestamp_s", "must be >= 0");
  const std::string c2w_key = key + ".c2w_blender";
  const Eigen::Matrix4d c2w =
      check.Matrix(check.Member(frame, key, "c2w_blender"), c2w_key, 4, 4);
  if (c2w.row(3) != Eigen::RowVector4d(0.0, 0.0, 0.0, 1.0)) {
    check.Fail(c2w_key, "last row must be [0, 0, 0, 1]");
  }
  const Eigen::Matrix3d r = c2w.topLeftCorner<3, 3>();
  if ((r.transpose() * r - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff() >
          kRotationTolerance ||
      !(r.determinant() > 0.0)) {
    check.Fail(
        c2w_key,
        "rotation block must be a rotation (orthonormal, det +1, no scale)");
  }
  const std::string k_key = key + ".K";
  const Eigen::Matrix3d k =
      check.Matrix(check.Member(frame, key, "K"), k_key, 3, 3);
  if (!(k(0, 0) > 0.0 && k(1, 1) > 0.0) || k(0, 1) != 0.0 || k(1, 0) != 0.0 ||
      k(2, 0) != 0.0 || k(2, 1) != 0.0 || k(2, 2) != 1.0) {
    check.Fail(k_key,
               "must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0");
  }
  const double focal =
      check.Number(check.Member(frame, key, "focal_px"), key + ".focal_px");
  if (focal != k(0, 0)) check.Fail(key + ".focal_px", "must equal K[0][0]");
  check.Unit(check.Member(frame, key, "confidence"), key + ".confidence");
  check.NumberOrNull(
      check.Member(frame, key, "reproj_err_px"), key + ".reproj_err_px", false);
}

void ValidateFrames(const Checker& check, const Json& doc) {
  const Json& frames = check.Member(doc, "", "frames");
  if (!frames.is_array()) check.Fail("frames", "must be an array");
  if (frames.empty()) check.Fail("frames", "must hold at least one frame");
  const int64_t frame_count = doc["source"]["frame_count"].get<int64_t>();
  for (size_t i = 0; i < frames.size(); ++i) {
    const std::string key = Index("frames", i);
    ValidateFrame(check, frames[i], key, frame_count);
    if (i > 0 && frames[i]["index"].get<int64_t>() <=
                     frames[i - 1]["index"].get<int64_t>()) {
      check.Fail(key + ".index",
                 "must be greater than the previous frame's (ascending, no "
                 "duplicates)");
    }
  }
  const Json& summary =
      check.Object(check.Member(doc, "", "summary"), "summary");
  const int64_t registered = check.Integer(
      check.Member(summary, "summary", "registered"), "summary.registered", 0);
  if (registered != static_cast<int64_t>(frames.size())) {
    check.Fail("summary.registered",
               "must equal the number of frames (" +
                   std::to_string(frames.size()) + ")");
  }
  check.Integer(
      check.Member(summary, "summary", "total"), "summary.total", registered);
  check.NumberOrNull(check.Member(summary, "summary", "reproj_err_px"),
                     "summary.reproj_err_px",
                     false);
  check.NumberOrNull(
      check.Member(summary, "summary", "focal_px"), "summary.focal_px", true);
  const Json& warnings = check.Member(summary, "summary", "warnings");
  if (!warnings.is_array()) {
    check.Fail("summary.warnings", "must be an array of strings");
  }
  for (size_t i = 0; i < warnings.size(); ++i) {
    check.String(warnings[i], Index("summary.warnings", i));
  }
}

void ValidatePoints(const Checker& check, const Json& doc) {
  if (!doc.contains("points")) return;
  const Json& points = check.Object(doc["points"], "points");
  const Json& xyz = check.Member(points, "points", "xyz");
  if (!xyz.is_array() ||
      static_cast<int64_t>(xyz.size()) > kTrackFileMaxPoints) {
    check.Fail("points.xyz", "must be an array of at most 100000 [x, y, z]");
  }
  const Json& rgb = check.Member(points, "points", "rgb");
  const Json& confidence = check.Member(points, "points", "confidence");
  for (const auto& [key, array] :
       {std::pair<const char*, const Json*>{"points.rgb", &rgb},
        {"points.confidence", &confidence}}) {
    if (!array->is_array() || array->size() != xyz.size()) {
      check.Fail(key, "must be an array as long as points.xyz");
    }
  }
  for (size_t i = 0; i < xyz.size(); ++i) {
    check.Vector3(xyz[i], Index("points.xyz", i));
    const Json& c = rgb[i];
    bool ok = c.is_array() && c.size() == 3;
    for (size_t j = 0; ok && j < 3; ++j) {
      ok = c[j].is_number_integer() && c[j].get<int64_t>() >= 0 &&
           c[j].get<int64_t>() <= 255;
    }
    if (!ok)
      check.Fail(Index("points.rgb", i), "must be 3 integers in [0, 255]");
    check.Unit(confidence[i], Index("points.confidence", i));
  }
}

void ValidateDepth(const Checker& check, const Json& doc) {
  if (!doc.contains("depth")) return;
  const Json& depth = check.Object(doc["depth"], "depth");
  if (check.String(check.Member(depth, "depth", "path"), "depth.path")
          .empty()) {
    check.Fail("depth.path", "must be a non-empty string");
  }
  const Json& format = check.Member(depth, "depth", "format");
  if (!format.is_string() || format.get<std::string>() != kDepthSidecarFormat) {
    check.Fail("depth.format", "must be \"npy\"");
  }
  check.Integer(check.Member(depth, "depth", "width"), "depth.width", 1);
  check.Integer(check.Member(depth, "depth", "height"), "depth.height", 1);
  const int64_t count =
      check.Integer(check.Member(depth, "depth", "count"), "depth.count", 1);
  if (count > static_cast<int64_t>(doc["frames"].size())) {
    check.Fail("depth.count", "must be <= the number of frames");
  }
}

Eigen::Matrix4d Matrix4(const Json& value) {
  Eigen::Matrix4d m;
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) m(r, c) = value[r][c].get<double>();
  }
  return m;
}

std::optional<double> OptionalNumber(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<double>();
}

}  // namespace

const char* ToString(TrackWorld world) {
  return world == TrackWorld::kBlender ? "blender" : "track";
}

const char* ToString(ScaleMethod method) {
  switch (method) {
    case ScaleMethod::kCameraHeight:
      return "camera_height";
    case ScaleMethod::kDistance:
      return "distance";
    case ScaleMethod::kNone:
      break;
  }
  return "none";
}

const char* ToString(GroundPlaneMethod method) {
  switch (method) {
    case GroundPlaneMethod::kRansac:
      return "ransac";
    case GroundPlaneMethod::kHorizon:
      return "horizon";
    case GroundPlaneMethod::kManual:
      break;
  }
  return "manual";
}

const char* ToString(LensDistortion::Model model) {
  return model == LensDistortion::Model::kPinhole ? "pinhole" : "radial_k1k2";
}

void ValidateTrackFileJson(const Json& document, const std::string& name) {
  const Checker check("track '" + name + "'");
  if (!document.is_object()) check.Fail("", "must be a JSON object");
  ValidateHeader(check, document);
  ValidateWorld(check, document);
  ValidateFrames(check, document);
  ValidatePoints(check, document);
  ValidateDepth(check, document);
}

Json ParseTrackFileJson(const std::string& text, const std::string& name) {
  Json document;
  try {
    document = Json::parse(text);
  } catch (const Json::exception& error) {
    // parse_error, and out_of_range for a number JSON cannot hold (1e999).
    throw InputError("track '" + name +
                     "': not valid JSON: " + internal::JsonErrorText(error));
  }
  ValidateTrackFileJson(document, name);
  return document;
}

Json ReadTrackFileJson(const std::string& path) {
  return ParseTrackFileJson(ReadFile(path), path);
}

namespace {

// The typed ground plane of a validated document's "ground_plane".
TrackGroundPlane GroundPlaneFromJson(const Checker& check, const Json& p) {
  TrackGroundPlane plane;
  plane.normal = {p["normal"][0].get<double>(),
                  p["normal"][1].get<double>(),
                  p["normal"][2].get<double>()};
  plane.offset = p["offset"].get<double>();
  plane.method =
      check.Choice(p["method"], "ground_plane.method", kPlaneMethods);
  plane.inliers = p["inliers"].get<int64_t>();
  plane.rms = OptionalNumber(p["rms"]);
  plane.confidence = p["confidence"].get<double>();
  return plane;
}

// The typed frame of a validated frame entry, for a width x height track.
TrackedFrame FrameFromJson(const Json& f, int width, int height) {
  TrackedFrame frame;
  frame.index = f["index"].get<int64_t>();
  frame.timestamp_s = f["timestamp_s"].get<double>();
  frame.cam_from_world =
      CamFromWorldFromBlenderC2w(Matrix4(f["c2w_blender"]), kRotationTolerance);
  const Json& k = f["K"];
  frame.intrinsics.fx = k[0][0].get<double>();
  frame.intrinsics.fy = k[1][1].get<double>();
  frame.intrinsics.cx = k[0][2].get<double>();
  frame.intrinsics.cy = k[1][2].get<double>();
  frame.intrinsics.width = width;
  frame.intrinsics.height = height;
  frame.confidence = f["confidence"].get<double>();
  frame.reproj_err_px = OptionalNumber(f["reproj_err_px"]);
  return frame;
}

// The point cloud of a validated document's "points".
PointCloud PointsFromJson(const Json& p) {
  const auto n = static_cast<Eigen::Index>(p["xyz"].size());
  PointCloud cloud;
  cloud.xyz.resize(3, n);
  cloud.rgb.resize(3, n);
  cloud.confidence.resize(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int j = 0; j < 3; ++j) {
      cloud.xyz(j, i) = static_cast<float>(p["xyz"][i][j].get<double>());
      cloud.rgb(j, i) = static_cast<uint8_t>(p["rgb"][i][j].get<int>());
    }
    cloud.confidence(i) = static_cast<float>(p["confidence"][i].get<double>());
  }
  return cloud;
}

// The typed value of a validated document.
TrackFile Convert(const Json& doc, const std::string& name) {
  const Checker check("track '" + name + "'");
  TrackFile track;
  track.source.path = doc["source"]["path"].get<std::string>();
  track.source.sha256 = doc["source"]["sha256"].get<std::string>();
  track.source.frame_count = doc["source"]["frame_count"].get<int64_t>();
  track.width = doc["width"].get<int>();
  track.height = doc["height"].get<int>();
  track.fps = {doc["fps"]["num"].get<int64_t>(),
               doc["fps"]["den"].get<int64_t>()};
  track.tracker.name = doc["tracker"]["name"].get<std::string>();
  track.tracker.version = doc["tracker"]["version"].get<std::string>();
  track.tracker.options = doc["tracker"]["options"];
  track.world = check.Choice(doc["world"], "world", kWorlds);
  track.blender_from_track = CheckSimilarity(
      check, Matrix4(doc["blender_from_track"]), "blender_from_track");
  track.scale.method =
      check.Choice(doc["scale"]["method"], "scale.method", kScaleMethods);
  track.scale.value_m = OptionalNumber(doc["scale"]["value_m"]);
  if (doc.contains("ground_plane")) {
    track.ground_plane = GroundPlaneFromJson(check, doc["ground_plane"]);
  }
  track.lens.model =
      check.Choice(doc["lens"]["model"], "lens.model", kLensModels);
  track.lens.k1 = doc["lens"]["k1"].get<double>();
  track.lens.k2 = doc["lens"]["k2"].get<double>();
  for (const Json& f : doc["frames"]) {
    track.frames.push_back(FrameFromJson(f, track.width, track.height));
  }
  const Json& s = doc["summary"];
  track.summary.registered = s["registered"].get<int64_t>();
  track.summary.total = s["total"].get<int64_t>();
  track.summary.reproj_err_px = OptionalNumber(s["reproj_err_px"]);
  track.summary.focal_px = OptionalNumber(s["focal_px"]);
  for (const Json& w : s["warnings"]) {
    track.summary.warnings.push_back(w.get<std::string>());
  }
  if (doc.contains("points")) track.points = PointsFromJson(doc["points"]);
  if (doc.contains("depth")) {
    const Json& d = doc["depth"];
    TrackDepth depth;
    depth.path = d["path"].get<std::string>();
    depth.width = d["width"].get<int>();
    depth.height = d["height"].get<int>();
    depth.count = d["count"].get<int64_t>();
    track.depth = depth;
  }
  return track;
}

}  // namespace

TrackFile TrackFileFromJson(const Json& doc, const std::string& name) {
  ValidateTrackFileJson(doc, name);
  return Convert(doc, name);
}

TrackFile ReadTrackFileString(const std::string& text,
                              const std::string& name) {
  return Convert(ParseTrackFileJson(text, name), name);
}

TrackFile ReadTrackFile(const std::string& path) {
  TrackFile track = ReadTrackFileString(ReadFile(path), path);
  if (track.depth) {
    const std::filesystem::path p(track.depth->path);
    track.depth->folder =
        (p.is_absolute() ? p
                         : std::filesystem::absolute(path).parent_path() / p)
            .lexically_normal()
            .string();
  }
  return track;
}

}  // namespace vanelia
