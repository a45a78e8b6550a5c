// ClassicalTracker end to end: option checks, bad input, cancel, a tripod
// pan made by rotating a real frame (exact rotation-only truth), a flat floor
// seen from a moving camera (exact plane-induced warps), the orbit clip
// (tests/data/footage/orbit) sampled every 4th frame, and the generator's
// hard clips (tests/data/clips: tripod pan, distorted lens, low-texture
// floor, motion blur, a walker crossing the view, a zoom, a telephoto arc,
// a hand-held walk, a pure sideways move), each scored against its gt.json.
#include "vanelia/track/classical/classical_tracker.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/geometry/umeyama.hpp"
#include "vanelia/trackfile/gt_import.hpp"

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/SVD>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace vanelia {
namespace {

const std::string kOrbitDir =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/footage/orbit";
const std::string kClipsDir =
    std::string(VANELIA_SOURCE_DIR) + "/tests/data/clips";

std::vector<Frame> ReadFrames(const std::string& path, int64_t every) {
  ReadOptions options;
  options.every = every;
  auto reader = VideoReader::Open(path, options);
  std::vector<Frame> frames;
  Frame frame;
  while (reader->Next(&frame)) frames.push_back(frame);
  return frames;
}

double AngleDeg(const Eigen::Quaterniond& a, const Eigen::Quaterniond& b) {
  return a.angularDistance(b) * 180.0 / M_PI;
}

TEST(ClassicalTracker, OptionsBadarg) {
  ClassicalTrackerOptions options;
  options.klt_window_px = 4;
  try {
    options.Check();
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("klt_window_px"));
  }
  options = {};
  options.common.focal_px = -3.0;
  try {
    ClassicalTracker tracker(options);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("focal_px"));
  }
  options = {};
  options.adaptive_outlier_factor = -1.0;
  try {
    options.Check();
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("adaptive_outlier_factor = -1"));
  }
}

TEST(ClassicalTracker, TooFewFramesBadarg) {
  std::vector<Frame> frames(2);
  for (auto& f : frames) f.rgb = Image::Create(96, 64);
  ClassicalTracker tracker;
  try {
    tracker.Track(frames, nullptr);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("2 frame"));
  }
}

TEST(ClassicalTracker, BlackClipBadarg) {
  std::vector<Frame> frames(12);
  for (size_t i = 0; i < frames.size(); ++i) {
    frames[i].index = static_cast<int64_t>(i);
    frames[i].rgb = Image::Create(160, 90);
  }
  ClassicalTracker tracker;
  try {
    tracker.Track(frames, nullptr);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("cannot"));
  }
}

TEST(ClassicalTracker, FramesOfAnotherSizeBadarg) {
  std::vector<Frame> frames(4);
  for (auto& f : frames) f.rgb = Image::Create(96, 64);
  frames[2].rgb = Image::Create(32, 48);
  ClassicalTracker tracker;
  EXPECT_THROW(tracker.Track(frames, nullptr), InputError);
}

TEST(ClassicalTracker, CallbackCancels) {
  std::vector<Frame> frames = ReadFrames(kOrbitDir + "/video.mp4", 8);
  ClassicalTracker tracker;
  int calls = 0;
  const ProgressCallback cancel = [&calls](const Progress&) {
    return ++calls < 2;
  };
  EXPECT_THROW(tracker.Track(frames, cancel), Cancelled);
}

