// Validation of an options struct's fields in its Check(), with the message
// every options struct gives (Ceres' pattern, STYLE.md "Errors"):
//
//   "<Options>::<field> = <value>; <rule>"
//
//   internal::RequireOption(
//       max_frames >= 1, "LightEstimateOptions", "max_frames", max_frames,
//       "must be >= 1");
//   if (!(lr > 0)) internal::ThrowBadOption("GlobalAlignmentOptions", "lr",
//                                           lr, "must be > 0");
//
// Both throw vanelia::InputError. The value is written by operator<< with the
// stream's defaults: a double reads as printf's %g ("0.5", "1e-07"), an
// integer in full, a string as it is (pass a string to format otherwise).
// Programming errors use VANELIA_CHECK (check.hpp) instead.
#pragma once

#include <sstream>
#include <string_view>

namespace vanelia::internal {

// Throws InputError("<options>::<field> = <value>; <rule>").
[[noreturn]] void ThrowBadOptionText(std::string_view options,
                                     std::string_view field,
                                     std::string_view value,
                                     std::string_view rule);

// Throws InputError("<options>::<field> = <value>; <rule>"), `value` written
// by operator<<.
template <typename T>
[[noreturn]] void ThrowBadOption(std::string_view options,
                                 std::string_view field,
                                 const T& value,
                                 std::string_view rule) {
  std::ostringstream text;
  text << value;
  ThrowBadOptionText(options, field, text.str(), rule);
}

// ThrowBadOption unless `ok`.
template <typename T>
void RequireOption(bool ok,
                   std::string_view options,
                   std::string_view field,
                   const T& value,
                   std::string_view rule) {
  if (!ok) ThrowBadOption(options, field, value, rule);
}

}  // namespace vanelia::internal
