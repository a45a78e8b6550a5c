#include "vanelia/track/colmap_import.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

// Model ids and parameter counts of COLMAP's camera models
// (colmap/sensor/models.h).
struct ColmapModel {
  int id;
  const char* name;
  int num_params;
};

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

struct ColmapCamera {
  int model_id = -1;
  int64_t width = 0;
  int64_t height = 0;
  std::vector<double> params;
};

struct ColmapImage {
  Rigid3d cam_from_world;
  uint32_t camera_id = 0;
  std::string name;
};

struct ColmapPoint {
  uint64_t id = 0;
  Eigen::Vector3d xyz = Eigen::Vector3d::Zero();
  uint8_t rgb[3] = {0, 0, 0};
  double error = 0.0;
  std::vector<uint32_t> image_ids;  // one per observation
};

struct ColmapReconstruction {
  std::map<uint32_t, ColmapCamera> cameras;
  std::map<uint32_t, ColmapImage> images;
  std::vector<ColmapPoint> points;
};

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

// K (pixel centres at integers) and lens of a COLMAP camera.
Intrinsics IntrinsicsOf(const ColmapCamera& camera,
                        LensDistortion* lens,
                        double* tangential) {
  const std::vector<double>& p = camera.params;
  Intrinsics k;
  k.width = static_cast<int>(camera.width);
  k.height = static_cast<int>(camera.height);
  *lens = LensDistortion();
  *tangential = 0.0;
  const bool one_focal =
      camera.model_id == 0 || camera.model_id == 2 || camera.model_id == 3;
  k.fx = p[0];
  k.fy = one_focal ? p[0] : p[1];
  k.cx = (one_focal ? p[1] : p[2]) - 0.5;
  k.cy = (one_focal ? p[2] : p[3]) - 0.5;
  if (camera.model_id == 2) {
    lens->k1 = p[3];
  } else if (camera.model_id == 3) {
    lens->k1 = p[3];
    lens->k2 = p[4];
  } else if (camera.model_id == 4) {
    lens->k1 = p[4];
    lens->k2 = p[5];
    *tangential = std::max(std::abs(p[6]), std::abs(p[7]));
  }
  if (lens->k1 != 0.0 || lens->k2 != 0.0) {
    lens->model = LensDistortion::Model::kRadialK1K2;
  }
  return k;
}

std::string Format(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

}  // namespace

void ColmapImportOptions::Check() const {
  if (fps.num <= 0 || fps.den <= 0) {
    throw InputError("ColmapImportOptions::fps = " + std::to_string(fps.num) +
                     "/" + std::to_string(fps.den) + "; must be > 0");
  }
  if (first_number < 0) {
    throw InputError("ColmapImportOptions::first_number = " +
                     std::to_string(first_number) + "; must be >= 0");
  }
  if (frame_count < 0) {
    throw InputError("ColmapImportOptions::frame_count = " +
                     std::to_string(frame_count) + "; must be >= 0");
  }
  if (max_points < 0 || max_points > kTrackFileMaxPoints) {
    throw InputError("ColmapImportOptions::max_points = " +
                     std::to_string(max_points) + "; must be in [0, 100000]");
  }
}

bool IsColmapModel(const std::string& path) {
  std::error_code ec;
  const fs::path base(path);
  return fs::is_directory(base, ec) && (fs::exists(base / "cameras.txt", ec) ||
                                        fs::exists(base / "cameras.bin", ec));
}

int64_t ImageNumberFromName(const std::string& name) {
  const std::string stem = fs::path(name).stem().string();
  size_t begin = stem.size();
  while (begin > 0 &&
         std::isdigit(static_cast<unsigned char>(stem[begin - 1]))) {
    --begin;
  }
  if (begin == stem.size() || stem.size() - begin > 18) {
    throw InputError("COLMAP image '" + name +
                     "': the name must end in a frame number (e.g. "
                     "frame_000012.png)");
  }
  return std::stoll(stem.substr(begin));
}

