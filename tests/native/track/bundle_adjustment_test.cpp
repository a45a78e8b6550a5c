// Bundle adjustment of the classical tracker on synthetic truth: cameras and
// points from testing/synthetic_scene.hpp (fixed seed), projected through a
// known focal and radial k1 with pixel noise and outliers; perturbed poses,
// points and intrinsics must come back.
#include "vanelia/core/error.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <ceres/rotation.h>
#include <gtest/gtest.h>

#include "testing/synthetic_scene.hpp"
#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/features/feature_tracks_impl.hpp"
#include "track/classical/reconstruction_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {
namespace {

constexpr double kTrueFocal = 600.0;
constexpr double kTrueK1 = -0.08;

struct Problem {
  testing::SyntheticScene scene;
  FeatureTracker tracker{FeatureTrackerOptions{}};
  Reconstruction rec;
};

Eigen::Vector3d RvecOf(const Rigid3d& pose) {
  const Eigen::AngleAxisd aa(pose.rotation);
  return aa.angle() * aa.axis();
}

// Synthetic tracks: each point's consecutive visible run is a track; pixels
// carry radial distortion k1 plus the helper's noise; outliers stay. With
// `zoom` (one factor per camera), camera c's pixels are scaled about the
// principal point by zoom[c]: a pinhole of focal kTrueFocal * zoom[c].
void MakeProblem(double k1,
                 double noise_px,
                 double outliers,
                 Problem* p,
                 const std::vector<double>& zoom = {}) {
  testing::SyntheticSceneOptions options;
  options.num_cameras = 12;
  options.num_floor_points = 300;
  options.num_object_points = 200;
  options.orbit_arc_deg = 60.0;
  options.focal_px = kTrueFocal;
  options.seed = 11;
  p->scene = testing::MakeSyntheticScene(options);
  const auto obs = testing::ProjectPoints(
      p->scene.cameras, p->scene.points_in_world, noise_px, outliers, 5);
  const int n_cams = static_cast<int>(p->scene.cameras.size());
  for (int c = 0; c < n_cams; ++c) p->tracker.AddEmptyFrame();
  CameraModel camera;
  camera.focal = kTrueFocal;
  camera.cx = 319.5;
  camera.cy = 179.5;
  camera.k1 = k1;
  p->rec.camera = camera;
  p->rec.poses.resize(n_cams);
  for (int c = 0; c < n_cams; ++c) {
    p->rec.poses[c].registered = true;
    p->rec.poses[c].rvec = RvecOf(p->scene.cameras[c].cam_from_world);
    p->rec.poses[c].t = p->scene.cameras[c].cam_from_world.translation;
  }
  std::vector<Eigen::Vector3d> track_points;
  for (Eigen::Index i = 0; i < p->scene.points_in_world.cols(); ++i) {
    const Eigen::Vector3d x = p->scene.points_in_world.col(i);
    FeatureTrack track;
    auto flush = [&]() {
      if (track.obs.size() >= 2) {
        p->tracker.AddTrack(track);
        track_points.push_back(x);
      }
      track.obs.clear();
    };
    for (int c = 0; c < n_cams; ++c) {
      if (!obs[c].visible[i]) {
        flush();
        continue;
      }
      Eigen::Vector2d px = obs[c].pixels.col(i);
      if (!obs[c].outlier[i]) {
        // Distort the clean projection, keep the helper's noise.
        double clean[2];
        ProjectPoint(p->rec.poses[c].rvec.data(),
                     p->rec.poses[c].t.data(),
                     x.data(),
                     kTrueFocal,
                     0.0,
                     0.0,
                     camera.cx,
                     camera.cy,
                     clean);
        double distorted[2];
        ProjectPoint(p->rec.poses[c].rvec.data(),
                     p->rec.poses[c].t.data(),
                     x.data(),
                     kTrueFocal,
                     k1,
                     0.0,
                     camera.cx,
                     camera.cy,
                     distorted);
        px += Eigen::Vector2d(distorted[0] - clean[0], distorted[1] - clean[1]);
      }
      if (!zoom.empty()) {
        const Eigen::Vector2d centre(camera.cx, camera.cy);
        px = centre + zoom[c] * (px - centre);
      }
      track.obs.push_back({c, px});
    }
    flush();
  }
  p->rec.Resize(p->tracker);
  for (size_t id = 0; id < track_points.size(); ++id) {
    p->rec.points[id] = track_points[id];
    p->rec.has_point[id] = 1;
  }
}

// Largest camera-centre and rotation error after removing the similarity
// gauge (fit on the centres).
void PoseErrors(const Problem& p, double* centre_err, double* angle_deg) {
  const int n = static_cast<int>(p.rec.poses.size());
  Eigen::Matrix3Xd est(3, n);
  Eigen::Matrix3Xd truth(3, n);
  for (int c = 0; c < n; ++c) {
    est.col(c) = CenterOf(p.rec.poses[c]);
    truth.col(c) = p.scene.cameras[c].cam_from_world.Inverse().translation;
  }
  const Eigen::Vector3d me = est.rowwise().mean();
  const Eigen::Vector3d mt = truth.rowwise().mean();
  const Eigen::Matrix3d cov =
      (truth.colwise() - mt) * (est.colwise() - me).transpose();
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(
      cov, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d S = Eigen::Matrix3d::Identity();
  if ((svd.matrixU() * svd.matrixV().transpose()).determinant() < 0)
    S(2, 2) = -1;
  const Eigen::Matrix3d R = svd.matrixU() * S * svd.matrixV().transpose();
  const double scale = (svd.singularValues().asDiagonal() * S).trace() /
                       (est.colwise() - me).squaredNorm();
  *centre_err = 0.0;
  *angle_deg = 0.0;
  for (int c = 0; c < n; ++c) {
    const Eigen::Vector3d mapped = scale * R * (est.col(c) - me) + mt;
    *centre_err = std::max(*centre_err, (mapped - truth.col(c)).norm());
    Eigen::Matrix3d Rc;
    ceres::AngleAxisToRotationMatrix(p.rec.poses[c].rvec.data(),
                                     ceres::ColumnMajorAdapter3x3(Rc.data()));
    const Eigen::Matrix3d Rt =
        p.scene.cameras[c].cam_from_world.rotation.toRotationMatrix();
    const Eigen::Matrix3d d = Rt.transpose() * (Rc * R.transpose());
    *angle_deg =
        std::max(*angle_deg, Eigen::AngleAxisd(d).angle() * 180.0 / M_PI);
  }
}

void Perturb(Problem* p, double focal_factor) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0.0, 1.0);
  p->rec.camera.focal *= focal_factor;
  p->rec.camera.k1 = 0.0;
  for (size_t c = 1; c < p->rec.poses.size(); ++c) {
    p->rec.poses[c].rvec += 0.01 * Eigen::Vector3d(n(rng), n(rng), n(rng));
    p->rec.poses[c].t += 0.05 * Eigen::Vector3d(n(rng), n(rng), n(rng));
  }
  for (auto& x : p->rec.points) {
    x += 0.03 * Eigen::Vector3d(n(rng), n(rng), n(rng));
  }
}

