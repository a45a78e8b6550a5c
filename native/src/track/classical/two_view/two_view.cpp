#include "vanelia/core/check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <Eigen/SVD>
#include <opencv2/calib3d.hpp>
#include <opencv2/core/eigen.hpp>

#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

namespace {

constexpr double kRadToDeg = 180.0 / M_PI;

Eigen::Matrix3d RotationOf(const FramePose& pose) {
  Eigen::Matrix3d R;
  ceres::AngleAxisToRotationMatrix(pose.rvec.data(),
                                   ceres::ColumnMajorAdapter3x3(R.data()));
  return R;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  return v[mid];
}

}  // namespace

Eigen::Matrix3d NearestRotation(const Eigen::Matrix3d& M, double* residual) {
  const Eigen::Matrix3d A = M / std::cbrt(M.determinant());
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(
      A, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Matrix3d R = svd.matrixU() * svd.matrixV().transpose();
  if (R.determinant() < 0) {
    Eigen::Matrix3d U = svd.matrixU();
    U.col(2) *= -1.0;
    R = U * svd.matrixV().transpose();
  }
  if (residual != nullptr) *residual = (A - R).norm();
  return R;
}

bool HomographyTest::RotationLike() const {
  return rotation_error_px <= std::max(2.0, 4.0 * h_error_px);
}

bool TestHomography(const std::vector<cv::Point2f>& pa,
                    const std::vector<cv::Point2f>& pb,
                    double threshold_px,
                    double cx,
                    double cy,
                    std::optional<double> known_focal,
                    HomographyTest* out) {
  *out = HomographyTest();
  std::vector<uint8_t> mask;
  const cv::Mat H_cv =
      cv::findHomography(pa, pb, cv::RANSAC, threshold_px, mask, 2000, 0.999);
  if (H_cv.empty()) return false;
  Eigen::Matrix3d H;
  cv::cv2eigen(H_cv, H);
  std::vector<Eigen::Vector2d> ha;
  std::vector<Eigen::Vector2d> hb;
  std::vector<double> errors;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!mask[i]) continue;
    ha.emplace_back(pa[i].x, pa[i].y);
    hb.emplace_back(pb[i].x, pb[i].y);
    errors.push_back(
        ((H * ha.back().homogeneous()).hnormalized() - hb.back()).norm());
  }
  out->num_inliers = static_cast<int>(ha.size());
  out->h_error_px = Median(errors);
  out->rotation_error_px =
      FitRotation(H, ha, hb, cx, cy, static_cast<int>(2 * cx + 1), known_focal)
          .median_error_px;
  return true;
}

RotationFit FitRotation(const Eigen::Matrix3d& H,
                        const std::vector<Eigen::Vector2d>& pa,
                        const std::vector<Eigen::Vector2d>& pb,
                        double cx,
                        double cy,
                        int width,
                        std::optional<double> known_focal) {
  std::vector<double> candidates;
  if (known_focal) {
    candidates.push_back(*known_focal);
  } else {
    constexpr int kSteps = 400;
    for (int i = 0; i <= kSteps; ++i) {
      candidates.push_back(width * 0.3 * std::pow(10.0, double(i) / kSteps));
    }
  }
  RotationFit best;
  best.median_error_px = std::numeric_limits<double>::infinity();
  std::vector<double> errors(pa.size());
  for (double f : candidates) {
    Eigen::Matrix3d K;
    K << f, 0, cx, 0, f, cy, 0, 0, 1;
    const Eigen::Matrix3d Kinv = K.inverse();
    const Eigen::Matrix3d G = K * NearestRotation(Kinv * H * K, nullptr) * Kinv;
    for (size_t i = 0; i < pa.size(); ++i) {
      const Eigen::Vector3d y = G * pa[i].homogeneous();
      errors[i] = y.z() > 0.0 ? (y.hnormalized() - pb[i]).norm()
                              : std::numeric_limits<double>::infinity();
    }
    const double err = Median(errors);
    if (err < best.median_error_px) {
      best.focal = f;
      best.median_error_px = err;
    }
  }
  return best;
}

Eigen::Vector2d Normalize(const CameraModel& camera,
                          double focal,
                          const Eigen::Vector2d& px) {
  const Eigen::Vector2d xd((px.x() - camera.cx) / focal,
                           (px.y() - camera.cy) / focal);
  if (camera.k1 == 0.0 && camera.k2 == 0.0) return xd;
  Eigen::Vector2d xn = xd;
  for (int i = 0; i < 10; ++i) {
    const double r2 = xn.squaredNorm();
    xn = xd / (1.0 + camera.k1 * r2 + camera.k2 * r2 * r2);
  }
  return xn;
}