// A cancel during the closing solve is seen inside the bundle adjustment
// (polled every Ceres iteration), not at the next stage: the callback
// answers false to the first call that repeats the count of the solve's
// first stage (only polls from inside a step repeat a count), and Cancelled
// comes well within a second, before any later stage is reported.
TEST(ClassicalTracker, CancelInsideTheClosingBundleAdjustment) {
  const std::vector<Frame> frames = ReadFrames(kOrbitDir + "/video.mp4", 3);
  ClassicalTracker tracker;
  int64_t first_solve_done = -1;
  int64_t last_solve_done = -1;
  bool cancelled = false;
  std::chrono::steady_clock::time_point cancelled_at;
  const ProgressCallback cancel = [&](const Progress& p) {
    if (p.stage != "solve") return true;
    last_solve_done = p.done;
    if (first_solve_done < 0) {
      first_solve_done = p.done;
      return true;
    }
    if (p.done == first_solve_done && !cancelled) {
      cancelled = true;
      cancelled_at = std::chrono::steady_clock::now();
      return false;
    }
    return !cancelled;
  };
  EXPECT_THROW(tracker.Track(frames, cancel), Cancelled);
  ASSERT_TRUE(cancelled) << "no poll inside the first solve stage";
  const double latency_s = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - cancelled_at)
                               .count();
  EXPECT_LT(latency_s, 0.5);
  EXPECT_EQ(last_solve_done, first_solve_done);
}

// The same frames give the same track bit for bit: run after run in one
// process (OpenCV's RANSAC draws from a thread-local generator that earlier
// work advances) and whatever the thread count (Ceres' threaded sums add in
// scheduling order; the mapper's own parallel steps split work statically).
TEST(ClassicalTracker, SameInputGivesTheSameTrackBitForBit) {
  const std::vector<Frame> frames = ReadFrames(kOrbitDir + "/video.mp4", 8);
  ClassicalTrackerOptions options;
  options.num_threads = 2;
  const TrackResult first = ClassicalTracker(options).Track(frames, nullptr);
  ASSERT_EQ(first.summary.registered, 12);
  for (int threads : {2, 1}) {
    options.num_threads = threads;
    const TrackResult again = ClassicalTracker(options).Track(frames, nullptr);
    ASSERT_EQ(again.track.frames.size(), first.track.frames.size());
    for (size_t i = 0; i < first.track.frames.size(); ++i) {
      const TrackedFrame& a = first.track.frames[i];
      const TrackedFrame& b = again.track.frames[i];
      EXPECT_EQ(a.index, b.index);
      EXPECT_EQ(a.cam_from_world.rotation.coeffs(),
                b.cam_from_world.rotation.coeffs())
          << "frame " << a.index << ", " << threads << " thread(s)";
      EXPECT_EQ(a.cam_from_world.translation, b.cam_from_world.translation)
          << "frame " << a.index << ", " << threads << " thread(s)";
      EXPECT_EQ(a.intrinsics.fx, b.intrinsics.fx);
    }
    EXPECT_EQ(again.points.xyz, first.points.xyz);
  }
}

// A pan about the camera centre: frame k is frame 0 seen by a camera turned
// by k degrees about its y axis (x_k = K R_k K^-1 x_0).
TEST(ClassicalTracker, TripodPanIsSolvedAsRotationOnly) {
  const Frame first = ReadFrames(kOrbitDir + "/video.mp4", 200).front();
  const double f = 500.0;
  cv::Matx33d K(f, 0, 319.5, 0, f, 179.5, 0, 0, 1);
  const cv::Mat src(first.rgb.height,
                    first.rgb.width,
                    CV_8UC3,
                    const_cast<uint8_t*>(first.rgb.data.data()),
                    static_cast<size_t>(first.rgb.stride));
  std::vector<Frame> frames;
  std::vector<Eigen::Quaterniond> truth;
  for (int k = 0; k < 16; ++k) {
    const double a = 0.4 * k * M_PI / 180.0;
    const Eigen::Quaterniond q(Eigen::AngleAxisd(a, Eigen::Vector3d::UnitY()));
    const Eigen::Matrix3d R = q.toRotationMatrix();
    cv::Matx33d Rc;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) Rc(i, j) = R(i, j);
    }
    const cv::Matx33d H = K * Rc * K.inv();
    Frame frame;
    frame.index = k;
    frame.rgb = Image::Create(first.rgb.width, first.rgb.height);
    cv::Mat dst(frame.rgb.height,
                frame.rgb.width,
                CV_8UC3,
                frame.rgb.data.data(),
                static_cast<size_t>(frame.rgb.stride));
    cv::warpPerspective(src, dst, cv::Mat(H), dst.size(), cv::INTER_CUBIC);
    frames.push_back(std::move(frame));
    truth.push_back(q);
  }
  ClassicalTracker tracker;
  const TrackResult result = tracker.Track(frames, nullptr);
  ASSERT_EQ(result.summary.registered, 16);
  EXPECT_THAT(result.summary.warnings,
              ::testing::Contains(::testing::HasSubstr("tripod")));
  ASSERT_TRUE(result.summary.focal_px.has_value());
  EXPECT_NEAR(*result.summary.focal_px, f, 0.03 * f);
  for (const TrackedFrame& tf : result.track.frames) {
    EXPECT_NEAR(tf.cam_from_world.translation.norm(), 0.0, 1e-9);
    const Eigen::Quaterniond rel =
        tf.cam_from_world.rotation *
        result.track.frames.front().cam_from_world.rotation.conjugate();
    EXPECT_LT(AngleDeg(rel, truth[tf.index]), 0.1) << "frame " << tf.index;
  }
}

