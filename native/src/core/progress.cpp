#include "vanelia/core/progress.hpp"

#include "vanelia/core/error.hpp"

#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>

#include <unistd.h>

namespace vanelia {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60.0) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.1fs", seconds);
    return buffer;
  }
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t hours = total / 3600;
  const int64_t minutes = (total / 60) % 60;
  const int64_t secs = total % 60;
  char buffer[48];
  if (hours > 0) {
    std::snprintf(buffer,
                  sizeof(buffer),
                  "%lld:%02lld:%02lld",
                  static_cast<long long>(hours),
                  static_cast<long long>(minutes),
                  static_cast<long long>(secs));
  } else {
    std::snprintf(buffer,
                  sizeof(buffer),
                  "%lld:%02lld",
                  static_cast<long long>(minutes),
                  static_cast<long long>(secs));
  }
  return buffer;
}

std::string FormatProgress(const Progress& progress) {
  char buffer[160];
  if (progress.total > 0) {
    std::snprintf(buffer,
                  sizeof(buffer),
                  "%-10s %lld/%lld %3d%%  %.1f/s  elapsed %s  ETA %s",
                  progress.stage.c_str(),
                  static_cast<long long>(progress.done),
                  static_cast<long long>(progress.total),
                  static_cast<int>(100.0 * progress.Fraction()),
                  progress.rate_per_s,
                  FormatDuration(progress.elapsed_s).c_str(),
                  FormatDuration(progress.eta_s).c_str());
  } else {
    std::snprintf(buffer,
                  sizeof(buffer),
                  "%-10s %lld  %.1f/s  elapsed %s",
                  progress.stage.c_str(),
                  static_cast<long long>(progress.done),
                  progress.rate_per_s,
                  FormatDuration(progress.elapsed_s).c_str());
  }
  std::string line(buffer);
  if (!progress.message.empty()) line += "  " + progress.message;
  return line;
}

ProgressReporter::ProgressReporter(std::string stage,
                                   int64_t total,
                                   ProgressCallback callback,
                                   double min_interval_s)
    : stage_(std::move(stage)),
      total_(total),
      callback_(std::move(callback)),
      min_interval_s_(min_interval_s),
      start_(std::chrono::steady_clock::now()),
      last_emit_(start_) {}

double ProgressReporter::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start_)
      .count();
}

void ProgressReporter::Update(int64_t done, const std::string& message) {
  if (!callback_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_last =
      std::chrono::duration<double>(now - last_emit_).count();
  if (emitted_ && since_last < min_interval_s_ && done < total_) return;
  Emit(done, message);
}

void ProgressReporter::Finish(const std::string& message) {
  if (!callback_) return;
  Emit(total_ > 0 ? total_ : 0, message);
}

void ProgressReporter::Emit(int64_t done, const std::string& message) {
  Progress progress;
  progress.stage = stage_;
  progress.done = done;
  progress.total = total_;
  progress.elapsed_s = ElapsedSeconds();
  progress.rate_per_s = progress.elapsed_s > 0
                            ? static_cast<double>(done) / progress.elapsed_s
                            : 0.0;
  if (total_ > 0 && done > 0 && progress.rate_per_s > 0) {
    progress.eta_s = static_cast<double>(total_ - done) / progress.rate_per_s;
  }
  progress.message = message;
  last_emit_ = std::chrono::steady_clock::now();
  emitted_ = true;
  if (!callback_(progress)) {
    throw Cancelled(stage_ + ": cancelled at " + std::to_string(done) + "/" +
                    std::to_string(total_));
  }
}

ProgressCallback StderrProgress() {
  const bool tty = isatty(STDERR_FILENO) != 0;
  auto last_print = std::make_shared<double>(-1e9);
  return [tty, last_print](const Progress& progress) {
    const bool last = progress.total > 0 && progress.done >= progress.total;
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", FormatProgress(progress).c_str());
      if (last) std::fputc('\n', stderr);
    } else if (last || progress.elapsed_s - *last_print >= 5.0) {
      std::fprintf(stderr, "%s\n", FormatProgress(progress).c_str());
      *last_print = progress.elapsed_s;
    }
    std::fflush(stderr);
    return true;
  };
}

}  // namespace vanelia