namespace {

// The lens of the camera used by the most images; warns when cameras differ.
LensDistortion ChooseLens(const ColmapReconstruction& rec,
                          TrackSummary* summary) {
  std::map<uint32_t, int> uses;
  for (const auto& [id, image] : rec.images) ++uses[image.camera_id];
  uint32_t best = uses.begin()->first;
  for (const auto& [id, count] : uses) {
    if (count > uses[best]) best = id;
  }
  LensDistortion lens;
  double tangential = 0.0;
  IntrinsicsOf(rec.cameras.at(best), &lens, &tangential);
  for (const auto& [id, count] : uses) {
    LensDistortion other;
    double other_tangential = 0.0;
    IntrinsicsOf(rec.cameras.at(id), &other, &other_tangential);
    tangential = std::max(tangential, other_tangential);
    if (other.k1 != lens.k1 || other.k2 != lens.k2) {
      summary->warnings.push_back(
          "COLMAP cameras have different distortion; kept camera " +
          std::to_string(best) + "'s (k1 " + Format(lens.k1) + ", k2 " +
          Format(lens.k2) + ")");
      break;
    }
  }
  if (tangential != 0.0) {
    summary->warnings.push_back(
        "COLMAP OPENCV tangential distortion (p1, p2 up to " +
        Format(tangential) + ") dropped: the track file keeps k1, k2 only");
  }
  return lens;
}

void CheckCameras(const std::string& dir, const ColmapReconstruction& rec) {
  if (rec.images.empty()) {
    throw InputError("COLMAP '" + dir + "': no registered images");
  }
  const ColmapCamera* first = nullptr;
  for (const auto& [id, image] : rec.images) {
    const auto it = rec.cameras.find(image.camera_id);
    if (it == rec.cameras.end()) {
      throw InputError("COLMAP '" + dir + "': image '" + image.name +
                       "' uses camera " + std::to_string(image.camera_id) +
                       ", which is not in the cameras file");
    }
    const ColmapCamera& camera = it->second;
    if (camera.model_id > 4) {
      throw InputError(
          "COLMAP '" + dir + "': camera " + std::to_string(image.camera_id) +
          " has model " + FindModel(camera.model_id)->name +
          "; supported: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, "
          "OPENCV");
    }
    if (camera.width <= 0 || camera.height <= 0 ||
        (first != nullptr &&
         (camera.width != first->width || camera.height != first->height))) {
      throw InputError("COLMAP '" + dir + "': camera " +
                       std::to_string(image.camera_id) + " is " +
                       std::to_string(camera.width) + "x" +
                       std::to_string(camera.height) +
                       "; all cameras must share one positive frame size");
    }
    first = &camera;
  }
}

PointCloud SubsamplePoints(const ColmapReconstruction& rec,
                           int64_t max_points) {
  const auto n = static_cast<int64_t>(rec.points.size());
  const int64_t step =
      max_points > 0 ? std::max<int64_t>(1, (n + max_points - 1) / max_points)
                     : n + 1;
  const int64_t kept = max_points > 0 ? (n + step - 1) / step : 0;
  PointCloud cloud;
  cloud.xyz.resize(3, kept);
  cloud.rgb.resize(3, kept);
  cloud.confidence.resize(kept);
  for (int64_t i = 0; i < kept; ++i) {
    const ColmapPoint& p = rec.points[i * step];
    cloud.xyz.col(i) = p.xyz.cast<float>();
    for (int j = 0; j < 3; ++j) cloud.rgb(j, i) = p.rgb[j];
    cloud.confidence(i) =
        static_cast<float>(1.0 / (1.0 + std::max(0.0, p.error)));
  }
  return cloud;
}

}  // namespace

