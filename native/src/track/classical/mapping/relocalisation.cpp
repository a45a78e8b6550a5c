// Relocalisation of the incremental mapper: after the solve, the keyframes
// that frame-to-frame tracking lost (a gap, a fast turn, an occlusion) are
// registered against the map by descriptors, as ORB-SLAM's relocalisation
// and COLMAP's image registration do (src/colmap/sfm/incremental_mapper.cc
// RegisterNextImage): SIFT features of the lost keyframe matched to a
// registered keyframe, whose features are given 3-D points by triangulation
// against its registered neighbours (the map's KLT corners carry no
// descriptor), then PnP + RANSAC with the known intrinsics and a
// Levenberg-Marquardt refinement. A pose is kept only with enough inliers
// and a small error; the map then grows from it (the KLT tracks it shares
// with later frames, triangulation, bundle adjustment) until a pass adds no
// frame. Wide-baseline views (photos with gaps) share no KLT track with the
// map, so the relocalised keyframes' SIFT matches with their nearest
// registered keyframes, verified by triangulation from the poses, are then
// joined into descriptor-matched tracks (union-find over (keyframe, feature))
// whose points enter the bundle adjustment like the KLT ones: they tie those
// views to the map and refine their poses and the focal. Frames that still
// fail, or that no point backs after the adjustment, stay unregistered.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include <Eigen/SVD>
#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>

#include "track/classical/bundle_adjustment/bundle_adjustment_impl.hpp"
#include "track/classical/mapping/incremental_mapper_impl.hpp"
#include "track/classical/two_view/two_view_impl.hpp"