Eigen::Vector3d CenterOf(const FramePose& pose) {
  return -(RotationOf(pose).transpose() * pose.t);
}

double ParabolaVertexOffset(double c0, double c1, double c2) {
  const double den = c0 - 2.0 * c1 + c2;
  const double off = den > 0.0 ? 0.5 * (c0 - c2) / den : 0.0;
  return std::clamp(off, -1.0, 1.0);
}

std::optional<double> FocalFromFundamental(const Eigen::Matrix3d& F,
                                           double cx,
                                           double cy,
                                           int width) {
  constexpr int kSteps = 120;
  std::vector<double> focals;
  std::vector<double> costs;
  for (int i = 0; i <= kSteps; ++i) {
    const double f =
        width * 0.3 *
        std::pow(10.0, static_cast<double>(i) / kSteps);  // 0.3..3 w
    Eigen::Matrix3d K;
    K << f, 0, cx, 0, f, cy, 0, 0, 1;
    const Eigen::Matrix3d E = K.transpose() * F * K;
    const Eigen::Vector3d s =
        Eigen::JacobiSVD<Eigen::Matrix3d>(E).singularValues();
    if (!(s[0] > 0.0)) return std::nullopt;
    focals.push_back(f);
    costs.push_back((s[0] - s[1]) / (s[0] + s[1]));
  }
  const auto best = std::min_element(costs.begin(), costs.end());
  const int k = static_cast<int>(best - costs.begin());
  if (k == 0 || k == kSteps) return std::nullopt;
  // A clear minimum: well below the residual at half and twice the focal.
  const double lo = costs[std::max(0, k - 30)];
  const double hi = costs[std::min(kSteps, k + 30)];
  if (!(*best < 0.5 * std::min(lo, hi))) return std::nullopt;
  const double log_step = std::log(focals[k + 1] / focals[k]);
  return focals[k] *
         std::exp(ParabolaVertexOffset(costs[k - 1], costs[k], costs[k + 1]) *
                  log_step);
}

namespace {

// The tracks seen in both frames of a pair, with their undistorted pixels.
struct PairMatches {
  std::vector<int> ids;         // track ids
  std::vector<cv::Point2f> pa;  // pixels in the first frame
  std::vector<cv::Point2f> pb;  // pixels in the second frame
};

// The tracks of frame slot `a` also seen in slot `b`, undistorted with the
// camera model of `cam`.
PairMatches MatchPair(const FeatureTracker& tracker,
                      const CameraModel& cam,
                      int a,
                      int b) {
  PairMatches m;
  for (const auto& [id, k] : tracker.Frames()[a].refs) {
    const Eigen::Vector2d* xb = tracker.Find(id, b);
    if (xb == nullptr) continue;
    const Eigen::Vector2d& xa = tracker.Tracks()[id].obs[k].px;
    // Undistorted pixels for the focal-independent estimators.
    const Eigen::Vector2d na = Normalize(cam, cam.focal, xa);
    const Eigen::Vector2d nb = Normalize(cam, cam.focal, *xb);
    m.ids.push_back(id);
    m.pa.emplace_back(cam.focal * na.x() + cam.cx, cam.focal * na.y() + cam.cy);
    m.pb.emplace_back(cam.focal * nb.x() + cam.cx, cam.focal * nb.y() + cam.cy);
  }
  return m;
}

// The essential matrix's inliers (`mask_e`) as the result's inlier ids, and
// the median angle between their rays (normalised coordinates `na`, `nb`).
void MeasureInlierAngles(const std::vector<int>& ids,
                         const std::vector<cv::Point2f>& na,
                         const std::vector<cv::Point2f>& nb,
                         const std::vector<uint8_t>& mask_e,
                         TwoViewResult* result) {
  // Triangulation angles of the inliers.
  std::vector<double> angles;
  const Eigen::Vector3d center_b = -result->R.transpose() * result->t;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!mask_e[i]) continue;
    const Eigen::Vector3d ra(na[i].x, na[i].y, 1.0);
    const Eigen::Vector3d rb =
        result->R.transpose() * Eigen::Vector3d(nb[i].x, nb[i].y, 1.0);
    // Midpoint-free angle between the rays: acos of normalised dot.
    const double c = ra.normalized().dot(rb.normalized());
    angles.push_back(std::acos(std::clamp(c, -1.0, 1.0)) * kRadToDeg);
    result->inlier_ids.push_back(ids[i]);
  }
  (void)center_b;
  result->median_angle_deg = Median(angles);
}

}  // namespace

