#include "vanelia/core/check.hpp"

#include "vanelia/core/error.hpp"

namespace vanelia::internal {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  std::string path(file);
  const auto slash = path.find("native/");
  if (slash != std::string::npos) path = path.substr(slash);
  stream_ << "[" << path << ":" << line << "] Check failed: " << condition
          << " ";
}

CheckFailure::~CheckFailure() noexcept(false) {
  throw InternalError(stream_.str());
}

}  // namespace vanelia::internal
