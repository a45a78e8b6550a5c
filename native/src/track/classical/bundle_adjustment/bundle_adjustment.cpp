#include "vanelia/core/check.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <unordered_set>
#include <vector>

#include <ceres/ceres.h>
#include <ceres/sphere_manifold.h>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"

namespace vanelia::internal {

namespace {

// Reprojection residual, Ceres autodiff: pose [rvec(3), t(3)], point (3),
// focal (1), distortion [k1, k2].
struct ReprojectionCost {
  ReprojectionCost(const Eigen::Vector2d& px, double cx, double cy)
      : u(px.x()), v(px.y()), cx(cx), cy(cy) {}

  template <typename T>
  bool operator()(const T* pose,
                  const T* point,
                  const T* focal,
                  const T* dist,
                  T* residual) const {
    T uv[2];
    ProjectPoint(pose, pose + 3, point, focal[0], dist[0], dist[1], cx, cy, uv);
    residual[0] = uv[0] - T(u);
    residual[1] = uv[1] - T(v);
    return true;
  }

  double u;
  double v;
  double cx;
  double cy;
};

// The same without distortion (k1 = k2 = 0 and held): fewer derivatives.
struct PinholeCost {
  PinholeCost(const Eigen::Vector2d& px, double cx, double cy)
      : u(px.x()), v(px.y()), cx(cx), cy(cy) {}

  template <typename T>
  bool operator()(const T* pose,
                  const T* point,
                  const T* focal,
                  T* residual) const {
    T uv[2];
    const T zero(0.0);
    ProjectPoint(pose, pose + 3, point, focal[0], zero, zero, cx, cy, uv);
    residual[0] = uv[0] - T(u);
    residual[1] = uv[1] - T(v);
    return true;
  }

  double u;
  double v;
  double cx;
  double cy;
};

// Pinhole with a fixed focal: only pose and point derivatives.
struct FixedPinholeCost {
  FixedPinholeCost(const Eigen::Vector2d& px, double f, double cx, double cy)
      : u(px.x()), v(px.y()), f(f), cx(cx), cy(cy) {}

  template <typename T>
  bool operator()(const T* pose, const T* point, T* residual) const {
    T uv[2];
    const T zero(0.0);
    ProjectPoint(pose, pose + 3, point, T(f), zero, zero, cx, cy, uv);
    residual[0] = uv[0] - T(u);
    residual[1] = uv[1] - T(v);
    return true;
  }

  double u;
  double v;
  double f;
  double cx;
  double cy;
};

// Zoom smoothness: log(focal) of the middle of three frames (at times
// ta < tb < tc, in frames) against the line through the outer two, over
// sigma (relative focal). A steady zoom has zero residual.
struct FocalSmoothnessCost {
  FocalSmoothnessCost(double ta, double tb, double tc, double sigma)
      : wa((tc - tb) / (tc - ta)),
        wc((tb - ta) / (tc - ta)),
        inv_sigma(1.0 / (sigma * std::max(1.0, 0.5 * (tc - ta)))) {}

  template <typename T>
  bool operator()(const T* fa, const T* fb, const T* fc, T* residual) const {
    using std::log;
    residual[0] =
        (log(fb[0]) - (wa * log(fa[0]) + wc * log(fc[0]))) * T(inv_sigma);
    return true;
  }

  double wa;
  double wc;
  double inv_sigma;
};

// The zoom's level: mean log focal of n frames against log(level), stiff
// (1e-4 relative = 1 unit of residual).
struct FocalLevelCost {
  FocalLevelCost(int n, double level) : n(n), log_level(std::log(level)) {}

  template <typename T>
  bool operator()(T const* const* focals, T* residual) const {
    using std::log;
    T sum(0.0);
    for (int i = 0; i < n; ++i) sum += log(focals[i][0]);
    residual[0] = (sum / T(n) - T(log_level)) * T(1e4);
    return true;
  }

  int n;
  double log_level;
};

// Polls BundleAdjustmentOptions::poll after every iteration; keeps what it
// threw (exceptions must not cross Ceres) and aborts the solve.
class PollCallback : public ceres::IterationCallback {
 public:
  explicit PollCallback(const std::function<void()>& poll) : poll_(poll) {}

  ceres::CallbackReturnType operator()(
      const ceres::IterationSummary& /*summary*/) override {
    try {
      poll_();
    } catch (...) {
      error_ = std::current_exception();
      return ceres::SOLVER_ABORT;
    }
    return ceres::SOLVER_CONTINUE;
  }

