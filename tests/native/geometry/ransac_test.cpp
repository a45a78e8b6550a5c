#include "vanelia/geometry/ransac.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Core>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vanelia {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// y = a x + b through 2-D points; residual = vertical distance.
struct LineEstimator {
  using Sample = Eigen::Vector2d;
  using Model = Eigen::Vector2d;  // (a, b)
  static constexpr int kMinNumSamples = 2;

  std::vector<Model> Estimate(const std::vector<Sample>& samples) const {
    const double dx = samples[1].x() - samples[0].x();
    if (std::abs(dx) < 1e-12) return {};
    const double a = (samples[1].y() - samples[0].y()) / dx;
    return {Model(a, samples[0].y() - a * samples[0].x())};
  }

  void Residuals(const Model& model,
                 const std::vector<Sample>& data,
                 std::vector<double>* residuals) const {
    residuals->resize(data.size());
    for (size_t i = 0; i < data.size(); ++i) {
      (*residuals)[i] =
          std::abs(data[i].y() - (model(0) * data[i].x() + model(1)));
    }
  }
};

// Points on y = 2x + 1 (Gaussian noise of `noise` in y) and num_outliers
// uniform in a box.
std::vector<Eigen::Vector2d> LineData(int num_inliers,
                                      int num_outliers,
                                      std::uint64_t seed,
                                      double noise_std = 0.01) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> x(-10.0, 10.0);
  std::uniform_real_distribution<double> y(-30.0, 30.0);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<Eigen::Vector2d> data;
  for (int i = 0; i < num_inliers; ++i) {
    const double xi = x(rng);
    data.emplace_back(xi, 2.0 * xi + 1.0 + noise_std * noise(rng));
  }
  for (int i = 0; i < num_outliers; ++i) data.emplace_back(x(rng), y(rng));
  return data;
}

TEST(Ransac, FindsALineAmongOutliers) {
  const std::vector<Eigen::Vector2d> data = LineData(100, 150, 31);
  RansacOptions options;
  options.max_error = 0.05;
  options.random_seed = 1;
  const RansacReport<Eigen::Vector2d> report =
      Ransac(options, LineEstimator(), data);
  ASSERT_TRUE(report.success);
  EXPECT_NEAR(report.model(0), 2.0, 0.01);
  EXPECT_NEAR(report.model(1), 1.0, 0.05);
  EXPECT_GE(report.num_inliers, 98);
  ASSERT_EQ(report.inlier_mask.size(), data.size());
  int mask_count = 0;
  int false_inliers = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    mask_count += report.inlier_mask[i];
    if (i >= 100) false_inliers += report.inlier_mask[i];
  }
  EXPECT_EQ(mask_count, report.num_inliers);
  EXPECT_LE(false_inliers, 3);
  EXPECT_GT(report.num_trials, 0);
  EXPECT_LE(report.num_trials, options.max_num_trials);
}

TEST(Ransac, FixedSeedIsDeterministic) {
  const std::vector<Eigen::Vector2d> data = LineData(60, 60, 32);
  RansacOptions options;
  options.max_error = 0.05;
  options.random_seed = 42;
  const auto a = Ransac(options, LineEstimator(), data);
  const auto b = Ransac(options, LineEstimator(), data);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.num_trials, b.num_trials);
  EXPECT_EQ(a.inlier_mask, b.inlier_mask);
}

TEST(Ransac, TrialCountAdaptsToTheInlierRatio) {
  RansacOptions options;
  options.max_error = 0.05;
  options.confidence = 0.99;
  // All inliers, no noise: one trial is enough.
  const auto clean = Ransac(options, LineEstimator(), LineData(50, 0, 33, 0.0));
  ASSERT_TRUE(clean.success);
  EXPECT_EQ(clean.num_trials, 1);
  // min_num_trials forces more.
  options.min_num_trials = 25;
  EXPECT_EQ(
      Ransac(options, LineEstimator(), LineData(50, 0, 33, 0.0)).num_trials,
      25);
  // max_num_trials caps the count when the inlier ratio is low.
  options.min_num_trials = 0;
  options.max_num_trials = 7;
  options.min_inlier_ratio = 0.0;
  const auto capped = Ransac(options, LineEstimator(), LineData(10, 200, 34));
  EXPECT_EQ(capped.num_trials, 7);
}

