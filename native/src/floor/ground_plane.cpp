#include "vanelia/floor/ground_plane.hpp"

#include "vanelia/core/option_check.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

#include <Eigen/Eigenvalues>

namespace vanelia {
namespace {

constexpr double kPi = 3.14159265358979323846;

double Deg2Rad(double deg) {
  return deg * kPi / 180.0;
}

// World-frame axes of a camera: columns of R^T (x right, y down, z forward).
Eigen::Matrix3d CameraAxesInWorld(const TrackedFrame& frame) {
  return frame.cam_from_world.rotation.toRotationMatrix().transpose();
}

Eigen::Vector3d CameraCentre(const TrackedFrame& frame) {
  return frame.cam_from_world.Inverse().translation;
}

// Up to `count` frames spread evenly over the track.
std::vector<const TrackedFrame*> RepresentativeFrames(const CameraTrack& track,
                                                      size_t count) {
  std::vector<const TrackedFrame*> frames;
  const size_t n = track.frames.size();
  if (n == 0) return frames;
  const size_t step = std::max<size_t>(1, n / count);
  for (size_t i = 0; i < n; i += step) frames.push_back(&track.frames[i]);
  return frames;
}

// True when `normal` (either sign) could be the floor for these cameras:
// small roll against every camera's x axis and, with the sign towards the
// cameras' image-up, a pitch below the limit.
bool PlausibleFloorNormal(const Eigen::Vector3d& normal,
                          const std::vector<Eigen::Matrix3d>& axes,
                          double max_sin_roll,
                          double min_cos_pitch) {
  if (axes.empty()) return true;
  double up_dot = 0.0;
  for (const Eigen::Matrix3d& a : axes) {
    if (std::abs(normal.dot(a.col(0))) > max_sin_roll) return false;
    up_dot += normal.dot(-a.col(1));
  }
  const double sign = up_dot >= 0.0 ? 1.0 : -1.0;
  for (const Eigen::Matrix3d& a : axes) {
    if (sign * normal.dot(-a.col(1)) < min_cos_pitch) return false;
  }
  return true;
}

// PlaneEstimator restricted to plausible floor orientations, so RANSAC never
// wastes its budget on walls.
struct FloorPlaneEstimator {
  using Sample = Eigen::Vector3d;
  using Model = Plane3d;
  static constexpr int kMinNumSamples = 3;

  PlaneEstimator base;
  std::vector<Eigen::Matrix3d> axes;
  double max_sin_roll = 1.0;
  double min_cos_pitch = -1.0;

  std::vector<Plane3d> Estimate(const std::vector<Sample>& samples) const {
    std::vector<Plane3d> planes = base.Estimate(samples);
    planes.erase(
        std::remove_if(planes.begin(),
                       planes.end(),
                       [this](const Plane3d& p) {
                         return !PlausibleFloorNormal(
                             p.normal, axes, max_sin_roll, min_cos_pitch);
                       }),
        planes.end());
    return planes;
  }

  void Residuals(const Plane3d& plane,
                 const std::vector<Sample>& data,
                 std::vector<double>* residuals) const {
    base.Residuals(plane, data, residuals);
  }