BundleAdjustmentOptions AllFrames(const Problem& p) {
  BundleAdjustmentOptions ba;
  for (size_t c = 0; c < p.rec.poses.size(); ++c) {
    ba.variable_frames.push_back(static_cast<int>(c));
  }
  ba.max_iterations = 100;
  ba.function_tolerance = 1e-10;
  return ba;
}

TEST(BundleAdjustment, RecoversFocalAndPosesWithNoiseAndOutliers) {
  Problem p;
  MakeProblem(0.0, 0.5, 0.05, &p);
  Perturb(&p, 1.08);
  BundleAdjustmentOptions ba = AllFrames(p);
  ba.refine_focal = true;
  const BundleAdjustmentReport report = BundleAdjust(p.tracker, ba, &p.rec);
  ASSERT_TRUE(report.solved);
  FilterOutliers(p.tracker, 2.0, &p.rec);
  BundleAdjust(p.tracker, ba, &p.rec);
  EXPECT_NEAR(p.rec.camera.focal, kTrueFocal, 0.005 * kTrueFocal);
  double centre_err = 0.0;
  double angle_deg = 0.0;
  PoseErrors(p, &centre_err, &angle_deg);
  EXPECT_LT(centre_err, 0.02);  // metres, on a 5 m orbit
  EXPECT_LT(angle_deg, 0.1);
  EXPECT_LT(MeanReprojectionError(p.tracker, p.rec), 0.8);
}