  const std::exception_ptr& Error() const { return error_; }

 private:
  const std::function<void()>& poll_;
  std::exception_ptr error_;
};

bool AllFinite(const double* values, int n) {
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) return false;
  }
  return true;
}

// The parameter blocks of one solve: Ceres holds pointers into them, so they
// stay where they are until the solve's results are written back.
struct BaParameters {
  // Per frame slot: whether its pose is refined.
  std::vector<uint8_t> variable;
  // Per frame slot: the pose as [rvec, t], and the focal (per-frame focal).
  std::vector<std::array<double, 6>> pose_params;
  std::vector<double> focal_params;
  double focal = 0.0;           // the shared focal
  double dist[2] = {0.0, 0.0};  // k1, k2
  // Distortion enters the residuals only when it is solved or non-zero.
  bool with_lens = false;
};

// Per frame slot, whether its pose is refined (checked to be registered).
std::vector<uint8_t> VariableMask(const BundleAdjustmentOptions& options,
                                  const Reconstruction& rec) {
  const int num_frames = static_cast<int>(rec.poses.size());
  std::vector<uint8_t> variable(num_frames, 0);
  for (int f : options.variable_frames) {
    VANELIA_CHECK(f >= 0 && f < num_frames && rec.poses[f].registered)
        << "bundle adjustment: frame slot " << f << " is not registered";
    variable[f] = 1;
  }
  return variable;
}

// Copies the poses, focals and distortion into `params` (checked finite).
void LoadParameters(const BundleAdjustmentOptions& options,
                    const Reconstruction& rec,
                    BaParameters* params) {
  const int num_frames = static_cast<int>(rec.poses.size());
  // Parameter storage: poses as 6-vectors.
  params->pose_params.resize(num_frames);
  params->focal_params.resize(num_frames);
  for (int f = 0; f < num_frames; ++f) {
    const FramePose& p = rec.poses[f];
    // Motion only: the other frames are not read (they may be being
    // refined by another thread).
    if (!options.refine_points && !params->variable[f]) continue;
    if (!p.registered) continue;
    std::array<double, 6>& pose = params->pose_params[f];
    std::copy(p.rvec.data(), p.rvec.data() + 3, pose.data());
    std::copy(p.t.data(), p.t.data() + 3, pose.data() + 3);
    params->focal_params[f] = p.focal;
    VANELIA_CHECK(AllFinite(pose.data(), 6))
        << "bundle adjustment: pose of frame slot " << f << " is not finite";
  }
  params->focal = rec.camera.focal;
  params->dist[0] = rec.camera.k1;
  params->dist[1] = rec.camera.k2;
  VANELIA_CHECK(std::isfinite(params->focal) && params->focal > 0.0)
      << "bundle adjustment: focal = " << params->focal << "; must be > 0";
  VANELIA_CHECK(AllFinite(params->dist, 2))
      << "bundle adjustment: k1/k2 not finite";
}

// The ids of the points with an inlier observation in a variable frame,
// ascending and unique.
std::vector<int> PointsSeen(const FeatureTracker& tracker,
                            const BundleAdjustmentOptions& options,
                            const Reconstruction& rec) {
  const auto& frames = tracker.Frames();
  std::vector<int> point_ids;
  for (int f : options.variable_frames) {
    for (const auto& [id, k] : frames[f].refs) {
      if (rec.has_point[id] && rec.inlier[id][k]) point_ids.push_back(id);
    }
  }
  std::sort(point_ids.begin(), point_ids.end());
  point_ids.erase(std::unique(point_ids.begin(), point_ids.end()),
                  point_ids.end());
  return point_ids;
}

