// Must3rTracker end to end on the video_orbit fixture (tiny random-weight
// checkpoint): poses and intrinsics must be upstream's c2w / focal taken
// through the one conversion and the real crop, points bounded.
#include "vanelia/track/network/must3r_tracker.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "testing/npy.hpp"

namespace vanelia {
namespace {

const std::string kData =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/must3r";

Must3rTrackerOptions TinyOptions() {
  Must3rTrackerOptions options;
  options.weights = kData + "/checkpoints/tiny_kv.pth";
  options.image_size = 128;  // the tiny checkpoint's training resolution
  options.custom_buckets = {{1.5, 96, 64}};
  options.device = "cpu";
  options.init_frames = 2;
  options.batch_frames = 1;
  options.local_context = 5;
  options.min_confidence = 1.5;
  options.point_stride = 2;
  options.max_points = 500;
  return options;
}

std::vector<Frame> OrbitFrames() {
  const testing::NpyArray a =
      testing::ReadNpy(kData + "/video_orbit/frames_u8.npy");
  std::vector<Frame> frames;
  const int n = static_cast<int>(a.shape[0]);
  const int h = static_cast<int>(a.shape[1]);
  const int w = static_cast<int>(a.shape[2]);
  for (int i = 0; i < n; ++i) {
    Frame f;
    f.index = 2 * i;
    f.timestamp_s = 2 * i / 24.0;
    f.rgb = Image::Create(w, h, 3);
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w * 3; ++x) {
        f.rgb.Row(y)[x] = a.data[(static_cast<size_t>(i) * h + y) * w * 3 + x];
      }
    }
    frames.push_back(std::move(f));
  }
  return frames;
}

TEST(Must3rTracker, OrbitMatchesUpstreamThroughTheConversion) {
  // Random weights give no usable focal (upstream's estimates are below 0.01
  // px): the pose and principal-point conversion is checked with a known
  // focal; the focal's own map back to source pixels has its known-answer
  // test in the model module.
  Must3rTrackerOptions options = TinyOptions();
  options.common.focal_px = 200.0;  // source pixels
  Must3rTracker tracker(options);
  EXPECT_EQ(tracker.Name(), "must3r");
  const TrackResult r = tracker.Track(OrbitFrames(), nullptr);
  ASSERT_EQ(r.track.frames.size(), 16u);
  EXPECT_TRUE(r.summary.warnings.empty());
  EXPECT_EQ(r.track.width, 160);
  EXPECT_EQ(r.track.height, 90);
  const auto c2w = testing::ReadNpy(kData + "/video_orbit/c2w.npy").AsFloat64();
  // Crop 90x135 at x = 12 (12.5 rounded half to even), scale 135/96.
  const double s = 135.0 / 96.0;
  for (size_t i = 0; i < 16; ++i) {
    const TrackedFrame& f = r.track.frames[i];
    EXPECT_EQ(f.index, static_cast<int64_t>(2 * i));
    EXPECT_NEAR(f.intrinsics.fx, 200.0, 1e-9);
    EXPECT_NEAR(f.intrinsics.fy, 200.0, 1e-9);
    EXPECT_NEAR(f.intrinsics.cx, 12 + s * 48.5 - 0.5, 1e-9);
    EXPECT_NEAR(f.intrinsics.cy, s * 32.5 - 0.5, 1e-9);
    // world_from_cam = upstream c2w (OpenCV camera axes).
    const Rigid3d world_from_cam = f.cam_from_world.Inverse();
    const Eigen::Matrix3d rot = world_from_cam.rotation.toRotationMatrix();
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        EXPECT_NEAR(rot(a, b), c2w[i * 16 + a * 4 + b], 1e-4);
      }
      EXPECT_NEAR(world_from_cam.translation(a), c2w[i * 16 + a * 4 + 3], 1e-4);
    }
    EXPECT_GT(f.confidence, 0.0);
    EXPECT_LT(f.confidence, 1.0);
  }
  EXPECT_GT(r.points.Size(), 0);
  EXPECT_LE(r.points.Size(), 500);
  EXPECT_EQ(r.points.frame_index.size(), static_cast<size_t>(r.points.Size()));
  EXPECT_TRUE(r.points.xyz.allFinite());
  EXPECT_EQ(r.summary.registered, 16);
  EXPECT_EQ(r.summary.total, 16);
  ASSERT_TRUE(r.summary.focal_px.has_value());
  EXPECT_NEAR(*r.summary.focal_px, 200.0, 1e-9);
}

