// Rotation helpers: the angle between two rotations, projection of a noisy
// 3x3 matrix onto SO(3), quaternion sign continuity over a sequence (so that
// Blender's fcurves interpolate the short way) and interpolation of poses.
#pragma once

#include "vanelia/geometry/rigid3d.hpp"

#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>

namespace vanelia {

// Angle in degrees, in [0, 180], of the rotation a^-1 * b. Sign-agnostic
// (q and -q are the same rotation) and accurate for tiny angles (atan2).
double RotationAngleDeg(const Eigen::Quaterniond& a,
                        const Eigen::Quaterniond& b);

// The rotation nearest to `matrix` in the Frobenius norm (SVD projection,
// with the sign of the smallest singular direction fixed so det = +1).
// Entries must be finite; a matrix of rank < 2 has no unique answer and
// the result is then one of the nearest rotations.
Eigen::Matrix3d ProjectToRotation(const Eigen::Matrix3d& matrix);

// Unit quaternion of ProjectToRotation(matrix).
Eigen::Quaterniond QuaternionFromMatrix(const Eigen::Matrix3d& matrix);

// Flips the sign of quaternions[i] (i >= 1) whenever its dot product with
// quaternions[i - 1] (already made continuous) is negative, so consecutive
// quaternions lie in the same hemisphere. The rotations are unchanged.
void MakeQuaternionsContinuous(std::vector<Eigen::Quaterniond>& quaternions);

// b_from_a at fraction t in [0, 1] between `start` (t = 0) and `end`
// (t = 1): rotation by slerp along the shortest arc, translation linear.
Rigid3d InterpolateRigid3d(const Rigid3d& start, const Rigid3d& end, double t);

}  // namespace vanelia