// A camera about 1.2 m above a flat textured floor, looking 50 degrees down
// and moving 0.8 m sideways on a curve while it turns: every frame pair is a
// homography (the floor fills the view), yet the camera translates. It must not
// be taken for a tripod pan; the centres follow the truth.
TEST(ClassicalTracker, FlatFloorWithTranslationIsNotATripod) {
  const Frame first = ReadFrames(kOrbitDir + "/video.mp4", 200).front();
  const cv::Mat texture(first.rgb.height,
                        first.rgb.width,
                        CV_8UC3,
                        const_cast<uint8_t*>(first.rgb.data.data()),
                        static_cast<size_t>(first.rgb.stride));
  const double f = 500.0;
  Eigen::Matrix3d K;
  K << f, 0, 319.5, 0, f, 179.5, 0, 0, 1;
  // Texture pixel (u, v) -> floor point (X, Y) in metres: 1 px = 5 mm.
  Eigen::Matrix3d floor_from_texture;
  floor_from_texture << 0.005, 0, -1.6, 0, -0.005, 2.4, 0, 0, 1;
  const int n = 20;
  std::vector<Frame> frames;
  std::vector<Eigen::Vector3d> centres;
  for (int k = 0; k < n; ++k) {
    const double s = static_cast<double>(k) / (n - 1);
    const Eigen::Vector3d centre(
        -0.4 + 0.8 * s, 0.3 * s * s, 1.2 + 0.15 * std::sin(M_PI * s));
    const double pitch = 50.0 * M_PI / 180.0;
    const double yaw = (-6.0 + 12.0 * s) * M_PI / 180.0;
    // World: Z up, the camera looks along +Y (yawed), pitched down.
    const Eigen::Vector3d z(std::sin(yaw) * std::cos(pitch),
                            std::cos(yaw) * std::cos(pitch),
                            -std::sin(pitch));
    const Eigen::Vector3d x =
        z.cross(Eigen::Vector3d::UnitZ()).normalized();  // image right
    const Eigen::Vector3d y = z.cross(x);                // image down
    Eigen::Matrix3d R;
    R.row(0) = x;
    R.row(1) = y;
    R.row(2) = z;
    const Eigen::Vector3d t = -R * centre;
    Eigen::Matrix3d P;  // floor (X, Y, 1) -> image
    P.col(0) = R.col(0);
    P.col(1) = R.col(1);
    P.col(2) = t;
    const Eigen::Matrix3d H = K * P * floor_from_texture;
    cv::Matx33d Hc;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) Hc(i, j) = H(i, j);
    }
    Frame frame;
    frame.index = k;
    frame.rgb = Image::Create(640, 360);
    cv::Mat dst(360,
                640,
                CV_8UC3,
                frame.rgb.data.data(),
                static_cast<size_t>(frame.rgb.stride));
    cv::warpPerspective(texture,
                        dst,
                        cv::Mat(Hc),
                        dst.size(),
                        cv::INTER_CUBIC,
                        cv::BORDER_REFLECT);
    frames.push_back(std::move(frame));
    centres.push_back(centre);
  }
  ClassicalTracker tracker;
  const TrackResult result = tracker.Track(frames, nullptr);
  for (const std::string& w : result.summary.warnings) {
    EXPECT_THAT(w, ::testing::Not(::testing::HasSubstr("tripod")));
  }
  ASSERT_GE(result.summary.registered, n - 1);
  ASSERT_TRUE(result.summary.focal_px.has_value());
  EXPECT_NEAR(*result.summary.focal_px, f, 0.03 * f);
  const int m = static_cast<int>(result.track.frames.size());
  Eigen::Matrix3Xd est(3, m);
  Eigen::Matrix3Xd ref(3, m);
  for (int i = 0; i < m; ++i) {
    const TrackedFrame& tf = result.track.frames[i];
    est.col(i) = tf.cam_from_world.Inverse().translation;
    ref.col(i) = centres[static_cast<size_t>(tf.index)];
  }
  const std::optional<Sim3d> gt_from_est = EstimateSim3d(est, ref);
  ASSERT_TRUE(gt_from_est.has_value());
  double max_err = 0.0;
  for (int i = 0; i < m; ++i) {
    max_err = std::max(
        max_err,
        (*gt_from_est * Eigen::Vector3d(est.col(i)) - ref.col(i)).norm());
  }
  EXPECT_LT(max_err, 0.01 * 0.8);  // 1 % of the 0.8 m path
}