TEST(Must3rTracker, NoUsableFocalIsAClearError) {
  // Upstream's focal estimates for these frames are all below 0.01 px (random
  // weights): no frame is usable, and the error names the way out.
  const auto focal =
      testing::ReadNpy(kData + "/video_orbit/focal.npy").AsFloat64();
  for (size_t i = 0; i < 16; ++i) ASSERT_LT(focal[i], 0.01);
  try {
    Must3rTracker(TinyOptions()).Track(OrbitFrames(), nullptr);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no usable focal length for any of "
                                         "the 16 frames"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--focal-px"), std::string::npos);
  }
}

TEST(Must3rTracker, OverlapKeyframeRuleMatchesUpstreamSlamMode) {
  // The video_overlap fixture: upstream's demo vidslam mode, local context 0,
  // threshold 0.75 (random weights score far above upstream's 0.05). Poses
  // through the conversion, with a known focal as above.
  Must3rTrackerOptions options = TinyOptions();
  options.keyframe_rule = "overlap";
  options.local_context = 0;
  options.overlap_threshold = 0.75;
  options.common.focal_px = 200.0;
  const TrackResult r = Must3rTracker(options).Track(OrbitFrames(), nullptr);
  ASSERT_EQ(r.track.frames.size(), 16u);
  const auto c2w =
      testing::ReadNpy(kData + "/video_overlap/c2w.npy").AsFloat64();
  for (size_t i = 0; i < 16; ++i) {
    const Rigid3d world_from_cam = r.track.frames[i].cam_from_world.Inverse();
    const Eigen::Matrix3d rot = world_from_cam.rotation.toRotationMatrix();
    for (int a = 0; a < 3; ++a) {
      for (int b = 0; b < 3; ++b) {
        EXPECT_NEAR(rot(a, b), c2w[i * 16 + a * 4 + b], 1e-4);
      }
      EXPECT_NEAR(world_from_cam.translation(a), c2w[i * 16 + a * 4 + 3], 1e-4);
    }
  }
}

TEST(Must3rTracker, FramesOfAnotherSizeAreRefused) {
  // A portrait frame among landscape ones: the network takes mixed shapes
  // (video_multi_ar), a track file does not.
  std::vector<Frame> frames = OrbitFrames();
  frames.resize(4);
  const Image& src = frames[2].rgb;
  Image portrait = Image::Create(src.height, src.width, 3);
  for (int y = 0; y < portrait.height; ++y) {
    for (int x = 0; x < portrait.width; ++x) {
      for (int c = 0; c < 3; ++c)
        portrait.Row(y)[3 * x + c] = src.Row(x)[3 * y + c];
    }
  }
  frames[2].rgb = portrait;
  Must3rTracker tracker(TinyOptions());
  try {
    tracker.Track(frames, nullptr);
    FAIL() << "no throw";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("frame 4 is 90x160"), std::string::npos) << what;
    EXPECT_NE(what.find("all frames must be 160x90"), std::string::npos)
        << what;
  }
}

TEST(Must3rTracker, Badarg) {
  Must3rTrackerOptions options = TinyOptions();
  options.weights.clear();
  EXPECT_THROW(Must3rTracker{options}, InputError);
  options = TinyOptions();
  options.custom_buckets.clear();
  try {
    Must3rTracker tracker(options);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(
        std::string(e.what()).find("--image-size 128: must be 224, 512 or 0"),
        std::string::npos);
  }
  options = TinyOptions();
  options.image_size = 512;  // weights are for 128: advise the option's 0
  try {
    Must3rTracker tracker(options);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("--image-size 512: the weights '"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("are for image size 128; give "
                                         "--image-size 0 (the weights' own)"),
              std::string::npos)
        << e.what();
  }
  options = TinyOptions();
  options.batch_frames = 0;
  EXPECT_THROW(Must3rTracker{options}, InputError);
  for (const std::string field : {"keyframe_rule", "overlap_percentile"}) {
    std::string flag = "--" + field;
    std::replace(flag.begin(), flag.end(), '_', '-');
    options = TinyOptions();
    options.keyframe_rule = field == "keyframe_rule" ? "slam" : "overlap";
    if (field == "overlap_percentile") options.overlap_percentile = 101.0;
    try {
      Must3rTracker tracker(options);
      FAIL() << field;
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(flag, 0), 0u) << e.what();
    }
  }
}

}  // namespace
}  // namespace vanelia
