// Ignore masks in the classical tracker (issue 17): on the walker clip (a
// person-sized box walks across a static scene) with masks made from the
// ground truth (the walker's box projected through the true cameras, its
// bounding box padded by 4 px), no feature track starts or continues on the
// walker; without the masks some do (so the check can fail). A mask of the
// wrong size is refused.
#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/track/classical/classical_tracker.hpp"
#include "vanelia/trackfile/gt_import.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "track/classical/features/feature_tracks_impl.hpp"
#include <nlohmann/json.hpp>

namespace vanelia {
namespace {

const std::string kWalkerDir =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/clips/walker";

struct PixelBox {
  int x0, y0, x1, y1;  // inclusive

  bool Contains(double x, double y) const {
    return x >= x0 && x <= x1 && y >= y0 && y <= y1;
  }
};

// The walker's pixel box in every frame of the clip, padded by `pad_px`.
std::vector<PixelBox> WalkerBoxes(int pad_px) {
  std::ifstream file(kWalkerDir + "/gt.json");
  const nlohmann::json gt = nlohmann::json::parse(file);
  const TrackFile truth = ImportGroundTruth(kWalkerDir + "/gt.json");
  nlohmann::json walker;
  for (const auto& object : gt.at("scene_objects")) {
    if (object.at("name") == "Walker") walker = object;
  }
  const Eigen::Vector3d half(walker.at("size")[0].get<double>() / 2,
                             walker.at("size")[1].get<double>() / 2,
                             walker.at("size")[2].get<double>() / 2);
  std::vector<PixelBox> boxes;
  for (const TrackedFrame& frame : truth.frames) {
    const auto& c = walker.at("location_per_frame")[frame.index];
    const Eigen::Vector3d centre(
        c[0].get<double>(), c[1].get<double>(), c[2].get<double>());
    double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
    for (int corner = 0; corner < 8; ++corner) {
      const Eigen::Vector3d sign(
          (corner & 1) ? 1 : -1, (corner & 2) ? 1 : -1, (corner & 4) ? 1 : -1);
      const Eigen::Vector3d p_in_cam =
          frame.cam_from_world *
          Eigen::Vector3d(centre + sign.cwiseProduct(half));
      const Intrinsics& k = frame.intrinsics;
      const double u = k.fx * p_in_cam.x() / p_in_cam.z() + k.cx;
      const double v = k.fy * p_in_cam.y() / p_in_cam.z() + k.cy;
      x0 = std::min(x0, u);
      y0 = std::min(y0, v);
      x1 = std::max(x1, u);
      y1 = std::max(y1, v);
    }
    boxes.push_back({static_cast<int>(std::floor(x0)) - pad_px,
                     static_cast<int>(std::floor(y0)) - pad_px,
                     static_cast<int>(std::ceil(x1)) + pad_px,
                     static_cast<int>(std::ceil(y1)) + pad_px});
  }
  return boxes;
}

Image BoxMask(int width, int height, const PixelBox& box) {
  Image mask = Image::Create(width, height, 1);
  for (int y = std::max(box.y0, 0); y <= std::min(box.y1, height - 1); ++y) {
    for (int x = std::max(box.x0, 0); x <= std::min(box.x1, width - 1); ++x) {
      mask.At(x, y, 0) = 255;
    }
  }
  return mask;
}

std::vector<Frame> WalkerFrames() {
  auto reader = VideoReader::Open(kWalkerDir + "/video.mp4");
  std::vector<Frame> frames;
  Frame frame;
  while (reader->Next(&frame)) frames.push_back(frame);
  return frames;
}

// Observations of the feature tracks that lie in the walker's box (unpadded)
// of their frame.
int ObservationsOnTheWalker(const std::vector<Frame>& frames, bool masked) {
  const std::vector<PixelBox> padded = WalkerBoxes(4);
  const std::vector<PixelBox> exact = WalkerBoxes(0);
  internal::FeatureTracker tracker({});
  for (size_t f = 0; f < frames.size(); ++f) {
    const Image& rgb = frames[f].rgb;
    const Image mask = BoxMask(rgb.width, rgb.height, padded[f]);
    tracker.AddFrame(rgb, masked ? &mask : nullptr);
  }
  int on_walker = 0;
  for (const internal::FeatureTrack& track : tracker.Tracks()) {
    for (const internal::FeatureObservation& obs : track.obs) {
      on_walker += exact[obs.frame].Contains(obs.px.x(), obs.px.y()) ? 1 : 0;
    }
  }
  return on_walker;
}

TEST(ClassicalTrackerMasks, NoFeatureTrackOnTheMaskedWalker) {
  const std::vector<Frame> frames = WalkerFrames();
  ASSERT_EQ(frames.size(), 24u);
  ASSERT_EQ(WalkerBoxes(0).size(), 24u);
  const int unmasked = ObservationsOnTheWalker(frames, false);
  const int masked = ObservationsOnTheWalker(frames, true);
  RecordProperty("on_walker_unmasked", unmasked);
  EXPECT_GT(unmasked, 50) << "the walker carries no features: the test "
                             "cannot tell masks from no masks";
  EXPECT_EQ(masked, 0);
}

TEST(ClassicalTrackerMasks, MaskOfTheWrongSizeIsRefused) {
  std::vector<Frame> frames = WalkerFrames();
  frames.resize(3);
  frames[1].mask = Image::Create(320, 180, 1);
  ClassicalTracker tracker;
  try {
    tracker.Track(frames, nullptr);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()),
                ::testing::AllOf(::testing::HasSubstr("mask 320x180x1"),
                                 ::testing::HasSubstr("640x360")));
  }
}

}  // namespace
}  // namespace vanelia
