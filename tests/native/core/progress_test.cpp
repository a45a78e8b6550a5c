#include "vanelia/core/progress.hpp"

#include "vanelia/core/error.hpp"

#include <vector>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

TEST(ProgressReporter, ReportsFirstAndLastAndComputesEta) {
  std::vector<Progress> seen;
  ProgressReporter reporter(
      "track",
      10,
      [&](const Progress& p) {
        seen.push_back(p);
        return true;
      },
      /*min_interval_s=*/1000.0);
  for (int i = 1; i <= 10; ++i) reporter.Update(i);
  ASSERT_EQ(seen.size(), 2u);  // rate-limited: first and last only
  EXPECT_EQ(seen.front().done, 1);
  EXPECT_EQ(seen.back().done, 10);
  EXPECT_EQ(seen.back().total, 10);
  EXPECT_DOUBLE_EQ(seen.back().Fraction(), 1.0);
  EXPECT_GE(seen.back().eta_s, 0.0);
  EXPECT_EQ(seen.back().stage, "track");
}

TEST(ProgressReporter, CallbackReturningFalseCancels) {
  ProgressReporter reporter(
      "decode", 5, [](const Progress& p) { return p.done < 3; }, 0.0);
  reporter.Update(1);
  reporter.Update(2);
  EXPECT_THROW(reporter.Update(3), Cancelled);
}

TEST(ProgressReporter, NullCallbackIsSilent) {
  ProgressReporter reporter("x", 3, nullptr);
  EXPECT_NO_THROW(reporter.Update(1));
  EXPECT_NO_THROW(reporter.Finish());
}

TEST(FormatDuration, HumanReadable) {
  EXPECT_EQ(FormatDuration(4.25), "4.2s");
  EXPECT_EQ(FormatDuration(125.0), "2:05");
  EXPECT_EQ(FormatDuration(3723.0), "1:02:03");
  EXPECT_EQ(FormatDuration(-1.0), "?");
}

TEST(FormatProgress, ShowsCountsAndEta) {
  Progress p;
  p.stage = "render";
  p.done = 5;
  p.total = 10;
  p.rate_per_s = 2.0;
  p.elapsed_s = 2.5;
  p.eta_s = 2.5;
  const std::string line = FormatProgress(p);
  EXPECT_NE(line.find("5/10"), std::string::npos) << line;
  EXPECT_NE(line.find("50%"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 2.5s"), std::string::npos) << line;
}

}  // namespace
}  // namespace vanelia
