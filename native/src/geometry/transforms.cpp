// Validated construction of Rigid3d and Sim3d from matrices.
#include "vanelia/core/error.hpp"
#include "vanelia/geometry/rigid3d.hpp"
#include "vanelia/geometry/sim3d.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia {
namespace {

constexpr double kOrthonormalTolerance = 1e-6;

std::string Describe(const Eigen::MatrixXd& matrix) {
  const Eigen::IOFormat format(
      Eigen::FullPrecision, Eigen::DontAlignCols, ", ", "; ", "", "", "[", "]");
  std::ostringstream out;
  out << matrix.format(format);
  return out.str();
}

void CheckFinite(const Eigen::MatrixXd& matrix, const char* what) {
  if (!matrix.allFinite()) {
    throw InputError(std::string(what) + " = " + Describe(matrix) +
                     "; every entry must be finite");
  }
}

void CheckLastRow(const Eigen::Matrix4d& matrix, const char* what) {
  if (matrix.row(3) != Eigen::RowVector4d(0.0, 0.0, 0.0, 1.0)) {
    throw InputError(std::string(what) + " last row = " +
                     Describe(matrix.row(3)) + "; must be [0, 0, 0, 1]");
  }
}

// Throws unless `r` is a rotation matrix within kOrthonormalTolerance.
void CheckRotation(const Eigen::Matrix3d& r, const char* what) {
  const double error =
      (r.transpose() * r - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff();
  if (!(error <= kOrthonormalTolerance) || !(r.determinant() > 0.0)) {
    std::ostringstream out;
    out << what << " rotation block = " << Describe(r)
        << "; must be a rotation (max |R^T R - I| = " << error
        << ", must be <= " << kOrthonormalTolerance
        << "; det = " << r.determinant() << ", must be > 0)";
    throw InputError(out.str());
  }
}

}  // namespace

Rigid3d Rigid3d::FromMatrix(const Eigen::Matrix<double, 3, 4>& matrix) {
  CheckFinite(matrix, "Rigid3d matrix");
  const Eigen::Matrix3d r = matrix.leftCols<3>();
  CheckRotation(r, "Rigid3d matrix");
  return Rigid3d(Eigen::Quaterniond(r), matrix.col(3));
}

Rigid3d Rigid3d::FromMatrix4(const Eigen::Matrix4d& matrix) {
  CheckFinite(matrix, "Rigid3d matrix");
  CheckLastRow(matrix, "Rigid3d matrix");
  return FromMatrix(matrix.topRows<3>());
}

Sim3d Sim3d::FromMatrix(const Eigen::Matrix<double, 3, 4>& matrix) {
  CheckFinite(matrix, "Sim3d matrix");
  const Eigen::Matrix3d sr = matrix.leftCols<3>();
  const double det = sr.determinant();
  if (!(det > 0.0) || !std::isfinite(det)) {
    std::ostringstream out;
    out << "Sim3d matrix scale-rotation block = " << Describe(sr)
        << "; det = " << det << ", must be > 0 (positive scale, no reflection)";
    throw InputError(out.str());
  }
  const double scale = std::cbrt(det);
  CheckRotation(sr / scale, "Sim3d matrix (after dividing by the scale)");
  return Sim3d(scale, Eigen::Quaterniond(sr / scale), matrix.col(3));
}

Sim3d Sim3d::FromMatrix4(const Eigen::Matrix4d& matrix) {
  CheckFinite(matrix, "Sim3d matrix");
  CheckLastRow(matrix, "Sim3d matrix");
  return FromMatrix(matrix.topRows<3>());
}

}  // namespace vanelia