// One reprojection residual per inlier observation of `point_ids` in the
// frames that enter the solve (collected in `used_frames`); points held or
// kept on the unit sphere as the options ask.
void AddReprojectionResiduals(const FeatureTracker& tracker,
                              const BundleAdjustmentOptions& options,
                              const std::vector<int>& point_ids,
                              ceres::LossFunction* loss,
                              BaParameters* params,
                              Reconstruction* rec,
                              ceres::Problem* problem,
                              std::unordered_set<int>* used_frames) {
  const auto& tracks = tracker.Tracks();
  const int num_frames = static_cast<int>(rec->poses.size());
  const double cx = rec->camera.cx;
  const double cy = rec->camera.cy;
  for (int id : point_ids) {
    double* point = rec->points[id].data();
    VANELIA_CHECK(AllFinite(point, 3))
        << "bundle adjustment: point " << id << " is not finite";
    const auto& obs = tracks[id].obs;
    int added = 0;
    for (size_t k = 0; k < obs.size(); ++k) {
      const int f = obs[k].frame;
      if (f >= num_frames || !rec->poses[f].registered || !rec->inlier[id][k]) {
        continue;
      }
      // Motion only: the other frames add nothing.
      if ((!options.refine_points || options.variable_frames_only) &&
          !params->variable[f]) {
        continue;
      }
      double* pose = params->pose_params[f].data();
      double* focal_ptr =
          rec->per_frame_focal ? &params->focal_params[f] : &params->focal;
      if (params->with_lens) {
        problem->AddResidualBlock(
            new ceres::AutoDiffCostFunction<ReprojectionCost, 2, 6, 3, 1, 2>(
                new ReprojectionCost(obs[k].px, cx, cy)),
            loss,
            pose,
            point,
            focal_ptr,
            params->dist);
      } else if (options.refine_focal) {
        problem->AddResidualBlock(
            new ceres::AutoDiffCostFunction<PinholeCost, 2, 6, 3, 1>(
                new PinholeCost(obs[k].px, cx, cy)),
            loss,
            pose,
            point,
            focal_ptr);
      } else {
        problem->AddResidualBlock(
            new ceres::AutoDiffCostFunction<FixedPinholeCost, 2, 6, 3>(
                new FixedPinholeCost(obs[k].px, *focal_ptr, cx, cy)),
            loss,
            pose,
            point);
      }
      used_frames->insert(f);
      ++added;
    }
    if (added > 0 && !options.refine_points) {
      problem->SetParameterBlockConstant(point);
    } else if (added > 0 && options.fix_translation) {
      // Rotation only: a point is a direction, its distance unobservable
      // (a rank-deficient step without this).
      rec->points[id].normalize();
      problem->SetManifold(point, new ceres::SphereManifold<3>());
    }
  }
}

// Holds the frames that are not refined, and the gauge: with free points
// and no constant frame, the first variable frame and one translation
// coordinate (the scale) of the next; all translations when they are fixed.
void HoldFramesAndGauge(const BundleAdjustmentOptions& options,
                        const std::unordered_set<int>& used_frames,
                        bool per_frame_focal,
                        BaParameters* params,
                        ceres::Problem* problem) {
  const int num_frames = static_cast<int>(params->variable.size());
  const std::vector<uint8_t>& variable = params->variable;
  auto& pose_params = params->pose_params;
  // Constant frames; the gauge.
  bool any_constant = false;
  int first_variable = num_frames;
  for (int f : used_frames) {
    if (!variable[f]) {
      problem->SetParameterBlockConstant(pose_params[f].data());
      if (per_frame_focal && (params->with_lens || options.refine_focal)) {
        problem->SetParameterBlockConstant(&params->focal_params[f]);
      }
      any_constant = true;
    } else {
      first_variable = std::min(first_variable, f);
    }
  }
  // Gauge: with free points and no constant frame, the first frame holds.
  const bool gauge =
      options.refine_points && !any_constant && first_variable < num_frames;
  int scale_frame = -1;  // holds one translation coordinate: the scale
  if (gauge) {
    problem->SetParameterBlockConstant(pose_params[first_variable].data());
    for (int f : options.variable_frames) {
      if (f != first_variable && used_frames.count(f) != 0 &&
          (scale_frame < 0 || f < scale_frame)) {
        scale_frame = f;
      }
    }
  }
  if (scale_frame >= 0) {
    const double* t = pose_params[scale_frame].data() + 3;
    int axis = 0;
    for (int i = 1; i < 3; ++i) {
      if (std::abs(t[i]) > std::abs(t[axis])) axis = i;
    }
    std::vector<int> fixed = {3 + axis};
    if (options.fix_translation) fixed = {3, 4, 5};
    problem->SetManifold(pose_params[scale_frame].data(),
                         new ceres::SubsetManifold(6, fixed));
  }
  if (options.fix_translation) {
    for (int f : used_frames) {
      if (variable[f] && !(gauge && f == first_variable) && f != scale_frame) {
        problem->SetManifold(pose_params[f].data(),
                             new ceres::SubsetManifold(6, {3, 4, 5}));
      }
    }
  }
}

