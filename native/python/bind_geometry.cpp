// Bindings of the geometry module: Rigid3d, Sim3d, Intrinsics, Plane3d,
// Umeyama, plane fitting (least squares and RANSAC), rotation helpers.
//
// Conventions on the Python side: quaternions are numpy arrays [w, x, y, z]
// (Blender's order), point sets are (N, 3) float arrays (one point per row),
// matrices are numpy arrays. Transforms are target_from_source as in C++.
#include "vanelia/core/error.hpp"
#include "vanelia/geometry/intrinsics.hpp"
#include "vanelia/geometry/plane.hpp"
#include "vanelia/geometry/ransac.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/rotation.hpp"
#include "vanelia/geometry/sim3d.hpp"
#include "vanelia/geometry/umeyama.hpp"

#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {
namespace {

using PointsN3 = Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>;
using QuaternionsN4 = Eigen::Matrix<double, Eigen::Dynamic, 4, Eigen::RowMajor>;

Eigen::Quaterniond QuaternionFromWxyz(const Eigen::Vector4d& wxyz,
                                      const char* what) {
  const double norm = wxyz.norm();
  if (!wxyz.allFinite() || !(norm > 0.0)) {
    std::ostringstream out;
    out << what << " = [" << wxyz.transpose()
        << "]; must be a finite, non-zero quaternion [w, x, y, z]";
    throw InputError(out.str());
  }
  return Eigen::Quaterniond(wxyz(0), wxyz(1), wxyz(2), wxyz(3)).normalized();
}

Eigen::Vector4d Wxyz(const Eigen::Quaterniond& q) {
  return {q.w(), q.x(), q.y(), q.z()};
}

// (N, 3) rows -> 3xN columns.
Eigen::Matrix3Xd Columns(const PointsN3& points) {
  return points.transpose();
}

// Optional (N,) weights -> Eigen (empty for None).
Eigen::VectorXd Weights(const std::optional<Eigen::VectorXd>& weights) {
  return weights ? *weights : Eigen::VectorXd();
}

// A 3x4 or 4x4 numpy matrix.
template <typename T>
T FromAnyMatrix(const Eigen::MatrixXd& matrix, const char* what) {
  if (matrix.rows() == 4 && matrix.cols() == 4) {
    return T::FromMatrix4(Eigen::Matrix4d(matrix));
  }
  if (matrix.rows() == 3 && matrix.cols() == 4) {
    return T::FromMatrix(Eigen::Matrix<double, 3, 4>(matrix));
  }
  throw InputError(
      std::string(what) + ": matrix shape (" + std::to_string(matrix.rows()) +
      ", " + std::to_string(matrix.cols()) + "); must be (3, 4) or (4, 4)");
}

py::array_t<bool> BoolMask(const std::vector<char>& mask) {
  py::array_t<bool> out(static_cast<py::ssize_t>(mask.size()));
  auto view = out.mutable_unchecked<1>();
  for (size_t i = 0; i < mask.size(); ++i) {
    view(static_cast<py::ssize_t>(i)) = mask[i] != 0;
  }
  return out;
}

PointsN3 TransformRows(const PointsN3& points, const Eigen::Matrix4d& m) {
  PointsN3 out(points.rows(), 3);
  for (Eigen::Index i = 0; i < points.rows(); ++i) {
    out.row(i) = (m.topLeftCorner<3, 3>() * points.row(i).transpose() +
                  m.topRightCorner<3, 1>())
                     .transpose();
  }
  return out;
}

std::string Repr(const Rigid3d& r) {
  std::ostringstream out;
  out.precision(17);
  out << "Rigid3d(rotation_wxyz=[" << r.rotation.w() << ", " << r.rotation.x()
      << ", " << r.rotation.y() << ", " << r.rotation.z() << "], translation=["
      << r.translation.x() << ", " << r.translation.y() << ", "
      << r.translation.z() << "])";
  return out.str();
}

std::string Repr(const Sim3d& s) {
  std::ostringstream out;
  out.precision(17);
  out << "Sim3d(scale=" << s.scale << ", rotation_wxyz=[" << s.rotation.w()
      << ", " << s.rotation.x() << ", " << s.rotation.y() << ", "
      << s.rotation.z() << "], translation=[" << s.translation.x() << ", "
      << s.translation.y() << ", " << s.translation.z() << "])";
  return out.str();
}

void BindRigid3d(py::module_& m) {
  py::class_<Rigid3d>(
      m, "Rigid3d", "Rigid transform b_from_a: x_in_b = R @ x_in_a + t.")
      .def(py::init([](const Eigen::Vector4d& rotation_wxyz,
                       const Eigen::Vector3d& translation) {
             return Rigid3d(QuaternionFromWxyz(rotation_wxyz, "rotation_wxyz"),
                            translation);
           }),
           py::arg("rotation_wxyz") = Eigen::Vector4d(1.0, 0.0, 0.0, 0.0),
           py::arg("translation") = Eigen::Vector3d::Zero(),
           "From a quaternion [w, x, y, z] (normalised) and a translation.")
      .def_static(
          "from_matrix",
          [](const Eigen::MatrixXd& matrix) {
            return FromAnyMatrix<Rigid3d>(matrix, "Rigid3d.from_matrix");
          },
          py::arg("matrix"),
          "From a (3, 4) or (4, 4) matrix [R | t]; raises InputError "
          "when R is not a rotation or the last row is not [0 0 0 1].")
      .def_property(
          "rotation_wxyz",
          [](const Rigid3d& r) { return Wxyz(r.rotation); },
          [](Rigid3d& r, const Eigen::Vector4d& wxyz) {
            r.rotation = QuaternionFromWxyz(wxyz, "rotation_wxyz");
          },
          "Unit quaternion [w, x, y, z].")
      .def_property_readonly(
          "rotation_matrix",
          [](const Rigid3d& r) {
            return Eigen::Matrix3d(r.rotation.toRotationMatrix());
          },
          "3x3 rotation matrix R.")
      .def_readwrite("translation", &Rigid3d::translation, "Translation t.")
      .def("matrix", &Rigid3d::ToMatrix4, "Homogeneous 4x4 matrix.")
      .def("inverse", &Rigid3d::Inverse, "a_from_b.")
      .def(
          "transform_points",
          [](const Rigid3d& r, const PointsN3& points) {
            return TransformRows(points, r.ToMatrix4());
          },
          py::arg("points"),
          "Applies the transform to (N, 3) points.")
      .def(
          "__mul__",
          [](const Rigid3d& a, const Rigid3d& b) { return a * b; },
          py::is_operator())
      .def(
          "__mul__",
          [](const Rigid3d& a, const Eigen::Vector3d& x) {
            return Eigen::Vector3d(a * x);
          },
          py::is_operator())
      .def("__repr__", [](const Rigid3d& r) { return Repr(r); });
}

// Sim3d's constructor: checks the scale, normalises the quaternion.
Sim3d MakeSim3d(double scale,
                const Eigen::Vector4d& rotation_wxyz,
                const Eigen::Vector3d& translation) {
  if (!(scale > 0.0) || !std::isfinite(scale)) {
    throw InputError("Sim3d: scale = " + std::to_string(scale) +
                     "; must be finite and > 0");
  }
  return Sim3d(
      scale, QuaternionFromWxyz(rotation_wxyz, "rotation_wxyz"), translation);
}

void BindSim3d(py::module_& m) {
  py::class_<Sim3d>(
      m, "Sim3d", "Similarity b_from_a: x_in_b = s * R @ x_in_a + t, s > 0.")
      .def(py::init(&MakeSim3d),
           py::arg("scale") = 1.0,
           py::arg("rotation_wxyz") = Eigen::Vector4d(1.0, 0.0, 0.0, 0.0),
           py::arg("translation") = Eigen::Vector3d::Zero(),
           "From a scale (> 0), a quaternion [w, x, y, z] and a translation.")
      .def_static(
          "from_matrix",
          [](const Eigen::MatrixXd& matrix) {
            return FromAnyMatrix<Sim3d>(matrix, "Sim3d.from_matrix");
          },
          py::arg("matrix"),
          "From a (3, 4) or (4, 4) matrix [s R | t]; raises "
          "InputError on a non-positive scale, a reflection or a "
          "non-rotation.")
      .def_static("from_rigid",
                  &Sim3d::FromRigid,
                  py::arg("rigid"),
                  "The rigid transform with scale 1.")
      .def_property(
          "scale",
          [](const Sim3d& s) { return s.scale; },
          [](Sim3d& s, double scale) {
            if (!(scale > 0.0) || !std::isfinite(scale)) {
              throw InputError("Sim3d.scale = " + std::to_string(scale) +
                               "; must be finite and > 0");
            }
            s.scale = scale;
          },
          "Scale s > 0.")
      .def_property(
          "rotation_wxyz",
          [](const Sim3d& s) { return Wxyz(s.rotation); },
          [](Sim3d& s, const Eigen::Vector4d& wxyz) {
            s.rotation = QuaternionFromWxyz(wxyz, "rotation_wxyz");
          },
          "Unit quaternion [w, x, y, z].")
      .def_property_readonly(
          "rotation_matrix",
          [](const Sim3d& s) {
            return Eigen::Matrix3d(s.rotation.toRotationMatrix());
          },
          "3x3 rotation matrix R (without the scale).")
      .def_readwrite("translation", &Sim3d::translation, "Translation t.")
      .def("matrix", &Sim3d::ToMatrix4, "Homogeneous 4x4 matrix [s R | t].")
      .def("inverse", &Sim3d::Inverse, "a_from_b.")
      .def("transform_pose",
           &Sim3d::TransformPose,
           py::arg("cam_from_a"),
           "cam_from_b of a camera given as cam_from_a (this is b_from_a): "
           "the camera centre moves with the similarity.")
      .def(
          "transform_points",
          [](const Sim3d& s, const PointsN3& points) {
            return TransformRows(points, s.ToMatrix4());
          },
          py::arg("points"),
          "Applies the similarity to (N, 3) points.")
      .def(
          "__mul__",
          [](const Sim3d& a, const Sim3d& b) { return a * b; },
          py::is_operator())
      .def(
          "__mul__",
          [](const Sim3d& a, const Eigen::Vector3d& x) {
            return Eigen::Vector3d(a * x);
          },
          py::is_operator())
      .def("__repr__", [](const Sim3d& s) { return Repr(s); });
}

void BindIntrinsics(py::module_& m) {
  py::class_<Intrinsics>(m,
                         "Intrinsics",
                         "Pinhole intrinsics in pixels, OpenCV axes (+x "
                         "right, +y down, +z forward), pixel centres at "
                         "integers: a centred 640x360 frame has cx = 319.5.")
      .def(py::init<>())
      .def(py::init([](double fx,
                       double fy,
                       double cx,
                       double cy,
                       int width,
                       int height) {
             Intrinsics k;
             k.fx = fx;
             k.fy = fy;
             k.cx = cx;
             k.cy = cy;
             k.width = width;
             k.height = height;
             return k;
           }),
           py::arg("fx"),
           py::arg("fy"),
           py::arg("cx"),
           py::arg("cy"),
           py::arg("width"),
           py::arg("height"))
      .def_static("centered",
                  &Intrinsics::Centered,
                  py::arg("focal_px"),
                  py::arg("width"),
                  py::arg("height"),
                  "Square pixels, principal point at the frame centre.")
      .def_readwrite("fx", &Intrinsics::fx)
      .def_readwrite("fy", &Intrinsics::fy)
      .def_readwrite("cx", &Intrinsics::cx)
      .def_readwrite("cy", &Intrinsics::cy)
      .def_readwrite("width", &Intrinsics::width)
      .def_readwrite("height", &Intrinsics::height)
      .def_property_readonly("K", &Intrinsics::K, "3x3 camera matrix.")
      .def("project",
           &Intrinsics::Project,
           py::arg("x_in_cam"),
           "Pixel (u, v) of a camera-frame point with z > 0.")
      .def("unproject",
           &Intrinsics::Unproject,
           py::arg("pixel"),
           "Ray direction (z = 1) through a pixel.")
      .def("rescaled",
           &Intrinsics::Rescaled,
           py::arg("width"),
           py::arg("height"),
           "The same camera for the frame resized to (width, height).")
      .def("__repr__", [](const Intrinsics& k) {
        std::ostringstream out;
        out.precision(17);
        out << "Intrinsics(fx=" << k.fx << ", fy=" << k.fy << ", cx=" << k.cx
            << ", cy=" << k.cy << ", width=" << k.width
            << ", height=" << k.height << ")";
        return out.str();
      });
}

void BindPlane(py::module_& m) {
  py::class_<Plane3d>(m,
                      "Plane3d",
                      "Plane dot(normal, X) + offset = 0 with a unit normal; "
                      "signed distances are positive on the normal's side.")
      .def(py::init<const Eigen::Vector3d&, double>(),
           py::arg("normal"),
           py::arg("offset"),
           "Normalises (normal, offset) by |normal|; raises InputError on a "
           "zero or non-finite normal.")
      .def_property_readonly(
          "normal", [](const Plane3d& p) { return p.normal; }, "Unit normal.")
      .def_property_readonly(
          "offset", [](const Plane3d& p) { return p.offset; }, "Offset.")
      .def("signed_distance",
           &Plane3d::SignedDistance,
           py::arg("point"),
           "dot(normal, point) + offset.")
      .def(
          "signed_distances",
          [](const Plane3d& p, const PointsN3& points) {
            return Eigen::VectorXd((points * p.normal).array() + p.offset);
          },
          py::arg("points"),
          "Signed distances of (N, 3) points.")
      .def("project",
           &Plane3d::Project,
           py::arg("point"),
           "Orthogonal projection onto the plane.")
      .def("flipped", &Plane3d::Flipped, "The opposite orientation.")
      .def("flip_towards",
           &Plane3d::FlipTowards,
           py::arg("point"),
           "The same plane with the normal towards `point`.")
      .def("__repr__", [](const Plane3d& p) {
        std::ostringstream out;
        out.precision(17);
        out << "Plane3d(normal=[" << p.normal.x() << ", " << p.normal.y()
            << ", " << p.normal.z() << "], offset=" << p.offset << ")";
        return out.str();
      });
}

void BindRansac(py::module_& m) {
  py::class_<RansacOptions>(m, "RansacOptions", "Options of RANSAC.")
      .def(py::init<>())
      .def_readwrite("max_error",
                     &RansacOptions::max_error,
                     "Largest inlier residual (estimator's unit), > 0.")
      .def_readwrite("min_inlier_ratio",
                     &RansacOptions::min_inlier_ratio,
                     "Inlier fraction needed for success, in [0, 1].")
      .def_readwrite("confidence",
                     &RansacOptions::confidence,
                     "Stopping confidence, in (0, 1).")
      .def_readwrite("min_num_trials", &RansacOptions::min_num_trials)
      .def_readwrite("max_num_trials", &RansacOptions::max_num_trials)
      .def_readwrite("random_seed", &RansacOptions::random_seed)
      .def("check",
           &RansacOptions::Check,
           "Raises InputError naming the first invalid field.");

  py::class_<RansacReport<Plane3d>>(
      m, "PlaneRansacReport", "Result of estimate_plane_ransac.")
      .def_readonly("success", &RansacReport<Plane3d>::success)
      .def_readonly("plane", &RansacReport<Plane3d>::model)
      .def_readonly("num_inliers", &RansacReport<Plane3d>::num_inliers)
      .def_readonly("num_trials", &RansacReport<Plane3d>::num_trials)
      .def_property_readonly(
          "inlier_mask",
          [](const RansacReport<Plane3d>& r) {
            return BoolMask(r.inlier_mask);
          },
          "(N,) bool array, True for inliers.");

  py::class_<RansacReport<Sim3d>>(
      m, "Sim3dRansacReport", "Result of estimate_sim3d_ransac.")
      .def_readonly("success", &RansacReport<Sim3d>::success)
      .def_readonly("dst_from_src", &RansacReport<Sim3d>::model)
      .def_readonly("num_inliers", &RansacReport<Sim3d>::num_inliers)
      .def_readonly("num_trials", &RansacReport<Sim3d>::num_trials)
      .def_property_readonly(
          "inlier_mask",
          [](const RansacReport<Sim3d>& r) { return BoolMask(r.inlier_mask); },
          "(N,) bool array, True for inliers.");

  m.def(
      "estimate_sim3d_ransac",
      [](const PointsN3& src,
         const PointsN3& dst,
         const RansacOptions& options,
         bool estimate_scale) {
        const Eigen::Matrix3Xd src_columns = Columns(src);
        const Eigen::Matrix3Xd dst_columns = Columns(dst);
        py::gil_scoped_release release;
        return EstimateSim3dRansac(
            src_columns, dst_columns, options, estimate_scale);
      },
      py::arg("src"),
      py::arg("dst"),
      py::arg("options") = RansacOptions(),
      py::arg("estimate_scale") = true,
      "RANSAC + Umeyama: dst_from_src from (N, 3) correspondences with "
      "outliers (max_error is a distance in dst's unit).");

  m.def(
      "estimate_plane_ransac",
      [](const PointsN3& points, const RansacOptions& options) {
        const Eigen::Matrix3Xd columns = Columns(points);
        py::gil_scoped_release release;
        return EstimatePlaneRansac(columns, options);
      },
      py::arg("points"),
      py::arg("options") = RansacOptions(),
      "RANSAC plane through (N, 3) points (max_error is a distance), refined "
      "by least squares on the inliers.");
}

void BindEstimators(py::module_& m) {
  m.def(
      "estimate_sim3d",
      [](const PointsN3& src,
         const PointsN3& dst,
         const std::optional<Eigen::VectorXd>& weights,
         bool estimate_scale) {
        return EstimateSim3d(
            Columns(src), Columns(dst), Weights(weights), estimate_scale);
      },
      py::arg("src"),
      py::arg("dst"),
      py::arg("weights") = py::none(),
      py::arg("estimate_scale") = true,
      "Weighted Umeyama: dst_from_src minimising sum w_i |dst_i - (s R src_i "
      "+ t)|^2 over (N, 3) point sets. None when degenerate (N < 3, "
      "collinear, zero weights, NaN); InputError on mismatched sizes or "
      "negative weights.");
  m.def(
      "estimate_rigid3d",
      [](const PointsN3& src,
         const PointsN3& dst,
         const std::optional<Eigen::VectorXd>& weights) {
        return EstimateRigid3d(Columns(src), Columns(dst), Weights(weights));
      },
      py::arg("src"),
      py::arg("dst"),
      py::arg("weights") = py::none(),
      "Weighted Procrustes (scale 1): dst_from_src or None when degenerate.");
  m.def(
      "fit_plane",
      [](const PointsN3& points,
         const std::optional<Eigen::VectorXd>& weights) {
        return FitPlane(Columns(points), Weights(weights));
      },
      py::arg("points"),
      py::arg("weights") = py::none(),
      "Least-squares plane through (N, 3) points (normal with z >= 0); None "
      "when degenerate.");
}

void BindRotation(py::module_& m) {
  m.def(
      "rotation_angle_deg",
      [](const Eigen::Vector4d& a_wxyz, const Eigen::Vector4d& b_wxyz) {
        return RotationAngleDeg(QuaternionFromWxyz(a_wxyz, "a_wxyz"),
                                QuaternionFromWxyz(b_wxyz, "b_wxyz"));
      },
      py::arg("a_wxyz"),
      py::arg("b_wxyz"),
      "Angle in degrees of the rotation between two quaternions [w, x, y, "
      "z] (sign-agnostic).");
  m.def(
      "quaternion_from_matrix",
      [](const Eigen::Matrix3d& matrix) {
        if (!matrix.allFinite()) {
          throw InputError(
              "quaternion_from_matrix: matrix has a non-finite entry");
        }
        return Wxyz(QuaternionFromMatrix(matrix));
      },
      py::arg("matrix"),
      "Quaternion [w, x, y, z] of the rotation nearest to a 3x3 matrix.");
  m.def(
      "make_quaternions_continuous",
      [](const QuaternionsN4& wxyz) {
        std::vector<Eigen::Quaterniond> q;
        q.reserve(static_cast<size_t>(wxyz.rows()));
        for (Eigen::Index i = 0; i < wxyz.rows(); ++i) {
          q.emplace_back(wxyz(i, 0), wxyz(i, 1), wxyz(i, 2), wxyz(i, 3));
        }
        MakeQuaternionsContinuous(q);
        QuaternionsN4 out(wxyz.rows(), 4);
        for (Eigen::Index i = 0; i < wxyz.rows(); ++i) {
          out.row(i) = Wxyz(q[static_cast<size_t>(i)]).transpose();
        }
        return out;
      },
      py::arg("quaternions_wxyz"),
      "(N, 4) quaternions [w, x, y, z] with signs flipped so consecutive ones "
      "have a positive dot product (for Blender fcurves).");
}

}  // namespace

void BindGeometry(py::module_& m) {
  BindRigid3d(m);
  BindSim3d(m);
  BindIntrinsics(m);
  BindPlane(m);
  BindRansac(m);
  BindEstimators(m);
  BindRotation(m);
}

}  // namespace vanelia::python
