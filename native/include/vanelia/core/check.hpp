// Invariant checks that throw instead of aborting (COLMAP's THROW_CHECK).
//
//   VANELIA_CHECK(n > 0) << "no frames in " << path;
//   VANELIA_CHECK_EQ(a.size(), b.size());
//
// A failed check throws vanelia::InternalError with "[file:line] Check failed:
// <condition> <streamed message>". Use checks for programming errors only;
// validate user input with explicit InputError messages instead.
#pragma once

#include <sstream>
#include <string>

namespace vanelia::internal {

// Collects a message and throws InternalError when destroyed.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure() noexcept(false);

  std::ostream& Stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets the macro be used as a statement with a trailing `<< ...`.
struct Voidify {
  void operator&(std::ostream& /*unused*/) {}
};

}  // namespace vanelia::internal

// The macros end in a stream expression and `op` is an operator token, so
// their bodies cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define VANELIA_CHECK(condition)                                              \
  (condition)                                                                 \
      ? static_cast<void>(0)                                                  \
      : ::vanelia::internal::Voidify() &                                      \
            ::vanelia::internal::CheckFailure(__FILE__, __LINE__, #condition) \
                .Stream()

#define VANELIA_CHECK_OP(a, op, b) \
  VANELIA_CHECK((a)op(b)) << (a) << " vs " << (b) << " "
#define VANELIA_CHECK_EQ(a, b) VANELIA_CHECK_OP(a, ==, b)
#define VANELIA_CHECK_NE(a, b) VANELIA_CHECK_OP(a, !=, b)
#define VANELIA_CHECK_LT(a, b) VANELIA_CHECK_OP(a, <, b)
#define VANELIA_CHECK_LE(a, b) VANELIA_CHECK_OP(a, <=, b)
#define VANELIA_CHECK_GT(a, b) VANELIA_CHECK_OP(a, >, b)
#define VANELIA_CHECK_GE(a, b) VANELIA_CHECK_OP(a, >=, b)
// NOLINTEND(bugprone-macro-parentheses)