TwoViewResult EstimateTwoView(const FeatureTracker& tracker,
                              const Reconstruction& rec,
                              int a,
                              int b,
                              double threshold_px,
                              bool estimate_focal,
                              bool check_parallax) {
  TwoViewResult result;
  const CameraModel& cam = rec.camera;
  const PairMatches m = MatchPair(tracker, cam, a, b);
  if (m.ids.size() < 30) return result;

  std::vector<uint8_t> mask_f;
  const cv::Mat F_cv = cv::findFundamentalMat(
      m.pa, m.pb, cv::FM_RANSAC, threshold_px, 0.999, mask_f);
  if (F_cv.rows != 3 || F_cv.cols != 3) return result;
  result.num_f_inliers =
      static_cast<int>(std::count(mask_f.begin(), mask_f.end(), 1));
  TestHomography(m.pa,
                 m.pb,
                 threshold_px,
                 cam.cx,
                 cam.cy,
                 estimate_focal ? std::nullopt : std::optional(cam.focal),
                 &result.homography);
  result.num_h_inliers = result.homography.num_inliers;

  double focal = cam.focal;
  if (estimate_focal) {
    Eigen::Matrix3d F;
    cv::cv2eigen(F_cv, F);
    result.focal_from_f =
        FocalFromFundamental(F, cam.cx, cam.cy, 2 * cam.cx + 1);
    if (result.focal_from_f) focal = *result.focal_from_f;
  }

  // Essential matrix on normalised coordinates.
  std::vector<cv::Point2f> na;
  std::vector<cv::Point2f> nb;
  for (size_t i = 0; i < m.ids.size(); ++i) {
    na.emplace_back((m.pa[i].x - cam.cx) / focal, (m.pa[i].y - cam.cy) / focal);
    nb.emplace_back((m.pb[i].x - cam.cx) / focal, (m.pb[i].y - cam.cy) / focal);
  }
  std::vector<uint8_t> mask_e;
  const cv::Mat E = cv::findEssentialMat(na,
                                         nb,
                                         cv::Mat::eye(3, 3, CV_64F),
                                         cv::RANSAC,
                                         0.999,
                                         threshold_px / focal,
                                         mask_e);
  if (E.rows != 3 || E.cols != 3) return result;
  cv::Mat R_cv;
  cv::Mat t_cv;
  const int good = cv::recoverPose(
      E, na, nb, cv::Mat::eye(3, 3, CV_64F), R_cv, t_cv, mask_e);
  const int num_e =
      static_cast<int>(std::count(mask_e.begin(), mask_e.end(), 1));
  // GRIC-like model choice: a homography that explains nearly every track
  // the essential matrix explains, and comes from a rotation, means too
  // little parallax. One that a rotation does not explain is a plane (a
  // floor filling the view) seen from two places: a start.
  if (good < 30 || (check_parallax && result.num_h_inliers > 0.9 * num_e &&
                    result.homography.RotationLike())) {
    return result;
  }
  cv::cv2eigen(R_cv, result.R);
  cv::cv2eigen(t_cv, result.t);
  result.t.normalize();

  MeasureInlierAngles(m.ids, na, nb, mask_e, &result);
  result.success = true;
  return result;
}

