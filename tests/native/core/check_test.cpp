#include "vanelia/core/check.hpp"

#include "vanelia/core/error.hpp"

#include <string>

#include <gtest/gtest.h>

namespace vanelia {
namespace {

TEST(Check, PassingCheckDoesNothing) {
  EXPECT_NO_THROW(VANELIA_CHECK(1 + 1 == 2) << "never shown");
  EXPECT_NO_THROW(VANELIA_CHECK_EQ(3, 3));
}

TEST(Check, FailingCheckThrowsInternalErrorWithLocation) {
  try {
    const int frames = 0;
    VANELIA_CHECK_GT(frames, 0) << "no frames";
    FAIL() << "expected a throw";
  } catch (const InternalError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("check_test.cpp:"), std::string::npos) << message;
    EXPECT_NE(message.find("Check failed"), std::string::npos) << message;
    EXPECT_NE(message.find("no frames"), std::string::npos) << message;
    EXPECT_NE(message.find("0 vs 0"), std::string::npos) << message;
  }
}

TEST(Error, HierarchyLetsCallersCatchByKind) {
  EXPECT_THROW(throw DecodeError("x"), InputError);
  EXPECT_THROW(throw ModelError("x"), Error);
  EXPECT_THROW(throw Cancelled("x"), Error);
  EXPECT_THROW(throw InternalError("x"), std::runtime_error);
}

}  // namespace
}  // namespace vanelia
