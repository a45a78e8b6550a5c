// The writer of the track file (format vanelia-track v1): the typed
// TrackFile as the JSON document, and the document's text layout.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/trackfile/conventions.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "json_checker_impl.hpp"

namespace vanelia {
namespace {

using internal::Index;
using Json = nlohmann::ordered_json;

Json OptionalJson(const std::optional<double>& value) {
  return value ? Json(*value) : Json(nullptr);
}

template <typename Derived>
Json Rows(const Eigen::MatrixBase<Derived>& m) {
  Json rows = Json::array();
  for (int r = 0; r < m.rows(); ++r) {
    Json row = Json::array();
    for (int c = 0; c < m.cols(); ++c)
      row.push_back(static_cast<double>(m(r, c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

void FormatValue(const Json& value, int indent, std::string* out) {
  const std::string pad(indent + 2, ' ');
  const auto dump = [](const Json& v) {
    return v.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  if (value.is_object() && !value.empty()) {
    *out += "{\n";
    size_t i = 0;
    for (const auto& [key, item] : value.items()) {
      *out += pad + dump(Json(key)) + ": ";
      FormatValue(item, indent + 2, out);
      *out += (++i < value.size() ? ",\n" : "\n");
    }
    *out += std::string(indent, ' ') + "}";
    return;
  }
  if (value.is_array() && !value.empty()) {
    bool flat = true;
    for (const Json& item : value) flat = flat && item.is_primitive();
    if (flat) {
      *out += "[";
      for (size_t i = 0; i < value.size(); ++i) {
        *out += (i ? ", " : "") + dump(value[i]);
      }
      *out += "]";
      return;
    }
    *out += "[\n";
    for (size_t i = 0; i < value.size(); ++i) {
      *out += pad;
      FormatValue(value[i], indent + 2, out);
      *out += (i + 1 < value.size() ? ",\n" : "\n");
    }
    *out += std::string(indent, ' ') + "]";
    return;
  }
  *out += dump(value);
}

Json FramesToJson(const TrackFile& track) {
  Json frames = Json::array();
  for (size_t i = 0; i < track.frames.size(); ++i) {
    const TrackedFrame& f = track.frames[i];
    const Intrinsics& k = f.intrinsics;
    if ((k.width != 0 || k.height != 0) &&
        (k.width != track.width || k.height != track.height)) {
      throw InputError(
          "track: " + Index("frames", i) + ".intrinsics: refer to " +
          std::to_string(k.width) + "x" + std::to_string(k.height) +
          "; must refer to the track's " + std::to_string(track.width) + "x" +
          std::to_string(track.height));
    }
    Json frame;
    frame["index"] = f.index;
    frame["timestamp_s"] = f.timestamp_s;
    frame["c2w_blender"] = Rows(BlenderC2wFromCamFromWorld(f.cam_from_world));
    frame["focal_px"] = k.fx;
    frame["K"] = Rows(k.K());
    frame["confidence"] = f.confidence;
    frame["reproj_err_px"] = OptionalJson(f.reproj_err_px);
    frames.push_back(std::move(frame));
  }
  return frames;
}

Json PointsToJson(const PointCloud& cloud) {
  const Eigen::Index n = cloud.Size();
  if (cloud.rgb.cols() != n || cloud.confidence.size() != n) {
    throw InputError("track: points: xyz has " + std::to_string(n) +
                     " points, rgb " + std::to_string(cloud.rgb.cols()) +
                     ", confidence " + std::to_string(cloud.confidence.size()) +
                     "; must be equal");
  }
  Json xyz = Json::array();
  Json rgb = Json::array();
  Json confidence = Json::array();
  for (Eigen::Index i = 0; i < n; ++i) {
    xyz.push_back({static_cast<double>(cloud.xyz(0, i)),
                   static_cast<double>(cloud.xyz(1, i)),
                   static_cast<double>(cloud.xyz(2, i))});
    rgb.push_back(
        {int{cloud.rgb(0, i)}, int{cloud.rgb(1, i)}, int{cloud.rgb(2, i)}});
    confidence.push_back(static_cast<double>(cloud.confidence(i)));
  }
  Json points;
  points["xyz"] = std::move(xyz);
  points["rgb"] = std::move(rgb);
  points["confidence"] = std::move(confidence);
  return points;
}

Json ToJsonUnchecked(const TrackFile& track) {
  Json doc;
  doc["format"] = kTrackFileFormat;
  doc["version"] = kTrackFileVersion;
  doc["source"] = {{"path", track.source.path},
                   {"sha256", track.source.sha256},
                   {"frame_count", track.source.frame_count}};
  doc["width"] = track.width;
  doc["height"] = track.height;
  doc["fps"] = {{"num", track.fps.num}, {"den", track.fps.den}};
  doc["fps_float"] = track.FpsFloat();
  doc["tracker"] = {{"name", track.tracker.name},
                    {"version", track.tracker.version},
                    {"options", track.tracker.options}};
  doc["world"] = ToString(track.world);
  doc["blender_from_track"] = Rows(track.blender_from_track.ToMatrix4());
  doc["scale"] = {{"method", ToString(track.scale.method)},
                  {"value_m", OptionalJson(track.scale.value_m)}};
  if (track.ground_plane) {
    const TrackGroundPlane& p = *track.ground_plane;
    doc["ground_plane"] = {
        {"normal", {p.normal.x(), p.normal.y(), p.normal.z()}},
        {"offset", p.offset},
        {"method", ToString(p.method)},
        {"inliers", p.inliers},
        {"rms", OptionalJson(p.rms)},
        {"confidence", p.confidence}};
  }
  doc["lens"] = {{"model", ToString(track.lens.model)},
                 {"k1", track.lens.k1},
                 {"k2", track.lens.k2}};
  doc["frames"] = FramesToJson(track);
  Json warnings = Json::array();
  for (const std::string& w : track.summary.warnings) warnings.push_back(w);
  doc["summary"] = {
      {"registered", track.summary.registered},
      {"total", track.summary.total},
      {"reproj_err_px", OptionalJson(track.summary.reproj_err_px)},
      {"focal_px", OptionalJson(track.summary.focal_px)},
      {"warnings", std::move(warnings)}};
  if (track.points) doc["points"] = PointsToJson(*track.points);
  if (track.depth) {
    doc["depth"] = {{"path", track.depth->path},
                    {"format", kDepthSidecarFormat},
                    {"width", track.depth->width},
                    {"height", track.depth->height},
                    {"count", track.depth->count}};
  }
  return doc;
}

}  // namespace

Json TrackFileToJson(const TrackFile& track) {
  Json doc = ToJsonUnchecked(track);
  ValidateTrackFileJson(doc, "<track being written>");
  return doc;
}

std::string FormatTrackFileJson(const Json& document) {
  std::string out;
  FormatValue(document, 0, &out);
  out += "\n";
  return out;
}

std::string WriteTrackFileString(const TrackFile& track) {
  return FormatTrackFileJson(TrackFileToJson(track));
}

// `track` with its depth named for a file at `path`: in-memory maps get
// the sidecar folder next to it (written here); a sidecar read from
// another file is named relative to path's folder when it lies there, else
// by its absolute path.
TrackFile WithDepthFor(const std::string& path, const TrackFile& track) {
  namespace fs = std::filesystem;
  TrackFile out = track;
  const fs::path parent = fs::absolute(path).parent_path().lexically_normal();
  if (track.depth_maps) {
    const std::string folder = DepthSidecarFolderFor(path);
    WriteDepthSidecar(folder, *track.depth_maps);
    TrackDepth depth;
    depth.path = fs::path(folder).filename().string();
    depth.folder = fs::absolute(folder).lexically_normal().string();
    depth.width = track.depth_maps->width;
    depth.height = track.depth_maps->height;
    depth.count = track.depth_maps->Count();
    out.depth = depth;
  } else if (out.depth && !out.depth->folder.empty()) {
    const fs::path folder(out.depth->folder);
    out.depth->path = folder.parent_path() == parent
                          ? folder.filename().string()
                          : folder.string();
  }
  return out;
}

Json WriteTrackFile(const std::string& path,
                    const TrackFile& track,
                    bool overwrite) {
  CheckCanWrite(path, overwrite, "track");
  ValidateTrackFileJson(ToJsonUnchecked(track), path);
  Json doc = ToJsonUnchecked(WithDepthFor(path, track));
  ValidateTrackFileJson(doc, path);
  WriteFileAtomic(path, FormatTrackFileJson(doc), overwrite);
  return doc;
}

}  // namespace vanelia
