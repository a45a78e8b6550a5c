// The reader of COLMAP sparse models: cameras, images and points3D, in the
// text or the binary format.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "colmap_reader_impl.hpp"

namespace vanelia::internal {
namespace {

namespace fs = std::filesystem;

constexpr ColmapModel kColmapModels[] = {{0, "SIMPLE_PINHOLE", 3},
                                         {1, "PINHOLE", 4},
                                         {2, "SIMPLE_RADIAL", 4},
                                         {3, "RADIAL", 5},
                                         {4, "OPENCV", 8},
                                         {5, "OPENCV_FISHEYE", 8},
                                         {6, "FULL_OPENCV", 12},
                                         {7, "FOV", 5},
                                         {8, "SIMPLE_RADIAL_FISHEYE", 4},
                                         {9, "RADIAL_FISHEYE", 5},
                                         {10, "THIN_PRISM_FISHEYE", 12}};

}  // namespace

const ColmapModel* FindModel(int id) {
  for (const ColmapModel& m : kColmapModels) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

const ColmapModel* FindModel(const std::string& name) {
  for (const ColmapModel& m : kColmapModels) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

namespace {

// Lines of a COLMAP text file without comments and blank lines, with their
// 1-based line numbers.
std::vector<std::pair<int, std::string>> DataLines(const std::string& path,
                                                   bool keep_blank) {
  std::istringstream in(ReadFile(path));
  std::vector<std::pair<int, std::string>> lines;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == '#') continue;
    if (line.find_first_not_of(" \t") == std::string::npos && !keep_blank) {
      continue;
    }
    lines.emplace_back(number, line);
  }
  return lines;
}

[[noreturn]] void FailAt(const std::string& path,
                         int line,
                         const std::string& rule) {
  throw InputError("COLMAP '" + path + "' line " + std::to_string(line) + ": " +
                   rule);
}

void ReadCamerasText(const std::string& path, ColmapReconstruction* rec) {
  for (const auto& [number, line] : DataLines(path, false)) {
    std::istringstream in(line);
    uint32_t id = 0;
    std::string model_name;
    ColmapCamera camera;
    if (!(in >> id >> model_name >> camera.width >> camera.height)) {
      FailAt(path, number, "must be CAMERA_ID MODEL WIDTH HEIGHT PARAMS[]");
    }
    const ColmapModel* model = FindModel(model_name);
    if (model == nullptr) {
      FailAt(path, number, "unknown camera model '" + model_name + "'");
    }
    camera.model_id = model->id;
    double value = 0.0;
    while (in >> value) camera.params.push_back(value);
    if (static_cast<int>(camera.params.size()) != model->num_params) {
      FailAt(path,
             number,
             std::string(model->name) + " needs " +
                 std::to_string(model->num_params) + " parameters, got " +
                 std::to_string(camera.params.size()));
    }
    rec->cameras[id] = camera;
  }
}

void ReadImagesText(const std::string& path, ColmapReconstruction* rec) {
  // Two lines per image: the pose line, then the (possibly empty) POINTS2D
  // line, which we skip.
  const auto lines = DataLines(path, true);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& [number, line] = lines[i];
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream in(line);
    uint32_t id = 0;
    double q[4];
    double t[3];
    ColmapImage image;
    if (!(in >> id >> q[0] >> q[1] >> q[2] >> q[3] >> t[0] >> t[1] >> t[2] >>
          image.camera_id) ||
        !(in >> std::ws) || !std::getline(in, image.name) ||
        image.name.empty()) {
      FailAt(
          path, number, "must be IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME");
    }
    image.cam_from_world = Rigid3d(Eigen::Quaterniond(q[0], q[1], q[2], q[3]),
                                   Eigen::Vector3d(t[0], t[1], t[2]));
    rec->images[id] = image;
    ++i;  // the POINTS2D line
  }
}

void ReadPointsText(const std::string& path, ColmapReconstruction* rec) {
  for (const auto& [number, line] : DataLines(path, false)) {
    std::istringstream in(line);
    ColmapPoint point;
    int rgb[3];
    if (!(in >> point.id >> point.xyz.x() >> point.xyz.y() >> point.xyz.z() >>
          rgb[0] >> rgb[1] >> rgb[2] >> point.error)) {
      FailAt(path, number, "must be POINT3D_ID X Y Z R G B ERROR TRACK[]");
    }
    for (int j = 0; j < 3; ++j) {
      point.rgb[j] = static_cast<uint8_t>(std::clamp(rgb[j], 0, 255));
    }
    uint32_t image_id = 0;
    uint32_t point2d = 0;
    while (in >> image_id >> point2d) point.image_ids.push_back(image_id);
    rec->points.push_back(std::move(point));
  }
}

// Little-endian reader over a whole binary file.
class BinaryReader {
 public:
  explicit BinaryReader(const std::string& path)
      : path_(path), data_(ReadFile(path)) {}