TrackFile ImportColmapModel(const std::string& model_dir,
                            const ColmapImportOptions& options) {
  options.Check();
  if (!IsColmapModel(model_dir)) {
    throw InputError("COLMAP '" + model_dir +
                     "': not a folder with cameras.txt or cameras.bin");
  }
  const ColmapReconstruction rec = ReadReconstruction(model_dir);
  CheckCameras(model_dir, rec);
  TrackFile track;
  const ColmapCamera& camera0 =
      rec.cameras.at(rec.images.begin()->second.camera_id);
  track.width = static_cast<int>(camera0.width);
  track.height = static_cast<int>(camera0.height);
  track.fps = options.fps;
  track.tracker.name = "colmap";
  track.tracker.version = fs::exists(fs::path(model_dir) / "cameras.txt")
                              ? "sparse model (text)"
                              : "sparse model (binary)";
  track.tracker.options = {{"first_number", options.first_number}};
  track.world = TrackWorld::kTrack;
  track.lens = ChooseLens(rec, &track.summary);

  std::map<uint32_t, std::pair<double, int64_t>> errors;  // sum, count
  double error_sum = 0.0;
  for (const ColmapPoint& p : rec.points) {
    error_sum += p.error;
    for (uint32_t id : p.image_ids) {
      errors[id].first += p.error;
      ++errors[id].second;
    }
  }
  std::vector<double> focals;
  for (const auto& [id, image] : rec.images) {
    TrackedFrame frame;
    frame.index = ImageNumberFromName(image.name) - options.first_number;
    if (frame.index < 0) {
      throw InputError("COLMAP image '" + image.name + "': number " +
                       std::to_string(frame.index + options.first_number) +
                       " is below --first-number " +
                       std::to_string(options.first_number));
    }
    frame.timestamp_s = static_cast<double>(frame.index) *
                        static_cast<double>(options.fps.den) /
                        static_cast<double>(options.fps.num);
    frame.cam_from_world = image.cam_from_world;
    LensDistortion lens;
    double tangential = 0.0;
    frame.intrinsics =
        IntrinsicsOf(rec.cameras.at(image.camera_id), &lens, &tangential);
    const auto e = errors.find(id);
    if (e != errors.end() && e->second.second > 0) {
      frame.reproj_err_px =
          e->second.first / static_cast<double>(e->second.second);
    }
    focals.push_back(frame.intrinsics.fx);
    track.frames.push_back(frame);
  }
  std::sort(track.frames.begin(),
            track.frames.end(),
            [](const TrackedFrame& a, const TrackedFrame& b) {
              return a.index < b.index;
            });
  for (size_t i = 1; i < track.frames.size(); ++i) {
    if (track.frames[i].index == track.frames[i - 1].index) {
      throw InputError("COLMAP '" + model_dir +
                       "': two images map to frame index " +
                       std::to_string(track.frames[i].index) +
                       " (index = trailing number of the name - first_number)");
    }
  }
  const int64_t last = track.frames.back().index;
  if (options.frame_count > 0 && last >= options.frame_count) {
    throw InputError("ColmapImportOptions::frame_count = " +
                     std::to_string(options.frame_count) +
                     "; must be > the last frame index " +
                     std::to_string(last));
  }
  track.source.frame_count =
      options.frame_count > 0 ? options.frame_count : last + 1;
  if (!options.video_path.empty()) {
    track.source.path = options.video_path;
    track.source.sha256 = Sha256OfFile(options.video_path);
  } else {
    track.source.path = model_dir;
  }
  std::nth_element(
      focals.begin(), focals.begin() + focals.size() / 2, focals.end());
  track.summary.registered = static_cast<int64_t>(track.frames.size());
  track.summary.total = track.source.frame_count;
  track.summary.focal_px = focals[focals.size() / 2];
  if (!rec.points.empty()) {
    track.summary.reproj_err_px =
        error_sum / static_cast<double>(rec.points.size());
    track.points = SubsamplePoints(rec, options.max_points);
  }
  return track;
}

}  // namespace vanelia
