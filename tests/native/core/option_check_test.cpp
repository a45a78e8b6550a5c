#include "vanelia/core/option_check.hpp"

#include "vanelia/core/error.hpp"

#include <string>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

std::string MessageOf(bool ok, double value) {
  try {
    internal::RequireOption(ok, "DemoOptions", "cell_m", value, "must be > 0");
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

TEST(RequireOption, PassesWhenTheRuleHolds) {
  EXPECT_EQ(MessageOf(true, -1.0), "");
}

TEST(RequireOption, NamesOptionsFieldValueAndRule) {
  EXPECT_EQ(MessageOf(false, -0.25),
            "DemoOptions::cell_m = -0.25; must be > 0");
  // Doubles as printf's %g.
  EXPECT_EQ(MessageOf(false, 1e-7), "DemoOptions::cell_m = 1e-07; must be > 0");
}

template <typename T>
std::string ThrownMessage(const T& value) {
  try {
    internal::ThrowBadOption("DemoOptions", "field", value, "must be < 10");
  } catch (const InputError& error) {
    return error.what();
  }
  return "no throw";
}

TEST(ThrowBadOption, WritesIntegersInFullAndStringsAsGiven) {
  EXPECT_EQ(ThrownMessage(1234567),
            "DemoOptions::field = 1234567; must be < 10");
  EXPECT_EQ(ThrownMessage(std::string("0/1")),
            "DemoOptions::field = 0/1; must be < 10");
  EXPECT_EQ(ThrownMessage("'x'"), "DemoOptions::field = 'x'; must be < 10");
}

}  // namespace
}  // namespace vanelia
