#include "vanelia/pipeline/product_placement.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <Eigen/Geometry>

#include <nlohmann/json.hpp>

namespace vanelia {
namespace {

using Json = nlohmann::json;

constexpr uint32_t kGlbMagic = 0x46546C67;   // "glTF"
constexpr uint32_t kJsonChunk = 0x4E4F534A;  // "JSON"

uint32_t ReadU32(const std::string& bytes, size_t offset) {
  uint32_t value = 0;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));
  return value;
}

// The JSON document of a .glb (its first chunk) or a .gltf.
Json GltfDocument(const std::string& path) {
  const std::string bytes = ReadFile(path);
  std::string text = bytes;
  if (bytes.size() >= 4 && ReadU32(bytes, 0) == kGlbMagic) {
    if (bytes.size() < 20 || ReadU32(bytes, 4) != 2) {
      throw InputError("product '" + path + "': not a glTF 2.0 GLB");
    }
    const uint32_t length = ReadU32(bytes, 12);
    if (ReadU32(bytes, 16) != kJsonChunk || length > bytes.size() - 20) {
      throw InputError("product '" + path + "': GLB without a JSON chunk");
    }
    text = bytes.substr(20, length);
  }
  Json document = Json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    throw InputError("product '" + path + "': its glTF JSON does not parse");
  }
  return document;
}

Eigen::Matrix4d NodeMatrix(const Json& node) {
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  if (node.contains("matrix")) {
    for (int k = 0; k < 16; ++k) m(k % 4, k / 4) = node["matrix"][k];
    return m;
  }
  Eigen::Affine3d a = Eigen::Affine3d::Identity();
  if (node.contains("translation")) {
    const Json& t = node["translation"];
    a.translate(Eigen::Vector3d(t[0], t[1], t[2]));
  }
  if (node.contains("rotation")) {
    const Json& r = node["rotation"];  // x, y, z, w
    a.rotate(Eigen::Quaterniond(r[3], r[0], r[1], r[2]).normalized());
  }
  if (node.contains("scale")) {
    const Json& s = node["scale"];
    a.scale(Eigen::Vector3d(s[0], s[1], s[2]));
  }
  return a.matrix();
}

struct Bounds {
  Eigen::Vector3d lo =
      Eigen::Vector3d::Constant(std::numeric_limits<double>::infinity());
  Eigen::Vector3d hi = -lo;
};

void AddMesh(const Json& doc,
             int64_t mesh,
             const Eigen::Matrix4d& world,
             const std::string& path,
             Bounds* bounds) {
  for (const Json& primitive : doc.at("meshes").at(mesh).at("primitives")) {
    const Json& accessor =
        doc.at("accessors")
            .at(primitive.at("attributes").at("POSITION").get<size_t>());
    if (!accessor.contains("min") || !accessor.contains("max")) {
      throw InputError("product '" + path +
                       "': a POSITION accessor has no min/max");
    }
    const Json& lo = accessor["min"];
    const Json& hi = accessor["max"];
    for (int k = 0; k < 8; ++k) {
      const Eigen::Vector4d corner((k & 1) ? hi[0] : lo[0],
                                   (k & 2) ? hi[1] : lo[1],
                                   (k & 4) ? hi[2] : lo[2],
                                   1.0);
      const Eigen::Vector3d p = (world * corner).head<3>();
      bounds->lo = bounds->lo.cwiseMin(p);
      bounds->hi = bounds->hi.cwiseMax(p);
    }
  }
}

void AddNode(const Json& doc,
             int64_t index,
             const Eigen::Matrix4d& parent,
             const std::string& path,
             int depth,
             Bounds* bounds) {
  if (depth > 64) {
    throw InputError("product '" + path + "': node hierarchy too deep");
  }
  const Json& node = doc.at("nodes").at(index);
  const Eigen::Matrix4d world = parent * NodeMatrix(node);
  if (node.contains("mesh")) {
    AddMesh(doc, node["mesh"].get<int64_t>(), world, path, bounds);
  }
  if (node.contains("children")) {
    for (const Json& child : node["children"]) {
      AddNode(doc, child.get<int64_t>(), world, path, depth + 1, bounds);
    }
  }
}

}  // namespace