TEST(Ransac, RequiredNumTrialsFollowsTheFormula) {
  // log(1 - 0.99) / log(1 - 0.5^3) = 34.5
  EXPECT_EQ(internal::RequiredNumTrials(50, 100, 3, 0.99), 35);
  EXPECT_EQ(internal::RequiredNumTrials(100, 100, 3, 0.99), 1);
  EXPECT_EQ(internal::RequiredNumTrials(0, 100, 3, 0.99),
            std::numeric_limits<int>::max());
  EXPECT_EQ(internal::RequiredNumTrials(1, 1000000, 3, 0.999999),
            std::numeric_limits<int>::max());
}

TEST(Ransac, TooFewOrDegenerateDataReportsNoModel) {
  RansacOptions options;
  const std::vector<Eigen::Vector2d> one = {Eigen::Vector2d(1, 2)};
  const auto too_few = Ransac(options, LineEstimator(), one);
  EXPECT_FALSE(too_few.success);
  EXPECT_EQ(too_few.num_inliers, 0);
  EXPECT_EQ(too_few.inlier_mask, std::vector<char>(1, 0));
  const auto empty = Ransac(options, LineEstimator(), {});
  EXPECT_FALSE(empty.success);
  // Every sample degenerate (all x equal): no model at all.
  const std::vector<Eigen::Vector2d> vertical(10, Eigen::Vector2d(3, 4));
  options.max_num_trials = 50;
  const auto degenerate = Ransac(options, LineEstimator(), vertical);
  EXPECT_FALSE(degenerate.success);
  EXPECT_EQ(degenerate.num_trials, 50);
  EXPECT_EQ(degenerate.num_inliers, 0);
}

TEST(Ransac, FailsBelowMinInlierRatio) {
  RansacOptions options;
  options.max_error = 0.05;
  options.min_inlier_ratio = 0.5;
  const auto report = Ransac(options, LineEstimator(), LineData(30, 70, 35));
  EXPECT_FALSE(report.success);
  EXPECT_GE(report.num_inliers, 30);  // the line is found, but too weak
  options.min_inlier_ratio = 0.25;
  EXPECT_TRUE(Ransac(options, LineEstimator(), LineData(30, 70, 35)).success);
}

TEST(RansacOptions, Check_badarg) {
  const auto throws = [](const RansacOptions& options,
                         const char* field,
                         const char* value) {
    EXPECT_THAT(
        [&] { options.Check(); },
        ThrowsMessage<InputError>(AllOf(
            HasSubstr(std::string("RansacOptions::") + field + " = " + value),
            HasSubstr("must be"))));
  };
  RansacOptions options;
  EXPECT_NO_THROW(options.Check());
  options.max_error = 0.0;
  throws(options, "max_error", "0");
  options.max_error = std::numeric_limits<double>::quiet_NaN();
  throws(options, "max_error", "nan");
  options = RansacOptions();
  options.min_inlier_ratio = 1.5;
  throws(options, "min_inlier_ratio", "1.5");
  options = RansacOptions();
  options.confidence = 1.0;
  throws(options, "confidence", "1");
  options = RansacOptions();
  options.min_num_trials = -1;
  throws(options, "min_num_trials", "-1");
  options = RansacOptions();
  options.max_num_trials = 0;
  throws(options, "max_num_trials", "0");
  options = RansacOptions();
  options.min_num_trials = 20;
  options.max_num_trials = 10;
  throws(options, "max_num_trials", "10");
  // Ransac() validates its options too.
  options = RansacOptions();
  options.confidence = -0.1;
  EXPECT_THROW(Ransac(options, LineEstimator(), LineData(10, 0, 36)),
               InputError);
}

}  // namespace
}  // namespace vanelia