// Holds the focal blocks that are not refined; for refined per-frame
// focals, adds the zoom's smoothness and level priors.
void ConstrainFocals(const BundleAdjustmentOptions& options,
                     const std::unordered_set<int>& used_frames,
                     bool per_frame_focal,
                     BaParameters* params,
                     ceres::Problem* problem) {
  const std::vector<uint8_t>& variable = params->variable;
  std::vector<double>& focal_params = params->focal_params;
  // Focal and distortion blocks exist only in the residuals that use them.
  const bool focal_blocks = params->with_lens || options.refine_focal;
  if (focal_blocks && !per_frame_focal && !options.refine_focal) {
    problem->SetParameterBlockConstant(&params->focal);
  }
  if (focal_blocks && per_frame_focal && !options.refine_focal) {
    for (int f : used_frames) {
      problem->SetParameterBlockConstant(&focal_params[f]);
    }
  }
  if (per_frame_focal && options.refine_focal &&
      options.focal_rate_sigma > 0.0) {
    std::vector<int> chain(used_frames.begin(), used_frames.end());
    std::sort(chain.begin(), chain.end());
    for (size_t i = 0; i + 2 < chain.size(); ++i) {
      const int a = chain[i];
      const int b = chain[i + 1];
      const int c = chain[i + 2];
      if (!variable[a] && !variable[b] && !variable[c]) continue;
      problem->AddResidualBlock(
          new ceres::AutoDiffCostFunction<FocalSmoothnessCost, 1, 1, 1, 1>(
              new FocalSmoothnessCost(a, b, c, options.focal_rate_sigma)),
          nullptr,
          &focal_params[a],
          &focal_params[b],
          &focal_params[c]);
    }
  }
  if (per_frame_focal && options.refine_focal && options.focal_level_px > 0.0) {
    std::vector<double*> blocks;
    for (int f : options.variable_frames) {
      if (used_frames.count(f) != 0) blocks.push_back(&focal_params[f]);
    }
    if (!blocks.empty()) {
      auto* cost = new ceres::DynamicAutoDiffCostFunction<FocalLevelCost, 8>(
          new FocalLevelCost(static_cast<int>(blocks.size()),
                             options.focal_level_px));
      for (size_t i = 0; i < blocks.size(); ++i) cost->AddParameterBlock(1);
      cost->SetNumResiduals(1);
      problem->AddResidualBlock(cost, nullptr, blocks);
    }
  }
}

// Holds k1 and/or k2 when they enter the residuals but are not refined.
void HoldDistortion(const BundleAdjustmentOptions& options,
                    BaParameters* params,
                    ceres::Problem* problem) {
  const bool with_lens = params->with_lens;
  double* dist = params->dist;
  if (with_lens && !options.refine_k1 && !options.refine_k2) {
    problem->SetParameterBlockConstant(dist);
  } else if (with_lens && !options.refine_k2) {
    problem->SetManifold(dist, new ceres::SubsetManifold(2, {1}));
  } else if (with_lens && !options.refine_k1) {
    problem->SetManifold(dist, new ceres::SubsetManifold(2, {0}));
  }
}

// The solver settings: the linear solver by problem shape, one thread.
ceres::Solver::Options SolverOptions(const BundleAdjustmentOptions& options,
                                     int num_cams) {
  ceres::Solver::Options solver;
  if (!options.refine_points) {
    solver.linear_solver_type = ceres::DENSE_QR;
  } else if (options.iterative) {
    solver.linear_solver_type = ceres::ITERATIVE_SCHUR;
  } else {
    solver.linear_solver_type =
        num_cams <= 300 ? ceres::DENSE_SCHUR : ceres::ITERATIVE_SCHUR;
  }
  if (solver.linear_solver_type == ceres::ITERATIVE_SCHUR) {
    solver.preconditioner_type = ceres::SCHUR_JACOBI;
  }
  solver.max_num_iterations = options.max_iterations;
  solver.num_threads = 1;  // deterministic: see the header
  solver.function_tolerance = options.function_tolerance;
  solver.logging_type = ceres::SILENT;
  solver.minimizer_progress_to_stdout = false;
  return solver;
}

// Writes the refined values of a usable solve back into `rec`.
void StoreSolution(const BundleAdjustmentOptions& options,
                   const std::unordered_set<int>& used_frames,
                   const BaParameters& params,
                   Reconstruction* rec) {
  for (int f : used_frames) {
    if (!params.variable[f]) continue;
    FramePose& p = rec->poses[f];
    p.rvec = Eigen::Vector3d(params.pose_params[f].data());
    p.t = Eigen::Vector3d(params.pose_params[f].data() + 3);
    if (rec->per_frame_focal) p.focal = params.focal_params[f];
  }
  const double focal = params.focal;
  if (options.refine_focal && !rec->per_frame_focal && focal > 0.0 &&
      std::isfinite(focal)) {
    rec->camera.focal = focal;
  }
  if (options.refine_k1 || options.refine_k2) {
    rec->camera.k1 = params.dist[0];
    rec->camera.k2 = params.dist[1];
  }
}

}  // namespace