Eigen::Vector3d ReadProductBoxSize(const std::string& path) {
  const Json doc = GltfDocument(path);
  Bounds bounds;
  try {
    if (!doc.contains("nodes") || !doc.contains("meshes")) {
      throw InputError("product '" + path + "': no mesh");
    }
    Json roots = Json::array();
    if (doc.contains("scenes") && !doc["scenes"].empty()) {
      const int64_t scene = doc.value("scene", 0);
      roots = doc["scenes"].at(scene).value("nodes", Json::array());
    } else {
      for (size_t i = 0; i < doc["nodes"].size(); ++i) roots.push_back(i);
    }
    for (const Json& root : roots) {
      AddNode(doc,
              root.get<int64_t>(),
              Eigen::Matrix4d::Identity(),
              path,
              0,
              &bounds);
    }
  } catch (const Json::exception& e) {
    throw InputError("product '" + path + "': malformed glTF (" + e.what() +
                     ")");
  }
  const Eigen::Vector3d size = bounds.hi - bounds.lo;
  if (!size.allFinite()) {
    throw InputError("product '" + path + "': no mesh in its scene");
  }
  // glTF (x, y up, z forward) -> Blender (x, -z, y).
  return {size.x(), size.z(), size.y()};
}

std::optional<TrackFile> ReadRunTrack(const PipelineOptions& options,
                                      const std::string& track_path) {
  TrackFile file;
  try {
    file = ReadTrackFile(track_path);
  } catch (const InputError&) {
    return std::nullopt;  // batch.py names the problem
  }
  if (file.world != TrackWorld::kBlender || file.frames.empty()) {
    return std::nullopt;
  }
  // batch.py scales a given track to --camera-height about the origin.
  const double first =
      file.frames.front().cam_from_world.Inverse().translation.z();
  if (options.camera_height_m && !options.track.empty() && first > 1e-6) {
    const double s = *options.camera_height_m / first;
    for (TrackedFrame& f : file.frames) f.cam_from_world.translation *= s;
    if (file.points) file.points->xyz *= static_cast<float>(s);
  }
  return file;
}

std::optional<Placement> PlaceRunProduct(const PipelineOptions& options,
                                         const std::string& track_path) {
  const std::optional<TrackFile> run_track = ReadRunTrack(options, track_path);
  if (!run_track) return std::nullopt;
  const TrackFile& file = *run_track;
  ProductBox box;
  box.size_m = ReadProductBoxSize(options.product);
  PlacementOptions placement_options;
  placement_options.target_height_m = options.height_m;
  const CameraTrack track = CameraTrackOf(file);
  const Eigen::Matrix3Xf points =
      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
  if (!options.location_m) {
    return PlaceProduct(track, points, box, placement_options);
  }
  Placement given;
  const auto& l = *options.location_m;
  given.location_m = Eigen::Vector3d(l[0], l[1], l[2]);
  given.heading_rad = options.rotation_z_deg * M_PI / 180.0;
  given.scale = options.height_m ? *options.height_m / box.size_m.z() : 1.0;
  given.report = EvaluatePlacement(track,
                                   points,
                                   box,
                                   given.location_m,
                                   given.heading_rad,
                                   given.scale,
                                   placement_options);
  return given;
}

PipelineOptions WithPlacement(const PipelineOptions& options,
                              const std::string& track_path,
                              RunReporter* reporter) {
  PipelineOptions placed = options;
  std::optional<Placement> placement;
  try {
    placement = PlaceRunProduct(options, track_path);
  } catch (const InputError& error) {
    reporter->Log(std::string("placement: none (") + error.what() +
                  "); the product stands where frame 0's centre meets the "
                  "floor");
    return placed;
  }
  if (!placement) return placed;
  const std::string what =
      options.location_m ? "placement: --location given: " : "placement: ";
  reporter->Log(what + DescribePlacement(*placement));
  if (!options.location_m) {
    placed.location_m = {placement->location_m.x(),
                         placement->location_m.y(),
                         placement->location_m.z()};
    placed.rotation_z_deg =
        options.rotation_z_deg + placement->heading_rad * 180.0 / M_PI;
  }
  return placed;
}

}  // namespace vanelia