namespace vanelia::internal {

namespace {

constexpr int kSiftFeatures = 3000;   // per keyframe
constexpr float kRatio = 0.8F;        // Lowe's ratio test
constexpr size_t kCandidates = 12;    // registered keyframes tried, nearest
constexpr size_t kPartners = 4;       // views that give a keyframe 3-D points
constexpr int kMinRelocInliers = 30;  // PnP inliers to accept a pose
constexpr double kMinInlierRatio = 0.2;
constexpr double kMinAngleDeg = 1.0;  // triangulation of the SIFT points

// Ratio-tested matches (row in a, row in b).
std::vector<std::pair<int, int>> RatioMatch(const cv::Mat& a,
                                            const cv::Mat& b) {
  std::vector<std::pair<int, int>> out;
  if (a.rows < 2 || b.rows < 2) return out;
  cv::BFMatcher matcher(cv::NORM_L2);
  std::vector<std::vector<cv::DMatch>> knn;
  matcher.knnMatch(a, b, knn, 2);
  for (const auto& m : knn) {
    if (m.size() == 2 && m[0].distance < kRatio * m[1].distance) {
      out.emplace_back(m[0].queryIdx, m[0].trainIdx);
    }
  }
  return out;
}

// 3x4 projection [R|t] of a pose (normalised camera).
Eigen::Matrix<double, 3, 4> ProjectionOf(const FramePose& pose) {
  Eigen::Matrix<double, 3, 4> P;
  const double angle = pose.rvec.norm();
  P.leftCols<3>() =
      angle > 0.0
          ? Eigen::AngleAxisd(angle, pose.rvec / angle).toRotationMatrix()
          : Eigen::Matrix3d::Identity();
  P.col(3) = pose.t;
  return P;
}

// Two-view DLT of normalised rays xa, xb; nullopt at infinity.
std::optional<Eigen::Vector3d> Triangulate2(
    const Eigen::Matrix<double, 3, 4>& pa,
    const Eigen::Matrix<double, 3, 4>& pb,
    const Eigen::Vector2d& xa,
    const Eigen::Vector2d& xb) {
  Eigen::Matrix4d A;
  A.row(0) = xa.x() * pa.row(2) - pa.row(0);
  A.row(1) = xa.y() * pa.row(2) - pa.row(1);
  A.row(2) = xb.x() * pb.row(2) - pb.row(0);
  A.row(3) = xb.y() * pb.row(2) - pb.row(1);
  const Eigen::Vector4d h =
      Eigen::JacobiSVD<Eigen::Matrix4d>(A, Eigen::ComputeFullV)
          .matrixV()
          .col(3);
  if (std::abs(h.w()) < 1e-12) return std::nullopt;
  return Eigen::Vector3d(h.head<3>() / h.w());
}

// A pose from 2-D/3-D correspondences: PnP + RANSAC (P3P samples),
// Levenberg-Marquardt on the inliers, the inliers counted again on the
// refined pose; nullopt unless enough inliers, a large enough share of the
// matches and a small mean error.
std::optional<FramePose> SolveRelocPnp(const CameraModel& camera,
                                       double focal,
                                       const std::vector<cv::Point3d>& object,
                                       const std::vector<cv::Point2d>& image,
                                       double threshold_px) {
  if (static_cast<int>(object.size()) < kMinRelocInliers) return std::nullopt;
  const cv::Matx33d K(focal, 0, camera.cx, 0, focal, camera.cy, 0, 0, 1);
  const cv::Vec4d dist(camera.k1, camera.k2, 0.0, 0.0);
  cv::Vec3d rvec;
  cv::Vec3d tvec;
  std::vector<int> inliers;
  cv::setRNGSeed(kRansacSeed);
  if (!cv::solvePnPRansac(object,
                          image,
                          K,
                          dist,
                          rvec,
                          tvec,
                          false,
                          2000,
                          static_cast<float>(threshold_px),
                          0.999,
                          inliers,
                          cv::SOLVEPNP_AP3P) ||
      static_cast<int>(inliers.size()) < kMinRelocInliers) {
    return std::nullopt;
  }
  std::vector<cv::Point3d> obj_in;
  std::vector<cv::Point2d> img_in;
  for (int i : inliers) {
    obj_in.push_back(object[i]);
    img_in.push_back(image[i]);
  }
  cv::solvePnPRefineLM(obj_in, img_in, K, dist, rvec, tvec);
  FramePose pose;
  pose.rvec = Eigen::Vector3d(rvec[0], rvec[1], rvec[2]);
  pose.t = Eigen::Vector3d(tvec[0], tvec[1], tvec[2]);
  pose.focal = focal;
  if (!pose.rvec.allFinite() || !pose.t.allFinite()) return std::nullopt;
  int n = 0;
  double sum = 0.0;
  for (size_t i = 0; i < object.size(); ++i) {
    const Eigen::Vector3d p(object[i].x, object[i].y, object[i].z);
    double uv[2];
    if (!ProjectPoint(pose.rvec.data(),
                      pose.t.data(),
                      p.data(),
                      focal,
                      camera.k1,
                      camera.k2,
                      camera.cx,
                      camera.cy,
                      uv)) {
      continue;
    }
    const double e = std::hypot(uv[0] - image[i].x, uv[1] - image[i].y);
    if (e > threshold_px) continue;
    ++n;
    sum += e;
  }
  if (n < kMinRelocInliers ||
      n < kMinInlierRatio * static_cast<double>(object.size()) ||
      sum / n > 0.5 * threshold_px) {
    return std::nullopt;
  }
  return pose;
}

// The `max_partners` keyframes of `registered` nearest to `kf` (by index),
// nearest first.
std::vector<int> NearestOf(int kf,
                           const std::vector<int>& registered,
                           size_t max_partners) {
  std::vector<int> partners;
  for (int other : registered) {
    if (other != kf) partners.push_back(other);
  }
  std::stable_sort(partners.begin(), partners.end(), [kf](int x, int y) {
    return std::abs(x - kf) < std::abs(y - kf);
  });
  if (partners.size() > max_partners) partners.resize(max_partners);
  return partners;
}

// Each keyframe of `from` with its NearestOf partners, each pair once, sorted.
std::vector<std::pair<int, int>> NearestPairs(
    const std::vector<int>& from,
    const std::vector<int>& registered,
    size_t max_partners) {
  std::vector<std::pair<int, int>> pairs;
  for (int kf : from) {
    for (int other : NearestOf(kf, registered, max_partners)) {
      pairs.emplace_back(std::min(kf, other), std::max(kf, other));
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

}  // namespace

std::vector<SiftMatch> IncrementalMapper::VerifiedMatches(int a, int b) {
  std::vector<SiftMatch> out;
  const SiftView& va = SiftOf(a);
  const SiftView& vb = SiftOf(b);
  const auto pa = ProjectionOf(rec_.poses[a]);
  const auto pb = ProjectionOf(rec_.poses[b]);
  const Eigen::Vector3d ca = CenterOf(rec_.poses[a]);
  const Eigen::Vector3d cb = CenterOf(rec_.poses[b]);
  const double cos_min = std::cos(kMinAngleDeg * M_PI / 180.0);
  const double max_err = options_.max_reprojection_error_px;
  for (const auto& [ia, ib] : RatioMatch(va.desc, vb.desc)) {
    const cv::Point2f& ka = va.keypoints[ia].pt;
    const cv::Point2f& kb = vb.keypoints[ib].pt;
    const Eigen::Vector2d xa(ka.x, ka.y);
    const Eigen::Vector2d xb(kb.x, kb.y);
    const auto p = Triangulate2(pa,
                                pb,
                                Normalize(rec_.camera, rec_.FocalOf(a), xa),
                                Normalize(rec_.camera, rec_.FocalOf(b), xb));
    if (!p || !p->allFinite()) continue;
    const double cos_angle = (*p - ca).normalized().dot((*p - cb).normalized());
    if (cos_angle > cos_min) continue;
    const double ea = ReprojectionError(rec_, a, *p, xa);
    const double eb = ReprojectionError(rec_, b, *p, xb);
    if (ea < 0.0 || eb < 0.0 || ea > max_err || eb > max_err) continue;
    out.push_back({ia, ib, *p});
  }
  return out;
}

// 3-D points of keyframe `kf`'s SIFT features (by row), triangulated with
// its nearest registered keyframes; a feature keeps its first good point.
std::map<int, Eigen::Vector3d> IncrementalMapper::SiftPointsOf(
    int kf, const std::vector<int>& registered) {
  std::map<int, Eigen::Vector3d> points;
  for (int other : NearestOf(kf, registered, kPartners)) {
    Poll();
    for (const SiftMatch& m : VerifiedMatches(kf, other)) {
      points.emplace(m.ia, m.p);
    }
  }
  return points;
}

int IncrementalMapper::AddSiftTracks(const std::vector<int>& relocalised) {
  // Keyframe pairs: each relocalised keyframe with its nearest registered
  // ones (relocalised or not), each pair once.
  std::vector<int> from;
  for (int kf : relocalised) {
    if (rec_.poses[kf].registered) from.push_back(kf);
  }
  const std::vector<std::pair<int, int>> pairs =
      NearestPairs(from, RegisteredKeyframes(), kPartners);
  // Union-find over (keyframe, SIFT row): a track is a connected set of
  // verified matches; its point is that of its first match.
  std::map<std::pair<int, int>, int> node;
  std::vector<int> parent;
  std::vector<Eigen::Vector3d> first_point;
  const auto find = [&parent](int x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  const auto node_of = [&](int frame, int row, const Eigen::Vector3d& p) {
    const auto [it, fresh] = node.emplace(std::make_pair(frame, row),
                                          static_cast<int>(parent.size()));
    if (fresh) {
      parent.push_back(it->second);
      first_point.push_back(p);
    }
    return it->second;
  };
  for (const auto& [a, b] : pairs) {
    Poll();
    for (const SiftMatch& m : VerifiedMatches(a, b)) {
      const int na = find(node_of(a, m.ia, m.p));
      const int nb = find(node_of(b, m.ib, m.p));
      if (na != nb) parent[nb] = na;
    }
  }
  std::map<int, std::vector<std::pair<int, int>>> groups;  // root -> nodes
  for (const auto& [key, n] : node) groups[find(n)].push_back(key);
  std::vector<std::pair<int, Eigen::Vector3d>> new_points;  // (id, point)
  for (const auto& [root, members] : groups) {
    // (frame, row) keys come sorted by frame; two rows of one frame make
    // the track ambiguous: dropped.
    bool ambiguous = false;
    for (size_t k = 1; k < members.size(); ++k) {
      ambiguous |= members[k].first == members[k - 1].first;
    }
    if (ambiguous || members.size() < 2) continue;
    FeatureTrack track;
    int grey = 0;
    for (const auto& [frame, row] : members) {
      const cv::Point2f& pt = SiftOf(frame).keypoints[row].pt;
      track.obs.push_back({frame, Eigen::Vector2d(pt.x, pt.y)});
      const cv::Mat& img = keyframe_grey_[frame];
      grey = img.at<uint8_t>(
          std::clamp(static_cast<int>(std::lround(pt.y)), 0, img.rows - 1),
          std::clamp(static_cast<int>(std::lround(pt.x)), 0, img.cols - 1));
    }
    track.rgb.setConstant(static_cast<uint8_t>(grey));
    track.anchor_frame = track.obs.front().frame;
    track.anchor_px = track.obs.front().px.cast<float>();
    new_points.emplace_back(tracker_.AddMatchedTrack(std::move(track)),
                            first_point[root]);
  }
  rec_.Resize(tracker_);
  for (const auto& [id, p] : new_points) {
    rec_.points[id] = p;
    rec_.has_point[id] = 1;
  }
  return static_cast<int>(new_points.size());
}

const SiftView& IncrementalMapper::SiftOf(int slot) {
  auto it = sift_.find(slot);
  if (it != sift_.end()) return it->second;
  SiftView view;
  cv::Ptr<cv::SIFT> sift = cv::SIFT::create(kSiftFeatures);
  // Keypoints on the ignore mask (moving things) are not taken.
  const cv::Mat& usable = keyframe_usable_[slot];
  sift->detectAndCompute(
      keyframe_grey_[slot],
      usable.empty() ? cv::noArray() : cv::InputArray(usable),
      view.keypoints,
      view.desc);
  return sift_.emplace(slot, std::move(view)).first->second;
}

bool IncrementalMapper::RelocaliseFrame(int slot) {
  const SiftView& query = SiftOf(slot);
  if (query.desc.rows < kMinRelocInliers) return false;
  // The registered keyframes nearest in time; the one most matched is the
  // map the query is registered against.
  std::vector<int> near = RegisteredKeyframes();
  std::stable_sort(near.begin(), near.end(), [slot](int a, int b) {
    return std::abs(a - slot) < std::abs(b - slot);
  });
  if (near.size() > kCandidates) near.resize(kCandidates);
  std::vector<std::pair<std::vector<std::pair<int, int>>, int>> per_view;
  for (int kf : near) {
    Poll();
    per_view.emplace_back(RatioMatch(query.desc, SiftOf(kf).desc), kf);
  }
  std::stable_sort(
      per_view.begin(), per_view.end(), [](const auto& a, const auto& b) {
        return a.first.size() > b.first.size();
      });
  for (size_t v = 0; v < per_view.size() && v < 2; ++v) {
    const auto& [matches, kf] = per_view[v];
    if (static_cast<int>(matches.size()) < kMinRelocInliers) break;
    const std::map<int, Eigen::Vector3d> points =
        SiftPointsOf(kf, RegisteredKeyframes());
    std::vector<cv::Point3d> object;
    std::vector<cv::Point2d> image;
    for (const auto& [iq, im] : matches) {
      const auto it = points.find(im);
      if (it == points.end()) continue;
      object.emplace_back(it->second.x(), it->second.y(), it->second.z());
      image.emplace_back(query.keypoints[iq].pt.x, query.keypoints[iq].pt.y);
    }
    const std::optional<FramePose> pose =
        SolveRelocPnp(rec_.camera,
                      rec_.FocalOf(kf),
                      object,
                      image,
                      2.0 * options_.ransac_threshold_px);
    if (!pose) continue;
    FramePose& frame = rec_.poses[slot];
    frame.rvec = pose->rvec;
    frame.t = pose->t;
    frame.focal = pose->focal;
    frame.registered = true;
    return true;
  }
  return false;
}

void IncrementalMapper::GrowFrom() {
  const std::vector<uint8_t> before = RegisteredMask();
  int count = NumRegistered();
  for (;;) {
    RegisterAllFrames();
    const int now = NumRegistered();
    if (now == count) break;
    count = now;
  }
  // The frames that see points now (a lone relocalised frame may see none
  // yet: its tracks wait for a second registered view).
  BundleAdjustmentOptions ba = BaOptions();
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    int n = 0;
    if (rec_.poses[f].registered) FrameError(static_cast<int>(f), &n);
    const bool fresh = rec_.poses[f].registered && !before[f];
    if (fresh && n >= 6) ba.variable_frames.push_back(static_cast<int>(f));
  }
  if (ba.variable_frames.empty()) return;
  ba.max_iterations = 20;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
}

void IncrementalMapper::Relocalise() {
  std::vector<int> relocalised;
  for (bool added = true; added;) {
    added = false;
    // Unregistered keyframes, those next to a registered frame first.
    const std::vector<uint8_t> reg = RegisteredMask();
    std::vector<std::pair<int, int>> order;  // (distance, slot)
    for (int kf : keyframes_) {
      if (reg[kf] || kf >= static_cast<int>(keyframe_grey_.size()) ||
          keyframe_grey_[kf].empty()) {
        continue;
      }
      int d = static_cast<int>(reg.size());
      for (size_t f = 0; f < reg.size(); ++f) {
        if (reg[f]) d = std::min(d, std::abs(static_cast<int>(f) - kf));
      }
      order.emplace_back(d, kf);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [d, kf] : order) {
      if (rec_.poses[kf].registered || !RelocaliseFrame(kf)) continue;
      relocalised.push_back(kf);
      GrowFrom();
      added = true;
    }
  }
  if (relocalised.empty()) {
    sift_.clear();
    return;
  }
  AddSiftTracks(relocalised);
  sift_.clear();
  // The relocalised poses come from PnP alone: adjusted to convergence with
  // the descriptor-matched points first (GlobalBundleAdjustment stops after
  // a few iterations).
  BundleAdjustmentOptions ba = BaOptions();
  ba.variable_frames = RegisteredKeyframes();
  ba.refine_focal = !focal_known_;
  ba.refine_k1 = lens_solved_;
  ba.refine_k2 = lens_solved_;
  ba.max_iterations = 50;
  ba.function_tolerance = 1e-8;
  BundleAdjust(tracker_, ba, &rec_);
  FilterOutliers(tracker_, options_.max_reprojection_error_px, &rec_);
  GlobalBundleAdjustment();
  RefineFramePoses();
  // A frame that no point backs after the adjustment keeps no pose.
  for (size_t f = 0; f < rec_.poses.size(); ++f) {
    int n = 0;
    if (rec_.poses[f].registered) FrameError(static_cast<int>(f), &n);
    if (rec_.poses[f].registered && n < options_.min_pnp_inliers / 2) {
      rec_.poses[f].registered = false;
    }
  }
  std::ostringstream msg;
  msg << "tracking broke; " << relocalised.size()
      << " keyframe(s) relocalised against the map by their features:";
  for (int f : relocalised) msg << " #" << f;
  warnings_.push_back(msg.str());
}

}  // namespace vanelia::internal
