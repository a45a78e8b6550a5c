#include "vanelia/trackfile/colmap_import.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "colmap_reader_impl.hpp"

namespace vanelia {
namespace {

namespace fs = std::filesystem;
using internal::ColmapCamera;
using internal::ColmapImage;
using internal::ColmapPoint;
using internal::ColmapReconstruction;
using internal::FindModel;
using internal::ReadReconstruction;

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

// The reprojection errors of the points: their sum, and per image.
struct ReprojectionErrors {
  std::map<uint32_t, std::pair<double, int64_t>> per_image;  // sum, count
  double sum = 0.0;
};

// Sums the points' reprojection errors, overall and per observing image.
ReprojectionErrors SumReprojectionErrors(const ColmapReconstruction& rec) {
  ReprojectionErrors errors;
  for (const ColmapPoint& p : rec.points) {
    errors.sum += p.error;
    for (uint32_t id : p.image_ids) {
      errors.per_image[id].first += p.error;
      ++errors.per_image[id].second;
    }
  }
  return errors;
}

// The tracked frame of COLMAP image `id` (index from its name's number).
TrackedFrame FrameOfImage(const ColmapReconstruction& rec,
                          uint32_t id,
                          const ColmapImage& image,
                          const ReprojectionErrors& errors,
                          const ColmapImportOptions& options) {
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
  const auto e = errors.per_image.find(id);
  if (e != errors.per_image.end() && e->second.second > 0) {
    frame.reproj_err_px =
        e->second.first / static_cast<double>(e->second.second);
  }
  return frame;
}

// Sorts the frames by index; throws InputError when two share an index.
void SortAndCheckFrames(const std::string& model_dir,
                        std::vector<TrackedFrame>* frames) {
  std::sort(frames->begin(),
            frames->end(),
            [](const TrackedFrame& a, const TrackedFrame& b) {
              return a.index < b.index;
            });
  for (size_t i = 1; i < frames->size(); ++i) {
    if ((*frames)[i].index == (*frames)[i - 1].index) {
      throw InputError("COLMAP '" + model_dir +
                       "': two images map to frame index " +
                       std::to_string((*frames)[i].index) +
                       " (index = trailing number of the name - first_number)");
    }
  }
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

  const ReprojectionErrors errors = SumReprojectionErrors(rec);
  std::vector<double> focals;
  for (const auto& [id, image] : rec.images) {
    const TrackedFrame frame = FrameOfImage(rec, id, image, errors, options);
    focals.push_back(frame.intrinsics.fx);
    track.frames.push_back(frame);
  }
  SortAndCheckFrames(model_dir, &track.frames);
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
        errors.sum / static_cast<double>(rec.points.size());
    track.points = SubsamplePoints(rec, options.max_points);
  }
  return track;
}

}  // namespace vanelia