// A locked-off camera and a textured card sliding across the view: solved
// as a still camera, and the summary says that something else moved.
TEST(ClassicalTracker, StillCameraWithAMovingObjectSaysSo) {
  const Frame first = ReadFrames(kOrbitDir + "/video.mp4", 200).front();
  const cv::Mat src(first.rgb.height,
                    first.rgb.width,
                    CV_8UC3,
                    const_cast<uint8_t*>(first.rgb.data.data()),
                    static_cast<size_t>(first.rgb.stride));
  const cv::Mat card = src(cv::Rect(400, 200, 140, 120)).clone();
  std::vector<Frame> frames;
  for (int k = 0; k < 16; ++k) {
    Frame frame;
    frame.index = k;
    frame.rgb = Image::Create(first.rgb.width, first.rgb.height);
    cv::Mat dst(frame.rgb.height,
                frame.rgb.width,
                CV_8UC3,
                frame.rgb.data.data(),
                static_cast<size_t>(frame.rgb.stride));
    src.copyTo(dst);
    card.copyTo(dst(cv::Rect(40 + 25 * k, 30, card.cols, card.rows)));
    frames.push_back(std::move(frame));
  }
  ClassicalTracker tracker;
  const TrackResult result = tracker.Track(frames, nullptr);
  ASSERT_EQ(result.summary.registered, 16);
  for (const TrackedFrame& tf : result.track.frames) {
    EXPECT_LT(AngleDeg(tf.cam_from_world.rotation,
                       result.track.frames.front().cam_from_world.rotation),
              0.05);
  }
  EXPECT_THAT(result.summary.warnings,
              ::testing::Contains(::testing::HasSubstr("solved as still")));
}

