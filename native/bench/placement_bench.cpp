// Automatic placement (floor/placement.hpp, PlaceProduct) on a 300-frame
// track: the issue 20 budget is under 1 s. Sane = the report covers every
// frame and the spot keeps the product fully in frame on >= 95 % of them
// with no point above the floor at it.
//
//   build/bin/placement_bench [--repetitions N] [--size X Y Z] [TRACK.json...]
//
// Without track files: a synthetic orbit (300 frames, 1.6 m high, radius
// 4 m, 60 degrees, 28 mm at 640x360) with 20000 points: floor noise and
// five boxes. With track files (world "blender"): each file, its stored
// points as obstacles; the placement's one-line summary goes to stderr.
#include "vanelia/floor/alignment.hpp"
#include "vanelia/floor/placement.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>

#include "bench_harness.hpp"

namespace vanelia {
namespace {

Rigid3d LookAt(const Eigen::Vector3d& centre, const Eigen::Vector3d& target) {
  const Eigen::Vector3d z = (target - centre).normalized();
  const Eigen::Vector3d x = z.cross(Eigen::Vector3d::UnitZ()).normalized();
  const Eigen::Vector3d y = z.cross(x);
  Eigen::Matrix3d r;
  r.row(0) = x.transpose();
  r.row(1) = y.transpose();
  r.row(2) = z.transpose();
  return Rigid3d(Eigen::Quaterniond(r), -(r * centre));
}

TrackFile SyntheticOrbit(int frames, int points) {
  TrackFile file;
  file.width = 640;
  file.height = 360;
  file.world = TrackWorld::kBlender;
  for (int i = 0; i < frames; ++i) {
    const double a = (-120.0 + 60.0 * i / (frames - 1)) * M_PI / 180.0;
    TrackedFrame frame;
    frame.index = i;
    frame.cam_from_world = LookAt({4.0 * std::cos(a), 4.0 * std::sin(a), 1.6},
                                  Eigen::Vector3d::Zero());
    frame.intrinsics = Intrinsics::Centered(497.8, 640, 360);
    file.frames.push_back(frame);
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-6.0F, 6.0F);
  std::uniform_real_distribution<float> unit(0.0F, 1.0F);
  std::normal_distribution<float> noise(0.0F, 0.005F);
  const Eigen::Vector2f boxes[5] = {
      {-1.3F, 1.1F}, {0.4F, 2.7F}, {-2.6F, -0.6F}, {1.2F, 0.6F}, {2.4F, 2.2F}};
  PointCloud cloud;
  cloud.xyz.resize(3, points);
  for (int k = 0; k < points; ++k) {
    if (k % 2 == 0) {
      cloud.xyz.col(k) = Eigen::Vector3f(u(rng), u(rng), noise(rng));
    } else {
      const Eigen::Vector2f& b = boxes[k % 5];
      cloud.xyz.col(k) = Eigen::Vector3f(b.x() + 0.8F * (unit(rng) - 0.5F),
                                         b.y() + 0.8F * (unit(rng) - 0.5F),
                                         unit(rng));
    }
  }
  file.points = cloud;
  return file;
}

int Run(int argc, char** argv) {
  int repetitions = 5;
  ProductBox box;
  box.size_m = Eigen::Vector3d(0.08, 0.08, 0.30);  // the sample's bottle
  std::vector<std::string> tracks;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::atoi(argv[++i]);
    } else if (arg == "--size" && i + 3 < argc) {
      box.size_m = Eigen::Vector3d(std::atof(argv[i + 1]),
                                   std::atof(argv[i + 2]),
                                   std::atof(argv[i + 3]));
      i += 3;
    } else {
      tracks.push_back(arg);
    }
  }
  std::vector<std::pair<std::string, TrackFile>> cases;
  if (tracks.empty())
    cases.emplace_back("orbit300", SyntheticOrbit(300, 20000));
  for (const std::string& path : tracks) {
    cases.emplace_back(path, ReadTrackFile(path));
  }
  bool all_sane = true;
  for (const auto& [name, file] : cases) {
    const CameraTrack track = CameraTrackOf(file);
    const Eigen::Matrix3Xf points =
        file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
    Placement placement;
    const bench::Timing timing = bench::Measure(
        [&] {
          placement = PlaceProduct(track, points, box, PlacementOptions());
        },
        repetitions);
    const PlacementReport& r = placement.report;
    const bool sane = r.frames == static_cast<int64_t>(track.frames.size()) &&
                      r.FullyVisibleFraction() >= 0.95 &&
                      r.obstacle_points == 0;
    all_sane = all_sane && sane;
    std::fprintf(
        stderr, "%s: %s\n", name.c_str(), DescribePlacement(placement).c_str());
    bench::Report("placement " + name,
                  timing,
                  {{"frames", static_cast<double>(r.frames)},
                   {"points", static_cast<double>(points.cols())},
                   {"candidates", static_cast<double>(r.candidates)},
                   {"fully_visible_fraction", r.FullyVisibleFraction()},
                   {"median_height_fraction", r.median_height_fraction}},
                  sane);
  }
  return all_sane ? 0 : 1;
}

}  // namespace
}  // namespace vanelia

int main(int argc, char** argv) {
  try {
    return vanelia::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "placement_bench: %s\n", e.what());
    return 2;
  }
}