  template <typename T>
  T Read() {
    T value;
    Need(sizeof(T));
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string ReadString() {
    const size_t end = data_.find('\0', pos_);
    if (end == std::string::npos) Truncated();
    std::string s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  void Skip(uint64_t bytes) {
    Need(bytes);
    pos_ += bytes;
  }

  // A record count, checked against the bytes left (each record needs at
  // least `min_record_bytes`).
  uint64_t ReadCount(uint64_t min_record_bytes) {
    const auto n = Read<uint64_t>();
    if (n > (data_.size() - pos_) / std::max<uint64_t>(min_record_bytes, 1)) {
      Truncated();
    }
    return n;
  }

  [[noreturn]] void Fail(const std::string& rule) const {
    throw InputError("COLMAP '" + path_ + "' at byte " + std::to_string(pos_) +
                     ": " + rule);
  }

 private:
  void Need(uint64_t bytes) const {
    if (bytes > data_.size() - pos_) Truncated();
  }

  [[noreturn]] void Truncated() const { Fail("file is truncated"); }

  std::string path_;
  std::string data_;
  size_t pos_ = 0;
};

void ReadCamerasBinary(const std::string& path, ColmapReconstruction* rec) {
  BinaryReader in(path);
  const uint64_t n = in.ReadCount(24);
  for (uint64_t i = 0; i < n; ++i) {
    const auto id = in.Read<uint32_t>();
    ColmapCamera camera;
    camera.model_id = in.Read<int32_t>();
    const ColmapModel* model = FindModel(camera.model_id);
    if (model == nullptr) {
      in.Fail("unknown camera model id " + std::to_string(camera.model_id));
    }
    camera.width = static_cast<int64_t>(in.Read<uint64_t>());
    camera.height = static_cast<int64_t>(in.Read<uint64_t>());
    for (int p = 0; p < model->num_params; ++p) {
      camera.params.push_back(in.Read<double>());
    }
    rec->cameras[id] = camera;
  }
}

void ReadImagesBinary(const std::string& path, ColmapReconstruction* rec) {
  BinaryReader in(path);
  const uint64_t n = in.ReadCount(73);
  for (uint64_t i = 0; i < n; ++i) {
    const auto id = in.Read<uint32_t>();
    double q[4];
    double t[3];
    for (double& v : q) v = in.Read<double>();
    for (double& v : t) v = in.Read<double>();
    ColmapImage image;
    image.cam_from_world = Rigid3d(Eigen::Quaterniond(q[0], q[1], q[2], q[3]),
                                   Eigen::Vector3d(t[0], t[1], t[2]));
    image.camera_id = in.Read<uint32_t>();
    image.name = in.ReadString();
    const uint64_t num_points2d = in.ReadCount(24);
    in.Skip(num_points2d * 24);  // x, y (double), point3D_id (int64)
    rec->images[id] = image;
  }
}

void ReadPointsBinary(const std::string& path, ColmapReconstruction* rec) {
  BinaryReader in(path);
  const uint64_t n = in.ReadCount(43);
  rec->points.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    ColmapPoint point;
    point.id = in.Read<uint64_t>();
    for (int j = 0; j < 3; ++j) point.xyz(j) = in.Read<double>();
    for (uint8_t& c : point.rgb) c = in.Read<uint8_t>();
    point.error = in.Read<double>();
    const uint64_t track_length = in.ReadCount(8);
    for (uint64_t k = 0; k < track_length; ++k) {
      point.image_ids.push_back(in.Read<uint32_t>());
      in.Read<uint32_t>();  // point2D_idx
    }
    rec->points.push_back(std::move(point));
  }
}

}  // namespace

ColmapReconstruction ReadReconstruction(const std::string& dir) {
  ColmapReconstruction rec;
  const fs::path base(dir);
  std::error_code ec;
  if (fs::exists(base / "cameras.txt", ec)) {
    ReadCamerasText((base / "cameras.txt").string(), &rec);
    ReadImagesText((base / "images.txt").string(), &rec);
    if (fs::exists(base / "points3D.txt", ec)) {
      ReadPointsText((base / "points3D.txt").string(), &rec);
    }
  } else {
    ReadCamerasBinary((base / "cameras.bin").string(), &rec);
    ReadImagesBinary((base / "images.bin").string(), &rec);
    if (fs::exists(base / "points3D.bin", ec)) {
      ReadPointsBinary((base / "points3D.bin").string(), &rec);
    }
  }
  std::sort(
      rec.points.begin(),
      rec.points.end(),
      [](const ColmapPoint& a, const ColmapPoint& b) { return a.id < b.id; });
  return rec;
}

}  // namespace vanelia::internal
