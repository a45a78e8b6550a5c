// Relocalisation of the classical tracker (native/src/track/classical/
// mapping/relocalisation.cpp): a clip whose frame-to-frame tracking breaks
// is tracked, and the frames after the break are registered against the
// map by their features, with the poses of the ground truth; the frame that
// cannot be registered stays unregistered.
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/geometry/umeyama.hpp"
#include "vanelia/track/classical/classical_tracker.hpp"
#include "vanelia/trackfile/gt_import.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

namespace vanelia {
namespace {

const std::string kOrbitDir =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/footage/orbit";

// The frame's image mirrored upside down: every KLT track dies on it and no
// track survives from it, and no camera pose explains it.
void MirrorInPlace(Image* image) {
  cv::Mat mat(image->height,
              image->width,
              image->channels == 3 ? CV_8UC3 : CV_8UC1,
              image->data.data(),
              static_cast<size_t>(image->stride));
  cv::Mat flipped;
  cv::flip(mat, flipped, 0);
  flipped.copyTo(mat);
}

// The orbit clip, every fourth frame (24 frames, 3.75 degrees apart), with
// frame 12 replaced by its mirror image: tracking breaks there, and frames
// 13..23 start tracks that the map has never seen.
TEST(ClassicalTracker, FramesAfterABreakAreRelocalised) {
  ReadOptions read;
  read.every = 4;
  auto reader = VideoReader::Open(kOrbitDir + "/video.mp4", read);
  std::vector<Frame> frames;
  Frame frame;
  while (reader->Next(&frame)) frames.push_back(frame);
  ASSERT_EQ(frames.size(), 24u);
  constexpr int kBreak = 12;
  MirrorInPlace(&frames[kBreak].rgb);
  const TrackFile gt = ImportGroundTruth(kOrbitDir + "/gt.json");

  ClassicalTracker tracker;
  const TrackResult result = tracker.Track(frames, nullptr);
  const auto& track = result.track.frames;
  // Every frame but the mirrored one, which is listed as unregistered.
  ASSERT_EQ(result.summary.registered, 23);
  for (const TrackedFrame& tf : track) {
    EXPECT_NE(tf.index, frames[kBreak].index);
  }
  int after_break = 0;
  for (const TrackedFrame& tf : track) {
    after_break += tf.index > frames[kBreak].index ? 1 : 0;
  }
  EXPECT_EQ(after_break, 11);

  // Poses against the truth after a similarity fit of the centres.
  const auto n = static_cast<Eigen::Index>(track.size());
  Eigen::Matrix3Xd est(3, n);
  Eigen::Matrix3Xd ref(3, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const TrackedFrame& g = gt.frames[static_cast<size_t>(track[i].index)];
    ASSERT_EQ(g.index, track[i].index);
    est.col(i) = track[i].cam_from_world.Inverse().translation;
    ref.col(i) = g.cam_from_world.Inverse().translation;
  }
  const std::optional<Sim3d> gt_from_est = EstimateSim3d(est, ref);
  ASSERT_TRUE(gt_from_est.has_value());
  double path = 0.0;
  for (Eigen::Index i = 1; i < n; ++i) {
    path += (ref.col(i) - ref.col(i - 1)).norm();
  }
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::Vector3d centre = *gt_from_est * Eigen::Vector3d(est.col(i));
    EXPECT_LT((centre - ref.col(i)).norm(), 0.01 * path)
        << "frame " << track[i].index;
    const TrackedFrame& g = gt.frames[static_cast<size_t>(track[i].index)];
    const Eigen::Quaterniond mapped =
        track[i].cam_from_world.rotation * gt_from_est->rotation.conjugate();
    EXPECT_LT(mapped.angularDistance(g.cam_from_world.rotation) * 180.0 / M_PI,
              0.5)
        << "frame " << track[i].index;
  }
  ASSERT_TRUE(result.summary.reproj_err_px.has_value());
  EXPECT_LT(*result.summary.reproj_err_px, 1.0);
}

}  // namespace
}  // namespace vanelia