TEST(BundleAdjustment, RecoversRadialK1) {
  Problem p;
  MakeProblem(kTrueK1, 0.3, 0.0, &p);
  Perturb(&p, 1.03);
  BundleAdjustmentOptions ba = AllFrames(p);
  ba.refine_focal = true;
  ba.refine_k1 = true;
  ASSERT_TRUE(BundleAdjust(p.tracker, ba, &p.rec).solved);
  EXPECT_NEAR(p.rec.camera.k1, kTrueK1, 0.01);
  EXPECT_NEAR(p.rec.camera.focal, kTrueFocal, 0.01 * kTrueFocal);
  EXPECT_LT(MeanReprojectionError(p.tracker, p.rec), 0.5);
}

TEST(BundleAdjustment, HeldFocalStaysAndMotionOnlyMovesOneFrame) {
  Problem p;
  MakeProblem(0.0, 0.3, 0.0, &p);
  const Reconstruction truth = p.rec;
  p.rec.poses[5].t += Eigen::Vector3d(0.05, -0.03, 0.02);
  BundleAdjustmentOptions ba;
  ba.variable_frames = {5};
  ba.refine_points = false;
  ASSERT_TRUE(BundleAdjust(p.tracker, ba, &p.rec).solved);
  EXPECT_EQ(p.rec.camera.focal, kTrueFocal);
  EXPECT_LT((p.rec.poses[5].t - truth.poses[5].t).norm(), 0.005);
  EXPECT_EQ(p.rec.poses[4].t, truth.poses[4].t);
  EXPECT_EQ(p.rec.points[0], truth.points[0]);
}

// A zoom (focal x1 -> x1.6 over the orbit), one focal per frame: held at
// the true level (the geometric mean of the focals), the shape comes back;
// the smoothness prior leaves a steady zoom alone.
TEST(BundleAdjustment, RecoversAZoomPerFrameAtAGivenLevel) {
  std::vector<double> zoom;
  for (int c = 0; c < 12; ++c) zoom.push_back(1.0 + 0.6 * c / 11.0);
  Problem p;
  MakeProblem(0.0, 0.3, 0.0, &p, zoom);
  double log_level = 0.0;
  for (double z : zoom) log_level += std::log(kTrueFocal * z) / 12.0;
  Perturb(&p, 1.0);
  p.rec.per_frame_focal = true;
  // Every frame starts at the level, the ramp unknown.
  for (auto& pose : p.rec.poses) pose.focal = std::exp(log_level);
  BundleAdjustmentOptions ba = AllFrames(p);
  ba.refine_focal = true;
  ba.focal_level_px = std::exp(log_level);
  ASSERT_TRUE(BundleAdjust(p.tracker, ba, &p.rec).solved);
  for (int c = 0; c < 12; ++c) {
    EXPECT_NEAR(p.rec.poses[c].focal, kTrueFocal * zoom[c], 0.01 * kTrueFocal)
        << "camera " << c;
  }
  double centre_err = 0.0;
  double angle_deg = 0.0;
  PoseErrors(p, &centre_err, &angle_deg);
  EXPECT_LT(centre_err, 0.02);
  EXPECT_LT(angle_deg, 0.1);
  EXPECT_LT(MeanReprojectionError(p.tracker, p.rec), 0.5);
}

