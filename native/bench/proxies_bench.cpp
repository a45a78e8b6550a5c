// Proxy building (floor/proxies.hpp, BuildProxies): the issue 20 budget is
// under 1 s for a 300-frame track. The points are what the time depends on;
// a track file holds at most 100000 (its format's limit), so that is the
// synthetic case. Sane = the five boxes and the wall are found, the boxes
// within 5 cm of their true centres.
//
//   build/bin/proxies_bench [--repetitions N] [--points N] [TRACK.json...]
//
// Without track files: 100000 points, 40 % floor (1 cm noise), 50 % on five
// boxes, 8 % on a 6 m wall, 2 % outliers in the air. With track files
// (world "blender"): their stored points; the one-line summary goes to
// stderr.
#include "vanelia/floor/proxies.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "bench_harness.hpp"

namespace vanelia {
namespace {

const Eigen::Vector2f kBoxes[5] = {
    {-1.3F, 1.1F}, {0.4F, 2.7F}, {-2.6F, -0.6F}, {1.2F, 0.6F}, {2.4F, 2.2F}};

Eigen::Matrix3Xf SyntheticPoints(int count) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-6.0F, 6.0F);
  std::uniform_real_distribution<float> unit(0.0F, 1.0F);
  std::normal_distribution<float> noise(0.0F, 0.01F);
  Eigen::Matrix3Xf xyz(3, count);
  for (int k = 0; k < count; ++k) {
    const int kind = k % 50;
    if (kind < 20) {
      xyz.col(k) = Eigen::Vector3f(u(rng), u(rng), noise(rng));
    } else if (kind < 45) {
      const Eigen::Vector2f& b = kBoxes[k % 5];
      // On the box's sides and top (0.6 m cube).
      Eigen::Vector3f q(unit(rng) - 0.5F, unit(rng) - 0.5F, unit(rng));
      const int face = (k / 5) % 5;
      if (face == 0) q.x() = -0.5F;
      if (face == 1) q.x() = 0.5F;
      if (face == 2) q.y() = -0.5F;
      if (face == 3) q.y() = 0.5F;
      if (face == 4) q.z() = 1.0F;
      xyz.col(k) =
          Eigen::Vector3f(
              b.x() + 0.6F * q.x(), b.y() + 0.6F * q.y(), 0.6F * q.z()) +
          Eigen::Vector3f(noise(rng), noise(rng), noise(rng));
    } else if (kind < 49) {
      xyz.col(k) = Eigen::Vector3f(
          u(rng) * 0.5F, 6.0F + noise(rng), 0.1F + 2.4F * unit(rng));
    } else {
      xyz.col(k) = Eigen::Vector3f(u(rng), u(rng), 3.0F * unit(rng));
    }
  }
  return xyz;
}

bool SyntheticSane(const ProxySet& set) {
  if (set.Count(ProxyKind::kPlane) != 1 || set.Count(ProxyKind::kBox) < 5) {
    return false;
  }
  for (const Eigen::Vector2f& b : kBoxes) {
    bool found = false;
    for (const Proxy& p : set.proxies) {
      found =
          found || (p.kind == ProxyKind::kBox &&
                    (p.centre_m.head<2>() - b.cast<double>()).norm() < 0.05);
    }
    if (!found) return false;
  }
  return true;
}

int Run(int argc, char** argv) {
  int repetitions = 5;
  int count = 100000;
  std::vector<std::string> tracks;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::atoi(argv[++i]);
    } else if (arg == "--points" && i + 1 < argc) {
      count = std::atoi(argv[++i]);
    } else {
      tracks.push_back(arg);
    }
  }
  std::vector<std::pair<std::string, Eigen::Matrix3Xf>> cases;
  if (tracks.empty()) cases.emplace_back("synthetic", SyntheticPoints(count));
  for (const std::string& path : tracks) {
    const TrackFile file = ReadTrackFile(path);
    cases.emplace_back(path,
                       file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0));
  }
  bool all_sane = true;
  for (const auto& [name, points] : cases) {
    ProxySet set;
    const bench::Timing timing = bench::Measure(
        [&] { set = BuildProxies(points, ProxyOptions()); }, repetitions);
    const bool sane = tracks.empty() ? SyntheticSane(set) : true;
    all_sane = all_sane && sane;
    std::fprintf(
        stderr, "%s: %s\n", name.c_str(), DescribeProxies(set).c_str());
    bench::Report(
        "proxies " + name,
        timing,
        {{"points", static_cast<double>(points.cols())},
         {"proxies", static_cast<double>(set.proxies.size())},
         {"points_above_floor", static_cast<double>(set.points_above_floor)}},
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
    std::fprintf(stderr, "proxies_bench: %s\n", e.what());
    return 2;
  }
}
