#include "vanelia/core/option_check.hpp"

#include "vanelia/core/error.hpp"

#include <string>

namespace vanelia::internal {

void ThrowBadOptionText(std::string_view options,
                        std::string_view field,
                        std::string_view value,
                        std::string_view rule) {
  std::string message;
  message.reserve(options.size() + field.size() + value.size() + rule.size() +
                  7);
  message.append(options).append("::").append(field).append(" = ");
  message.append(value).append("; ").append(rule);
  throw InputError(message);
}

}  // namespace vanelia::internal