std::optional<Eigen::Vector3d> TriangulateDlt(const Reconstruction& rec,
                                              const FeatureTrack& track,
                                              const std::vector<int>& ks) {
  // Linear triangulation (DLT) on normalised coordinates.
  Eigen::Matrix4d A = Eigen::Matrix4d::Zero();
  for (int k : ks) {
    const int f = track.obs[k].frame;
    const FramePose& pose = rec.poses[f];
    Eigen::Matrix<double, 3, 4> P;
    P.leftCols<3>() = RotationOf(pose);
    P.col(3) = pose.t;
    const Eigen::Vector2d x =
        Normalize(rec.camera, rec.FocalOf(f), track.obs[k].px);
    Eigen::Matrix<double, 2, 4> rows;
    rows.row(0) = x.x() * P.row(2) - P.row(0);
    rows.row(1) = x.y() * P.row(2) - P.row(1);
    A += rows.transpose() * rows;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix4d> eig(A);
  const Eigen::Vector4d X = eig.eigenvectors().col(0);
  if (std::abs(X[3]) < 1e-12) return std::nullopt;
  const Eigen::Vector3d p = X.head<3>() / X[3];
  if (!p.allFinite()) return std::nullopt;
  return p;
}

bool TriangulateTrack(const FeatureTracker& tracker,
                      int id,
                      const std::vector<uint8_t>& usable_frame,
                      double min_angle_deg,
                      double max_error_px,
                      Reconstruction* rec) {
  const auto& obs = tracker.Tracks()[id].obs;
  std::vector<int> ks;
  const int num_frames = static_cast<int>(rec->poses.size());
  for (size_t k = 0; k < obs.size(); ++k) {
    const int f = obs[k].frame;
    if (f < num_frames && rec->poses[f].registered && usable_frame[f] &&
        rec->inlier[id][k]) {
      ks.push_back(static_cast<int>(k));
    }
  }
  if (ks.size() < 2) return false;
  const std::optional<Eigen::Vector3d> dlt =
      TriangulateDlt(*rec, tracker.Tracks()[id], ks);
  if (!dlt) return false;
  const Eigen::Vector3d& p = *dlt;
  std::vector<Eigen::Vector3d> centers;
  for (int k : ks) centers.push_back(CenterOf(rec->poses[obs[k].frame]));
  // Largest angle between the first/last ray and any other.
  double max_angle = 0.0;
  const Eigen::Vector3d r0 = (centers.front() - p).normalized();
  const Eigen::Vector3d r1 = (centers.back() - p).normalized();
  for (const auto& c : centers) {
    const Eigen::Vector3d r = (c - p).normalized();
    max_angle =
        std::max({max_angle,
                  std::acos(std::clamp(r.dot(r0), -1.0, 1.0)) * kRadToDeg,
                  std::acos(std::clamp(r.dot(r1), -1.0, 1.0)) * kRadToDeg});
  }
  if (max_angle < min_angle_deg) return false;
  int good = 0;
  std::vector<int> bad;
  for (int k : ks) {
    const double e = ReprojectionError(*rec, obs[k].frame, p, obs[k].px);
    if (e < 0.0 || e > max_error_px) {
      bad.push_back(k);
    } else {
      ++good;
    }
  }
  if (good < 2 || bad.size() * 2 > ks.size()) return false;
  for (int k : bad) rec->inlier[id][k] = 0;
  rec->points[id] = p;
  rec->has_point[id] = 1;
  return true;
}

PnpResult RegisterFrame(const FeatureTracker& tracker,
                        int frame,
                        double threshold_px,
                        int min_inliers,
                        const FramePose* prior,
                        Reconstruction* rec) {
  PnpResult result;
  std::vector<cv::Point3d> object;
  std::vector<cv::Point2d> image;
  std::vector<std::pair<int, int>> refs;
  for (const auto& [id, k] : tracker.Frames()[frame].refs) {
    if (!rec->has_point[id]) continue;
    const Eigen::Vector3d& p = rec->points[id];
    const Eigen::Vector2d& x = tracker.Tracks()[id].obs[k].px;
    object.emplace_back(p.x(), p.y(), p.z());
    image.emplace_back(x.x(), x.y());
    refs.emplace_back(id, k);
  }
  result.num_correspondences = static_cast<int>(object.size());
  if (result.num_correspondences < std::max(6, min_inliers)) return result;
  const double focal = rec->per_frame_focal && prior != nullptr
                           ? prior->focal
                           : rec->camera.focal;
  const cv::Matx33d K(
      focal, 0, rec->camera.cx, 0, focal, rec->camera.cy, 0, 0, 1);
  const cv::Vec4d dist(rec->camera.k1, rec->camera.k2, 0.0, 0.0);
  cv::Vec3d rvec;
  cv::Vec3d tvec;
  std::vector<int> inliers;
  const bool ok = cv::solvePnPRansac(object,
                                     image,
                                     K,
                                     dist,
                                     rvec,
                                     tvec,
                                     false,
                                     200,
                                     static_cast<float>(threshold_px),
                                     0.999,
                                     inliers,
                                     cv::SOLVEPNP_EPNP);
  if (!ok || static_cast<int>(inliers.size()) < min_inliers) return result;
  std::vector<cv::Point3d> obj_in;
  std::vector<cv::Point2d> img_in;
  for (int i : inliers) {
    obj_in.push_back(object[i]);
    img_in.push_back(image[i]);
  }
  cv::solvePnPRefineLM(obj_in, img_in, K, dist, rvec, tvec);
  FramePose& pose = rec->poses[frame];
  pose.rvec = Eigen::Vector3d(rvec[0], rvec[1], rvec[2]);
  pose.t = Eigen::Vector3d(tvec[0], tvec[1], tvec[2]);
  pose.focal = focal;
  if (!pose.rvec.allFinite() || !pose.t.allFinite()) return result;
  pose.registered = true;
  int n = 0;
  for (const auto& [id, k] : refs) {
    const double e = ReprojectionError(
        *rec, frame, rec->points[id], tracker.Tracks()[id].obs[k].px);
    if (e < 0.0 || e > 2.0 * threshold_px) {
      rec->inlier[id][k] = 0;
    } else {
      ++n;
    }
  }
  result.num_inliers = n;
  result.success = n >= min_inliers;
  if (!result.success) pose.registered = false;
  return result;
}

}  // namespace vanelia::internal