  std::optional<Plane3d> Refine(const std::vector<Sample>& inliers) const {
    std::optional<Plane3d> plane = base.Refine(inliers);
    if (plane && !PlausibleFloorNormal(
                     plane->normal, axes, max_sin_roll, min_cos_pitch)) {
      return std::nullopt;
    }
    return plane;
  }
};

struct Candidate {
  Plane3d plane;
  std::vector<int> inliers;  // indices into the working points
  double rmse = 0.0;
  double camera_height = 0.0;  // median signed distance of the cameras
  double cameras_above = 0.0;  // fraction with positive distance
};

void Warn(std::vector<std::string>* warnings, const std::string& text) {
  if (warnings != nullptr) warnings->push_back(text);
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  return values[mid];
}

// Least squares on the RANSAC inliers with Cauchy weights (a few
// iteratively reweighted rounds, scale from the median absolute residual),
// so that the stray points within the RANSAC threshold (object bases,
// outliers) barely pull the floor.
Plane3d RobustRefit(const Plane3d& initial,
                    const Eigen::Matrix3Xd& inliers,
                    double min_sigma) {
  Plane3d plane = initial;
  Eigen::VectorXd weights(inliers.cols());
  for (int round = 0; round < 5; ++round) {
    std::vector<double> abs_residuals(static_cast<size_t>(inliers.cols()));
    for (Eigen::Index i = 0; i < inliers.cols(); ++i) {
      abs_residuals[static_cast<size_t>(i)] =
          std::abs(plane.SignedDistance(inliers.col(i)));
    }
    const double sigma = std::max(1.4826 * Median(abs_residuals), min_sigma);
    for (Eigen::Index i = 0; i < inliers.cols(); ++i) {
      const double u = abs_residuals[static_cast<size_t>(i)] / sigma;
      weights(i) = 1.0 / (1.0 + u * u);
    }
    const std::optional<Plane3d> refit = FitPlane(inliers, weights);
    if (!refit) break;
    plane = refit->normal.dot(plane.normal) < 0.0 ? refit->Flipped() : *refit;
  }
  return plane;
}

}  // namespace

void GroundPlaneOptions::Check() const {
  auto fail =
      [](const std::string& field, double value, const std::string& rule) {
        internal::ThrowBadOption("GroundPlaneOptions", field, value, rule);
      };
  if (!(relative_threshold > 0.0 && relative_threshold < 1.0)) {
    fail("relative_threshold", relative_threshold, "must be in (0, 1)");
  }
  if (min_inliers < 3) fail("min_inliers", min_inliers, "must be >= 3");
  if (!(min_inlier_ratio >= 0.0 && min_inlier_ratio <= 1.0)) {
    fail("min_inlier_ratio", min_inlier_ratio, "must be in [0, 1]");
  }
  if (!(max_roll_deg > 0.0 && max_roll_deg <= 90.0)) {
    fail("max_roll_deg", max_roll_deg, "must be in (0, 90]");
  }
  if (!(max_pitch_deg > 0.0 && max_pitch_deg <= 180.0)) {
    fail("max_pitch_deg", max_pitch_deg, "must be in (0, 180]");
  }
  if (!(min_support_ratio > 0.0 && min_support_ratio <= 1.0)) {
    fail("min_support_ratio", min_support_ratio, "must be in (0, 1]");
  }
  if (!(max_up_deviation_deg > 0.0 && max_up_deviation_deg <= 180.0)) {
    fail("max_up_deviation_deg", max_up_deviation_deg, "must be in (0, 180]");
  }
  if (max_candidates < 1)
    fail("max_candidates", max_candidates, "must be >= 1");
  if (max_points < 100) fail("max_points", max_points, "must be >= 100");
  if (!std::isfinite(min_confidence)) {
    fail("min_confidence", min_confidence, "must be finite");
  }
}

std::optional<UpEstimate> EstimateUpFromCameras(const CameraTrack& track) {
  if (track.frames.empty()) return std::nullopt;
  Eigen::Matrix3d scatter = Eigen::Matrix3d::Zero();
  Eigen::Vector3d mean_up = Eigen::Vector3d::Zero();
  for (const TrackedFrame& frame : track.frames) {
    const Eigen::Matrix3d axes = CameraAxesInWorld(frame);
    scatter += axes.col(0) * axes.col(0).transpose();
    mean_up -= axes.col(1);
  }
  UpEstimate estimate;
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver(scatter);
  const Eigen::Vector3d& values = solver.eigenvalues();  // ascending
  // The x axes span a plane when the middle eigenvalue is clearly non-zero:
  // a pan or orbit of more than about 6 degrees.
  if (values(1) > 0.01 * values(2) && values(1) > 1e-12) {
    estimate.up = solver.eigenvectors().col(0);
    estimate.from_camera_spread = true;
  } else {
    estimate.up = -CameraAxesInWorld(track.frames.front()).col(1);
  }
  if (estimate.up.dot(mean_up) < 0.0) estimate.up = -estimate.up;
  estimate.up.normalize();
  return estimate;
}

std::optional<double> SceneScale(const CameraTrack& track,
                                 const Eigen::Matrix3Xd& points) {
  if (track.frames.empty() || points.cols() == 0) return std::nullopt;
  const std::vector<const TrackedFrame*> frames =
      RepresentativeFrames(track, 8);
  std::vector<double> distances;
  const Eigen::Index step = std::max<Eigen::Index>(1, points.cols() / 2000);
  for (const TrackedFrame* frame : frames) {
    const Eigen::Vector3d centre = CameraCentre(*frame);
    for (Eigen::Index i = 0; i < points.cols(); i += step) {
      distances.push_back((points.col(i) - centre).norm());
    }
  }
  const double scale = Median(distances);
  if (!(scale > 0.0) || !std::isfinite(scale)) return std::nullopt;
  return scale;
}

namespace {

// The points filtered by confidence and finiteness, subsampled evenly.
Eigen::Matrix3Xd UsablePoints(const PointCloud& cloud,
                              const GroundPlaneOptions& options) {
  const Eigen::Index n = cloud.xyz.cols();
  const bool has_conf = cloud.confidence.size() == n;
  std::vector<Eigen::Index> keep;
  keep.reserve(static_cast<size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) {
    if (!cloud.xyz.col(i).allFinite()) continue;
    if (has_conf && cloud.confidence(i) < options.min_confidence) continue;
    keep.push_back(i);
  }
  const size_t stride =
      std::max<size_t>(1,
                       (keep.size() + options.max_points - 1) /
                           static_cast<size_t>(options.max_points));
  Eigen::Matrix3Xd points(
      3, static_cast<Eigen::Index>((keep.size() + stride - 1) / stride));
  Eigen::Index count = 0;
  for (size_t k = 0; k < keep.size(); k += stride) {
    points.col(count++) = cloud.xyz.col(keep[k]).cast<double>();
  }
  points.conservativeResize(3, count);
  return points;
}

// The plane estimator limited to the floor orientations these cameras allow.
FloorPlaneEstimator MakeFloorEstimator(const CameraTrack& track,
                                       const GroundPlaneOptions& options) {
  FloorPlaneEstimator estimator;
  for (const TrackedFrame* frame : RepresentativeFrames(track, 12)) {
    estimator.axes.push_back(CameraAxesInWorld(*frame));
  }
  estimator.max_sin_roll = std::sin(Deg2Rad(options.max_roll_deg));
  estimator.min_cos_pitch = std::cos(Deg2Rad(options.max_pitch_deg));
  return estimator;
}

// The camera centres of a track and their mean.
struct CameraCentres {
  std::vector<Eigen::Vector3d> centres;
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();
};

// The centres of every frame of `track` and their mean.
CameraCentres CameraCentresOf(const CameraTrack& track) {
  CameraCentres cameras;
  for (const TrackedFrame& frame : track.frames) {
    cameras.centres.push_back(CameraCentre(frame));
  }
  Eigen::Vector3d mean_centre = Eigen::Vector3d::Zero();
  for (const Eigen::Vector3d& c : cameras.centres) mean_centre += c;
  mean_centre /= static_cast<double>(cameras.centres.size());
  cameras.mean = mean_centre;
  return cameras;
}

// The RANSAC settings of one floor-candidate search at `threshold`.
RansacOptions FloorRansacOptions(double threshold) {
  RansacOptions ransac;
  ransac.max_error = threshold;
  ransac.min_inlier_ratio = 0.0;
  ransac.confidence = 0.9999;
  ransac.min_num_trials = 200;
  ransac.max_num_trials = 5000;
  return ransac;
}

// One candidate from a RANSAC report on `data`; `remaining` keeps outliers.
Candidate MakeCandidate(const RansacReport<Plane3d>& report,
                        const std::vector<Eigen::Vector3d>& data,
                        const CameraCentres& cameras,
                        double threshold,
                        double scale,
                        std::vector<int>* remaining) {
  Candidate candidate;
  std::vector<int> outliers;
  Eigen::Matrix3Xd inlier_points(3, report.num_inliers);
  Eigen::Index k = 0;
  for (size_t j = 0; j < data.size(); ++j) {
    if (report.inlier_mask[j] != 0) {
      candidate.inliers.push_back((*remaining)[j]);
      inlier_points.col(k++) = data[j];
    } else {
      outliers.push_back((*remaining)[j]);
    }
  }
  *remaining = std::move(outliers);
  candidate.plane = RobustRefit(report.model, inlier_points, 1e-9 * scale)
                        .FlipTowards(cameras.mean);
  candidate.rmse = PlaneRmse(candidate.plane, inlier_points);
  std::vector<double> heights;
  int above = 0;
  for (const Eigen::Vector3d& c : cameras.centres) {
    const double h = candidate.plane.SignedDistance(c);
    heights.push_back(h);
    if (h > threshold) ++above;
  }
  candidate.camera_height = Median(heights);
  candidate.cameras_above =
      static_cast<double>(above) / static_cast<double>(cameras.centres.size());
  return candidate;
}

// Up to max_candidates planes, each found by RANSAC on the previous outliers.
std::vector<Candidate> FindCandidates(const Eigen::Matrix3Xd& points,
                                      const FloorPlaneEstimator& estimator,
                                      const CameraCentres& cameras,
                                      const GroundPlaneOptions& options,
                                      double threshold,
                                      double scale) {
  const Eigen::Index count = points.cols();
  RansacOptions ransac = FloorRansacOptions(threshold);

  std::vector<int> remaining(static_cast<size_t>(count));
  for (int i = 0; i < static_cast<int>(count); ++i) remaining[i] = i;
  const int min_inliers =
      std::max<int>(options.min_inliers,
                    static_cast<int>(std::ceil(options.min_inlier_ratio *
                                               static_cast<double>(count))));
  std::vector<Candidate> candidates;
  for (int round = 0; round < options.max_candidates; ++round) {
    if (static_cast<int>(remaining.size()) < min_inliers) break;
    std::vector<Eigen::Vector3d> data;
    data.reserve(remaining.size());
    for (int i : remaining) data.push_back(points.col(i));
    ransac.random_seed = options.random_seed + static_cast<uint64_t>(round);
    const RansacReport<Plane3d> report = Ransac(ransac, estimator, data);
    if (!report.success || report.num_inliers < min_inliers) break;
    candidates.push_back(
        MakeCandidate(report, data, cameras, threshold, scale, &remaining));
  }
  return candidates;
}

// The candidates with the cameras above and a normal agreeing with image-up.
std::vector<const Candidate*> ValidCandidates(
    const std::vector<Candidate>& candidates,
    const std::vector<Eigen::Matrix3d>& axes) {
  std::vector<const Candidate*> valid;
  for (const Candidate& c : candidates) {
    if (c.cameras_above < 0.9) continue;
    double up_dot = 0.0;
    for (const Eigen::Matrix3d& a : axes) {
      up_dot += c.plane.normal.dot(-a.col(1));
    }
    if (up_dot <= 0.0) continue;  // a ceiling, or cameras upside down
    valid.push_back(&c);
  }
  return valid;
}

// The floor among the valid candidates: the best-supported or one below it.
const Candidate* ChooseFloor(const std::vector<const Candidate*>& valid,
                             const Eigen::Matrix3Xd& points,
                             const GroundPlaneOptions& options,
                             double threshold) {
  // The best-supported plane is the floor, unless a plane parallel to it
  // (within kParallelDeg) with enough support lies clearly below it (its
  // inliers' median more than kBelowThresholds thresholds under the best
  // plane): then the best one was a table top or a step. A plane crossing
  // the floor at a small angle is not "below" it.
  const Candidate* best = valid.front();
  for (const Candidate* c : valid) {
    if (c->inliers.size() > best->inliers.size()) best = c;
  }
  constexpr double kParallelDeg = 3.0;
  constexpr double kBelowThresholds = 3.0;
  const Candidate* floor = best;
  for (const Candidate* c : valid) {
    if (c == best) continue;
    const bool parallel = c->plane.normal.dot(best->plane.normal) >
                          std::cos(Deg2Rad(kParallelDeg));
    const bool supported =
        static_cast<double>(c->inliers.size()) >=
        options.min_support_ratio * static_cast<double>(best->inliers.size());
    if (!parallel || !supported) continue;
    std::vector<double> offsets;
    for (const int i : c->inliers) {
      offsets.push_back(best->plane.SignedDistance(points.col(i)));
    }
    const bool below = Median(offsets) < -kBelowThresholds * threshold;
    if (below && c->camera_height > floor->camera_height) floor = c;
  }
  return floor;
}

// The estimate reported for the chosen floor, with its confidence.
GroundPlaneEstimate EstimateOf(const Candidate& floor, double threshold) {
  GroundPlaneEstimate estimate;
  estimate.plane = floor.plane;
  estimate.num_inliers = static_cast<int64_t>(floor.inliers.size());
  estimate.inlier_rmse = floor.rmse;
  estimate.threshold = threshold;
  const double support =
      std::min(1.0, static_cast<double>(floor.inliers.size()) / 200.0);
  const double tightness =
      std::clamp(1.0 - 0.5 * floor.rmse / threshold, 0.0, 1.0);
  estimate.confidence = support * tightness * floor.cameras_above;
  return estimate;
}

double AngleDeg(const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
  return std::acos(std::clamp(a.normalized().dot(b.normalized()), -1.0, 1.0)) *
         180.0 / kPi;
}

// The floor checked against the cameras' up when they pan or orbit (see the
// header). Returns the candidate to use instead of `floor` (nullptr: keep
// it), or sets `*replaced` to the plane through `floor`'s inliers with the
// cameras' up as normal.
const Candidate* CheckAgainstCameraUp(
    const CameraTrack& track,
    const std::vector<const Candidate*>& valid,
    const Candidate& floor,
    const Eigen::Matrix3Xd& points,
    const GroundPlaneOptions& options,
    std::optional<Plane3d>* replaced,
    std::vector<std::string>* warnings) {
  const std::optional<UpEstimate> up = EstimateUpFromCameras(track);
  if (!up || !up->from_camera_spread) return nullptr;
  const double off_deg = AngleDeg(floor.plane.normal, up->up);
  if (off_deg <= options.max_up_deviation_deg) return nullptr;
  std::ostringstream text;
  text.precision(2);
  text << std::fixed << "ground plane: the best plane of the points is "
       << off_deg << " deg off the cameras' up (a plain floor, most points "
       << "on objects?); ";
  const Candidate* other = nullptr;
  for (const Candidate* c : valid) {
    if (c == &floor ||
        AngleDeg(c->plane.normal, up->up) > options.max_up_deviation_deg) {
      continue;
    }
    const bool supported =
        static_cast<double>(c->inliers.size()) >=
        options.min_support_ratio * static_cast<double>(floor.inliers.size());
    if (supported &&
        (other == nullptr || c->inliers.size() > other->inliers.size())) {
      other = c;
    }
  }
  if (other != nullptr) {
    text << "took the plane " << AngleDeg(other->plane.normal, up->up)
         << " deg off it instead";
    Warn(warnings, text.str());
    return other;
  }
  // Keep the height of the plane the points gave (the median height of its
  // inliers along the new normal), turn its normal to the cameras' up.
  std::vector<double> heights;
  heights.reserve(floor.inliers.size());
  for (const int i : floor.inliers)
    heights.push_back(up->up.dot(points.col(i)));
  *replaced = Plane3d(up->up, -Median(heights));
  text << "used the cameras' up as the floor normal (assumes they do not "
       << "roll); check the floor";
  Warn(warnings, text.str());
  return nullptr;
}

}  // namespace

std::optional<GroundPlaneEstimate> DetectGroundPlane(
    const CameraTrack& track,
    const PointCloud& cloud,
    const GroundPlaneOptions& options,
    std::vector<std::string>* warnings) {
  options.Check();
  if (track.frames.empty()) {
    Warn(warnings, "ground plane: no registered cameras");
    return std::nullopt;
  }
  const Eigen::Matrix3Xd points = UsablePoints(cloud, options);
  const Eigen::Index count = points.cols();
  if (count < options.min_inliers) {
    std::ostringstream text;
    text << "ground plane: only " << count << " usable points; need at least "
         << options.min_inliers;
    Warn(warnings, text.str());
    return std::nullopt;
  }
  const std::optional<double> scale = SceneScale(track, points);
  if (!scale) {
    Warn(warnings, "ground plane: the scene has no extent");
    return std::nullopt;
  }
  const double threshold = options.relative_threshold * *scale;

  const FloorPlaneEstimator estimator = MakeFloorEstimator(track, options);
  const CameraCentres cameras = CameraCentresOf(track);
  const std::vector<Candidate> candidates =
      FindCandidates(points, estimator, cameras, options, threshold, *scale);

  const std::vector<const Candidate*> valid =
      ValidCandidates(candidates, estimator.axes);
  if (valid.empty()) {
    Warn(warnings,
         candidates.empty()
             ? "ground plane: no horizontal plane found in the points"
             : "ground plane: no plane found below the cameras");
    return std::nullopt;
  }
  const Candidate* floor = ChooseFloor(valid, points, options, threshold);
  std::optional<Plane3d> replaced;
  if (const Candidate* other = CheckAgainstCameraUp(
          track, valid, *floor, points, options, &replaced, warnings)) {
    floor = other;
  }
  GroundPlaneEstimate estimate = EstimateOf(*floor, threshold);
  if (replaced) {
    estimate.plane = replaced->FlipTowards(cameras.mean);
    Eigen::Matrix3Xd inliers(3,
                             static_cast<Eigen::Index>(floor->inliers.size()));
    for (size_t k = 0; k < floor->inliers.size(); ++k) {
      inliers.col(static_cast<Eigen::Index>(k)) = points.col(floor->inliers[k]);
    }
    estimate.inlier_rmse = PlaneRmse(estimate.plane, inliers);
    estimate.confidence *= 0.5;
    estimate.normal_from_cameras = true;
  }
  return estimate;
}

}  // namespace vanelia