TEST(BundleAdjustment, NonFinitePoseIsAnInternalErrorNotAnAbort) {
  Problem p;
  MakeProblem(0.0, 0.3, 0.0, &p);
  p.rec.poses[3].t.x() = std::numeric_limits<double>::quiet_NaN();
  BundleAdjustmentOptions ba = AllFrames(p);
  EXPECT_THROW(BundleAdjust(p.tracker, ba, &p.rec), InternalError);
}

TEST(BundleAdjustment, FilterOutliersMarksTheReplacedPixels) {
  Problem p;
  MakeProblem(0.0, 0.2, 0.1, &p);
  const int marked = FilterOutliers(p.tracker, 3.0, &p.rec);
  EXPECT_GT(marked, 50);
  EXPECT_LT(MeanReprojectionError(p.tracker, p.rec), 0.5);
}

TEST(TwoView, FocalFromFundamentalOfAGeneralMotion) {
  // F = K^-T [t]x R K^-1 for a known motion; the sweep finds f.
  const double f = 700.0;
  Eigen::Matrix3d K;
  K << f, 0, 319.5, 0, f, 179.5, 0, 0, 1;
  const Eigen::Matrix3d R =
      Eigen::AngleAxisd(0.2, Eigen::Vector3d(0.3, 1.0, 0.1).normalized())
          .toRotationMatrix();
  const Eigen::Vector3d t(1.0, 0.2, 0.3);
  Eigen::Matrix3d tx;
  tx << 0, -t.z(), t.y(), t.z(), 0, -t.x(), -t.y(), t.x(), 0;
  const Eigen::Matrix3d F = K.inverse().transpose() * tx * R * K.inverse();
  const auto focal = FocalFromFundamental(F, 319.5, 179.5, 640);
  ASSERT_TRUE(focal.has_value());
  EXPECT_NEAR(*focal, f, 0.01 * f);
}

// A descriptor-matched track (relocalisation) skips frames: Find answers
// for the frames it has and for no other, and each frame lists it once.
TEST(FeatureTracker, MatchedTrackSkipsFrames) {
  FeatureTracker tracker(FeatureTrackerOptions{});
  for (int f = 0; f < 6; ++f) tracker.AddEmptyFrame();
  FeatureTrack contiguous;
  contiguous.obs = {{1, {1.0, 1.0}}, {2, {2.0, 2.0}}};
  tracker.AddTrack(contiguous);
  FeatureTrack matched;
  matched.obs = {{0, {10.0, 0.0}}, {3, {13.0, 0.0}}, {5, {15.0, 0.0}}};
  const int id = tracker.AddMatchedTrack(matched);
  EXPECT_EQ(id, 1);
  for (int f = 0; f < 6; ++f) {
    const Eigen::Vector2d* x = tracker.Find(id, f);
    if (f == 0 || f == 3 || f == 5) {
      ASSERT_NE(x, nullptr) << f;
      EXPECT_EQ(x->x(), 10.0 + f);
    } else {
      EXPECT_EQ(x, nullptr) << f;
    }
  }
  EXPECT_EQ(tracker.Find(0, 2)->x(), 2.0);
  EXPECT_EQ(tracker.Find(0, 3), nullptr);
  ASSERT_EQ(tracker.Frames()[3].refs.size(), 1u);
  EXPECT_EQ(tracker.Frames()[3].refs[0], std::make_pair(id, 1));
  EXPECT_FALSE(tracker.Tracks()[id].alive);
  FeatureTrack backwards;
  backwards.obs = {{4, {0.0, 0.0}}, {2, {0.0, 0.0}}};
  EXPECT_THROW(tracker.AddMatchedTrack(backwards), InternalError);
  EXPECT_EQ(tracker.Tracks().size(), 2u);
  EXPECT_EQ(tracker.Frames()[4].refs.size(), 0u);
}

}  // namespace
}  // namespace vanelia::internal