// The rendered orbit, every 4th frame (2.5 degrees of arc apart): all 24
// frames registered, focal, orientations and centres close to the truth.
TEST(ClassicalTracker, OrbitClipEveryFourthFrame) {
  const std::vector<Frame> frames = ReadFrames(kOrbitDir + "/video.mp4", 4);
  ASSERT_EQ(frames.size(), 24u);
  const TrackFile gt = ImportGroundTruth(kOrbitDir + "/gt.json");
  ClassicalTracker tracker;
  const TrackResult result = tracker.Track(frames, nullptr);
  ASSERT_EQ(result.summary.registered, 24);
  ASSERT_TRUE(result.summary.focal_px.has_value());
  const double true_focal = gt.frames.front().intrinsics.fx;
  EXPECT_NEAR(*result.summary.focal_px, true_focal, 0.01 * true_focal);
  ASSERT_TRUE(result.summary.reproj_err_px.has_value());
  EXPECT_LT(*result.summary.reproj_err_px, 0.8);
  EXPECT_GT(result.points.Size(), 300);

  Eigen::Matrix3Xd est(3, 24);
  Eigen::Matrix3Xd ref(3, 24);
  for (int i = 0; i < 24; ++i) {
    const TrackedFrame& tf = result.track.frames[i];
    const TrackedFrame& g = gt.frames[static_cast<size_t>(tf.index)];
    ASSERT_EQ(g.index, tf.index);
    est.col(i) = tf.cam_from_world.Inverse().translation;
    ref.col(i) = g.cam_from_world.Inverse().translation;
  }
  const std::optional<Sim3d> gt_from_est = EstimateSim3d(est, ref);
  ASSERT_TRUE(gt_from_est.has_value());
  double path = 0.0;
  double max_err = 0.0;
  double max_angle = 0.0;
  for (int i = 0; i < 24; ++i) {
    if (i > 0) path += (ref.col(i) - ref.col(i - 1)).norm();
    max_err = std::max(
        max_err,
        (*gt_from_est * Eigen::Vector3d(est.col(i)) - ref.col(i)).norm());
    const TrackedFrame& tf = result.track.frames[i];
    const TrackedFrame& g = gt.frames[static_cast<size_t>(tf.index)];
    // Orientation in the gt world: R_est * R_sim^-1 against R_gt.
    const Eigen::Quaterniond mapped =
        tf.cam_from_world.rotation * gt_from_est->rotation.conjugate();
    max_angle =
        std::max(max_angle, AngleDeg(mapped, g.cam_from_world.rotation));
  }
  EXPECT_LT(max_err, 0.005 * path);
  EXPECT_LT(max_angle, 0.5);
}

// How far a track is from the truth: orientations after the best aligning
// rotation, and, with a moving camera, centres after a similarity fit (as a
// fraction of the path length).
struct Score {
  int registered = 0;
  double max_angle_deg = 0.0;
  double mean_angle_deg = 0.0;
  // Fraction of the path; 0 for a tripod, infinite for a straight path.
  double max_centre_err = 0.0;
};

