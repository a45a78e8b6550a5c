#include "align_options.hpp"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace vanelia::cli {

void AddAlignmentOptions(ArgParser* parser) {
  parser->AddOption("--camera-height",
                    "M",
                    "height of the first camera above the floor, metres "
                    "(sets the scale)",
                    "1.5");
  parser->AddOption("--distance",
                    "I J M",
                    "scale from the distance M (metres) between stored "
                    "points I and J of the track file",
                    "",
                    3);
  parser->AddOption("--plane",
                    "X1 Y1 Z1 X2 Y2 Z2 X3 Y3 Z3",
                    "the floor through three 3-D points of the track's "
                    "world, instead of detecting it",
                    "",
                    9);
  parser->AddFlag("--no-scale", "keep the tracker's scale (scale 1)");
}

void CheckAlignmentArgs(const ArgParser& args) {
  if (!(args.GetDouble("--camera-height") > 0.0)) {
    throw UsageError("--camera-height = " + args.Get("--camera-height") +
                     "; must be > 0 metres");
  }
  if (args.Flag("--distance") && args.Flag("--no-scale")) {
    throw UsageError("--distance and --no-scale exclude each other");
  }
  for (const char* other : {"--no-scale", "--distance"}) {
    if (args.Given("--camera-height") && args.Flag(other)) {
      throw UsageError(std::string("--camera-height and ") + other +
                       " exclude each other (both set the scale)");
    }
  }
}

AlignmentOptions AlignmentOptionsFromArgs(const ArgParser& args,
                                          const TrackFile& file) {
  CheckAlignmentArgs(args);
  AlignmentOptions options;
  options.camera_height_m = args.GetDouble("--camera-height");
  const bool distance = args.Flag("--distance");
  if (args.Flag("--no-scale")) options.scale = ScaleMethod::kNone;
  if (distance) {
    const std::vector<std::string> values = args.GetAll("--distance");
    const int64_t i = args.ParseInt("--distance I", values[0]);
    const int64_t j = args.ParseInt("--distance J", values[1]);
    const double metres = args.ParseDouble("--distance M", values[2]);
    const int64_t count = file.points ? file.points->Size() : 0;
    for (const int64_t index : {i, j}) {
      if (index < 0 || index >= count) {
        throw UsageError("--distance: point index " + std::to_string(index) +
                         " is out of range; the track file stores " +
                         std::to_string(count) + " points");
      }
    }
    if (i == j || !(metres > 0.0)) {
      throw UsageError(
          "--distance: needs two different points and a distance > 0");
    }
    options.scale = ScaleMethod::kDistance;
    options.distance_a = file.points->xyz.col(i).cast<double>();
    options.distance_b = file.points->xyz.col(j).cast<double>();
    options.distance_m = metres;
  }
  if (args.Flag("--plane")) {
    const std::vector<std::string> v = args.GetAll("--plane");
    Eigen::Vector3d p[3];
    for (int k = 0; k < 3; ++k) {
      for (int c = 0; c < 3; ++c) {
        p[k](c) = args.ParseDouble("--plane", v[3 * k + c]);
      }
    }
    options.manual_plane = Plane3d::FromPoints(p[0], p[1], p[2]);
    if (!options.manual_plane) {
      throw UsageError("--plane: the three points are collinear");
    }
  }
  return options;
}

}  // namespace vanelia::cli
