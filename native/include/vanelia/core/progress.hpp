// Progress reporting and cancellation for long work (Ceres' callback style).
//
// Long calls take a ProgressCallback. The library calls it with a Progress
// record (rate-limited); returning false asks the work to stop, and the call
// then throws vanelia::Cancelled. A null callback means "no reporting".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vanelia {

struct Progress {
  std::string stage;        // "decode", "track", "bundle adjustment", ...
  int64_t done = 0;         // units finished (frames, iterations)
  int64_t total = 0;        // units in all; 0 when unknown
  double elapsed_s = 0.0;   // seconds since the stage began
  double rate_per_s = 0.0;  // units per second so far
  double eta_s = -1.0;      // seconds left; < 0 when unknown
  std::string message;      // optional detail for a human

  double Fraction() const {
    return total > 0 ? static_cast<double>(done) / static_cast<double>(total)
                     : 0.0;
  }
};

// Returns false to cancel.
using ProgressCallback = std::function<bool(const Progress&)>;

// "1:02:03", "2:03" or "4.2s".
std::string FormatDuration(double seconds);

// One line of text for a Progress: "track  45/96  47%  31.2 frame/s  ETA 1.6s".
std::string FormatProgress(const Progress& progress);

// Tracks one stage: measures elapsed time, rate and ETA, and forwards them to
// the callback at most every `min_interval_s` (the first and last update
// always go through). Throws Cancelled when the callback returns false.
class ProgressReporter {
 public:
  ProgressReporter(std::string stage,
                   int64_t total,
                   ProgressCallback callback,
                   double min_interval_s = 0.1);

  // Records `done` units; may call the callback; may throw Cancelled.
  void Update(int64_t done, const std::string& message = {});

  // Reports done == total regardless of the rate limit.
  void Finish(const std::string& message = {});

  double ElapsedSeconds() const;

 private:
  void Emit(int64_t done, const std::string& message);

  std::string stage_;
  int64_t total_;
  ProgressCallback callback_;
  double min_interval_s_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_emit_;
  bool emitted_ = false;
};

// A callback that redraws one progress line on stderr (a terminal) or prints
// a line every few seconds (a log file). Never cancels.
ProgressCallback StderrProgress();

}  // namespace vanelia