BundleAdjustmentReport BundleAdjust(const FeatureTracker& tracker,
                                    const BundleAdjustmentOptions& options,
                                    Reconstruction* rec) {
  BundleAdjustmentReport report;
  BaParameters params;
  params.variable = VariableMask(options, *rec);
  if (options.variable_frames.empty()) return report;
  LoadParameters(options, *rec, &params);

  // Points seen by a variable frame.
  const std::vector<int> point_ids = PointsSeen(tracker, options, *rec);

  ceres::Problem::Options problem_options;
  problem_options.loss_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  ceres::CauchyLoss cauchy(options.loss_scale_px);
  ceres::LossFunction* loss = options.loss_scale_px > 0.0 ? &cauchy : nullptr;

  std::unordered_set<int> used_frames;
  params.with_lens = options.refine_k1 || options.refine_k2 ||
                     params.dist[0] != 0.0 || params.dist[1] != 0.0;
  AddReprojectionResiduals(
      tracker, options, point_ids, loss, &params, rec, &problem, &used_frames);
  report.num_residuals = problem.NumResiduals();
  if (report.num_residuals == 0) return report;

  HoldFramesAndGauge(
      options, used_frames, rec->per_frame_focal, &params, &problem);
  ConstrainFocals(
      options, used_frames, rec->per_frame_focal, &params, &problem);
  HoldDistortion(options, &params, &problem);

  const int num_cams = static_cast<int>(used_frames.size());
  ceres::Solver::Options solver = SolverOptions(options, num_cams);
  std::optional<PollCallback> poll;
  if (options.poll) {
    poll.emplace(options.poll);
    solver.callbacks.push_back(&*poll);
  }
  ceres::Solver::Summary summary;
  ceres::Solve(solver, &problem, &summary);
  if (poll && poll->Error()) std::rethrow_exception(poll->Error());
  report.solved = summary.IsSolutionUsable();
  report.iterations = static_cast<int>(summary.iterations.size());
  report.final_cost = summary.final_cost;
  const double n = std::max(1, report.num_residuals / 2);
  report.initial_rms_px = std::sqrt(2.0 * summary.initial_cost / n);
  report.final_rms_px = std::sqrt(2.0 * summary.final_cost / n);
  if (!report.solved) return report;

  StoreSolution(options, used_frames, params, rec);
  return report;
}

int FilterOutliers(const FeatureTracker& tracker,
                   double max_error_px,
                   Reconstruction* rec) {
  const auto& tracks = tracker.Tracks();
  int marked = 0;
  const int num_frames = static_cast<int>(rec->poses.size());
  for (size_t id = 0; id < tracks.size(); ++id) {
    if (!rec->has_point[id]) continue;
    const auto& obs = tracks[id].obs;
    int good = 0;
    for (size_t k = 0; k < obs.size(); ++k) {
      const int f = obs[k].frame;
      if (f >= num_frames || !rec->poses[f].registered || !rec->inlier[id][k]) {
        continue;
      }
      const double e = ReprojectionError(*rec, f, rec->points[id], obs[k].px);
      if (e < 0.0 || e > max_error_px) {
        rec->inlier[id][k] = 0;
        ++marked;
      } else {
        ++good;
      }
    }
    if (good < 2) rec->has_point[id] = 0;
  }
  return marked;
}

double MeanReprojectionError(const FeatureTracker& tracker,
                             const Reconstruction& rec,
                             int* count) {
  const auto& tracks = tracker.Tracks();
  const int num_frames = static_cast<int>(rec.poses.size());
  double sum = 0.0;
  int n = 0;
  for (size_t id = 0; id < tracks.size(); ++id) {
    if (!rec.has_point[id]) continue;
    const auto& obs = tracks[id].obs;
    for (size_t k = 0; k < obs.size(); ++k) {
      const int f = obs[k].frame;
      if (f >= num_frames || !rec.poses[f].registered || !rec.inlier[id][k]) {
        continue;
      }
      const double e = ReprojectionError(rec, f, rec.points[id], obs[k].px);
      if (e >= 0.0) {
        sum += e;
        ++n;
      }
    }
  }
  if (count != nullptr) *count = n;
  return n > 0 ? sum / n : 0.0;
}

}  // namespace vanelia::internal