Score ScoreAgainst(const TrackResult& result, const TrackFile& gt) {
  Score score;
  const auto& frames = result.track.frames;
  score.registered = static_cast<int>(frames.size());
  if (frames.empty()) return score;
  const auto truth = [&](const TrackedFrame& tf) -> const TrackedFrame& {
    const TrackedFrame& g = gt.frames.at(static_cast<size_t>(tf.index));
    EXPECT_EQ(g.index, tf.index);
    return g;
  };
  const int m = static_cast<int>(frames.size());
  Eigen::Matrix3Xd est(3, m);
  Eigen::Matrix3Xd ref(3, m);
  double path = 0.0;
  for (int i = 0; i < m; ++i) {
    est.col(i) = frames[i].cam_from_world.Inverse().translation;
    ref.col(i) = truth(frames[i]).cam_from_world.Inverse().translation;
    if (i > 0) path += (ref.col(i) - ref.col(i - 1)).norm();
  }
  std::optional<Sim3d> gt_from_est;
  if (path > 1e-6) {
    gt_from_est = EstimateSim3d(est, ref);
    // A straight path fixes no rotation about itself: no centre score
    // (infinite, so that a test that asks for one fails).
    if (!gt_from_est) {
      score.max_centre_err = std::numeric_limits<double>::infinity();
    }
  }
  // Orientations after the rotation that best aligns them (chordal mean of
  // R_est^T R_gt, as eval_track.py's rotation error).
  Eigen::Matrix3d sum = Eigen::Matrix3d::Zero();
  for (const TrackedFrame& tf : frames) {
    sum += tf.cam_from_world.rotation.toRotationMatrix().transpose() *
           truth(tf).cam_from_world.rotation.toRotationMatrix();
  }
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(
      sum, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d D = Eigen::Matrix3d::Identity();
  if ((svd.matrixU() * svd.matrixV().transpose()).determinant() < 0) {
    D(2, 2) = -1.0;
  }
  const Eigen::Quaterniond align(svd.matrixU() * D * svd.matrixV().transpose());
  for (int i = 0; i < m; ++i) {
    const TrackedFrame& tf = frames[i];
    const double angle = AngleDeg(tf.cam_from_world.rotation * align,
                                  truth(tf).cam_from_world.rotation);
    score.max_angle_deg = std::max(score.max_angle_deg, angle);
    score.mean_angle_deg += angle / m;
    if (gt_from_est) {
      score.max_centre_err = std::max(
          score.max_centre_err,
          (*gt_from_est * Eigen::Vector3d(est.col(i)) - ref.col(i)).norm() /
              path);
    }
  }
  return score;
}

bool HasWeakSolveWarning(const TrackResult& result) {
  for (const std::string& w : result.summary.warnings) {
    if (w.find("weak solve") != std::string::npos) return true;
  }
  return false;
}

// A committed hard clip (tests/data/clips/NAME) tracked, with its truth.
struct ClipRun {
  TrackFile gt;
  TrackResult result;
  double true_focal = 0.0;
};

ClipRun TrackClip(const std::string& name,
                  const ClassicalTrackerOptions& options = {}) {
  const std::string dir = kClipsDir + "/" + name;
  ClipRun run;
  run.gt = ImportGroundTruth(dir + "/gt.json");
  run.true_focal = run.gt.frames.front().intrinsics.fx;
  ClassicalTracker tracker(options);
  run.result = tracker.Track(ReadFrames(dir + "/video.mp4", 1), nullptr);
  return run;
}

bool HasZoomWarning(const TrackResult& result) {
  for (const std::string& w : result.summary.warnings) {
    if (w.rfind("zoom:", 0) == 0) return true;
  }
  return false;
}

// Every frame registered, no weak-solve warning, a fixed lens not taken for
// a zoom, the focal within `focal_tolerance` (relative) of the truth.
void ExpectSolved(const ClipRun& run, double focal_tolerance) {
  ASSERT_EQ(run.result.summary.registered, 24);
  EXPECT_FALSE(HasWeakSolveWarning(run.result));
  EXPECT_FALSE(HasZoomWarning(run.result));
  ASSERT_TRUE(run.result.summary.focal_px.has_value());
  EXPECT_NEAR(*run.result.summary.focal_px,
              run.true_focal,
              focal_tolerance * run.true_focal);
}

// A committed clip tracked with the defaults: solved (ExpectSolved), and
// its orientations and centres within the bounds.
struct Bounds {
  double focal;           // relative focal error
  double max_angle_deg;   // largest orientation error
  double max_centre_err;  // largest centre error, fraction of the path
  double mean_angle_deg = 180.0;
};

void ExpectAccurate(const std::string& clip, const Bounds& bounds) {
  const ClipRun run = TrackClip(clip);
  ASSERT_NO_FATAL_FAILURE(ExpectSolved(run, bounds.focal));
  const Score score = ScoreAgainst(run.result, run.gt);
  EXPECT_LT(score.max_angle_deg, bounds.max_angle_deg);
  EXPECT_LT(score.mean_angle_deg, bounds.mean_angle_deg);
  EXPECT_LT(score.max_centre_err, bounds.max_centre_err);
}

// Rendered pan about a fixed centre (24 frames, 40 degrees, 28 mm): solved
// as rotation-only, with the focal.
TEST(ClassicalTracker, RenderedTripodPan) {
  const ClipRun run = TrackClip("tripod");
  ASSERT_NO_FATAL_FAILURE(ExpectSolved(run, 0.005));
  EXPECT_THAT(run.result.summary.warnings,
              ::testing::Contains(::testing::HasSubstr("rotation-only")));
  for (const TrackedFrame& tf : run.result.track.frames) {
    EXPECT_NEAR(tf.cam_from_world.translation.norm(), 0.0, 1e-9);
  }
  EXPECT_LT(ScoreAgainst(run.result, run.gt).max_angle_deg, 0.1);
}

// Rendered arc through a barrel-distorted lens (OpenCV k1 = -0.15,
// k2 = 0.03, 24 mm): lens mode auto (the CLI's and the add-on's default)
// finds the distortion.
TEST(ClassicalTracker, RenderedDistortedLens) {
  ClassicalTrackerOptions auto_lens;
  auto_lens.common.lens = LensMode::kAuto;
  const ClipRun run = TrackClip("distort", auto_lens);
  ASSERT_NO_FATAL_FAILURE(ExpectSolved(run, 0.03));
  const TrackResult& result = run.result;
  EXPECT_EQ(result.track.lens.model, LensDistortion::Model::kRadialK1K2);
  EXPECT_NEAR(result.track.lens.k1, -0.15, 0.015);
  EXPECT_NEAR(result.track.lens.k2, 0.03, 0.01);
  const Score score = ScoreAgainst(result, run.gt);
  EXPECT_LT(score.max_angle_deg, 0.2);
  EXPECT_LT(score.max_centre_err, 0.005);

  // Told there is no distortion, the solve is worse (the lens matters).
  ClassicalTrackerOptions pinhole;
  pinhole.common.lens = LensMode::kNone;
  const TrackResult flat = TrackClip("distort", pinhole).result;
  EXPECT_EQ(flat.track.lens.model, LensDistortion::Model::kPinhole);
  ASSERT_TRUE(flat.summary.reproj_err_px.has_value());
  EXPECT_GT(*flat.summary.reproj_err_px, *result.summary.reproj_err_px);
}

// Rendered arc over a nearly uniform floor with two plain boxes, sensor-like
// noise in every frame: few trackable features. Whatever the tracker makes
// of it, it must not be a confident wrong track: either close to the truth
// or flagged as a weak solve.
TEST(ClassicalTracker, RenderedLowTextureFloorIsRightOrSaysItIsWeak) {
  const ClipRun run = TrackClip("lowtex");
  const TrackResult& result = run.result;
  const Score score = ScoreAgainst(result, run.gt);
  const bool accurate =
      score.registered == 24 && result.summary.focal_px.has_value() &&
      std::abs(*result.summary.focal_px - run.true_focal) <
          0.02 * run.true_focal &&
      score.max_angle_deg < 0.5 && score.max_centre_err < 0.02;
  EXPECT_TRUE(accurate || HasWeakSolveWarning(result))
      << "registered " << score.registered << ", angle " << score.max_angle_deg
      << " deg, centre " << score.max_centre_err;
  // An implausible lens is never kept.
  if (result.track.lens.model == LensDistortion::Model::kRadialK1K2) {
    EXPECT_LT(std::abs(result.track.lens.k1), 1.0);
  }
}

// Rendered 60-degree arc (2.5 degrees per frame) with motion blur (shutter
// half a frame: streaks of about 10 px).
TEST(ClassicalTracker, RenderedMotionBlur) {
  ExpectAccurate("blur", {0.01, 0.5, 0.005, 0.2});
}

// Rendered arc while a person-sized textured box walks across the view:
// its tracks move against the scene and must not bend the camera.
TEST(ClassicalTracker, RenderedWalkerCrossingTheView) {
  ExpectAccurate("walker", {0.02, 0.2, 0.005});
}

// Every frame's focal against the truth: the largest relative error, and
// the zoom ratio (last / first frame) against the true one.
struct FocalScore {
  double max_err = 0.0;
  double ratio = 0.0;
  double true_ratio = 0.0;
};

FocalScore ScoreFocals(const ClipRun& run) {
  FocalScore score;
  const auto& frames = run.result.track.frames;
  for (const TrackedFrame& tf : frames) {
    const double truth =
        run.gt.frames.at(static_cast<size_t>(tf.index)).intrinsics.fx;
    score.max_err =
        std::max(score.max_err, std::abs(tf.intrinsics.fx / truth - 1.0));
  }
  score.ratio = frames.back().intrinsics.fx / frames.front().intrinsics.fx;
  score.true_ratio =
      run.gt.frames.at(static_cast<size_t>(frames.back().index)).intrinsics.fx /
      run.gt.frames.at(static_cast<size_t>(frames.front().index)).intrinsics.fx;
  return score;
}

// The zoom clip solved one focal per frame: every frame registered, the
// zoom warning when (and only when) the tracker found the zoom itself, the
// zoom's ratio within 3 %, each focal within 15 %. The zoom's shape (ratio)
// is solved well, its level less so (measured 7-12 % high on this 1 s clip,
// 4-7 % on its 2 s version: a zoom pins the focal less than a fixed lens;
// the warning says so): the bounds catch a confident wrong track, not the
// last per cent.
void ExpectZoomSolved(const ClipRun& run, bool detected) {
  ASSERT_EQ(run.result.summary.registered, 24);
  EXPECT_EQ(HasZoomWarning(run.result), detected);
  const FocalScore focal = ScoreFocals(run);
  EXPECT_NEAR(focal.ratio, focal.true_ratio, 0.03 * focal.true_ratio);
  EXPECT_LT(focal.max_err, 0.15);
  const Score score = ScoreAgainst(run.result, run.gt);
  EXPECT_LT(score.max_angle_deg, 1.5);
  EXPECT_LT(score.max_centre_err, 0.05);
}

// Rendered arc while the lens zooms 24 -> 40 mm. Asked for one focal (the
// default), the tracker finds that the focal changes, says so and solves
// one per frame; with one focal for the clip it was a confident wrong
// track (focal off by 76-129 %, orientations by up to 10 degrees, 0.4 px
// error).
TEST(ClassicalTracker, RenderedZoomIsDetectedAndSolvedPerFrame) {
  ExpectZoomSolved(TrackClip("zoom"), true);
}

// The same clip with --per-frame-focal: solved per frame from the start, no
// zoom warning (it was asked for).
TEST(ClassicalTracker, RenderedZoomWithPerFrameFocal) {
  ClassicalTrackerOptions options;
  options.common.per_frame_focal = true;
  ExpectZoomSolved(TrackClip("zoom", options), false);
}

// Rendered 20-degree arc at 8 m through a 50 mm lens: little perspective,
// the focal weakly pinned. The focal profile used to compare its trials by
// their own cost per residual, which favoured a trial that had dropped the
// hard points: the focal came out 30 % short and the orientations 8 degrees
// off, with no warning.
TEST(ClassicalTracker, RenderedTelephotoArc) {
  ExpectAccurate("tele", {0.03, 0.3, 0.01});
}

// Rendered sideways walk (2 m) with a slow pan and hand shake (about 0.5
// degrees, 1.5 cm), 35 mm.
TEST(ClassicalTracker, RenderedHandheldWalk) {
  ExpectAccurate("handheld", {0.03, 0.5, 0.01});
}

// Rendered straight 2 m move to the right, no rotation: a pure translation
// leaves the focal unobservable (a longer focal with the scene stretched in
// depth projects the same). The tracker must say so, not pick one and keep
// quiet; the orientations are still exact.
TEST(ClassicalTracker, RenderedTruckSaysTheFocalIsWeak) {
  const ClipRun run = TrackClip("truck");
  ASSERT_EQ(run.result.summary.registered, 24);
  EXPECT_THAT(
      run.result.summary.warnings,
      ::testing::Contains(::testing::HasSubstr("barely constrains the focal")));
  EXPECT_FALSE(HasZoomWarning(run.result));
  EXPECT_LT(ScoreAgainst(run.result, run.gt).max_angle_deg, 0.1);
}

}  // namespace
}  // namespace vanelia
