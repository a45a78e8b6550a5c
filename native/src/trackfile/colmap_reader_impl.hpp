// Private: a COLMAP sparse model as read from its files (text or binary),
// before colmap_import.cpp turns it into a track file.
#pragma once

#include "vanelia/geometry/rigid3d.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

namespace vanelia::internal {

// Model ids and parameter counts of COLMAP's camera models
// (colmap/sensor/models.h).
struct ColmapModel {
  int id;
  const char* name;
  int num_params;
};

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

// The camera model with COLMAP model id `id`; nullptr when unknown.
const ColmapModel* FindModel(int id);

// The camera model named `name` (e.g. "PINHOLE"); nullptr when unknown.
const ColmapModel* FindModel(const std::string& name);

// Reads the model in `dir` (text when cameras.txt exists, else binary), its
// points sorted by id. Throws InputError naming the file, line or byte.
ColmapReconstruction ReadReconstruction(const std::string& dir);

}  // namespace vanelia::internal
