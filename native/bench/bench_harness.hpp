// A header-only benchmark harness: warm-up, N timed repetitions, min /
// median / max, and one JSON line on stdout per measurement. Every bench
// checks its output before it reports a time (OpenCV's SANITY_CHECK idea):
// call Sanity() and the result line says whether it held.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace vanelia::bench {

struct Timing {
  double min_s = 0.0;
  double median_s = 0.0;
  double max_s = 0.0;
  int repetitions = 0;
};

// Runs `body` `warmup` times untimed, then `repetitions` times timed.
inline Timing Measure(const std::function<void()>& body,
                      int repetitions,
                      int warmup = 1) {
  for (int i = 0; i < warmup; ++i) body();
  std::vector<double> seconds;
  for (int i = 0; i < repetitions; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(seconds.begin(), seconds.end());
  Timing timing;
  timing.repetitions = repetitions;
  if (!seconds.empty()) {
    timing.min_s = seconds.front();
    timing.max_s = seconds.back();
    timing.median_s = seconds[seconds.size() / 2];
  }
  return timing;
}

// One result line: {"bench": name, "min_s":..., <extra numbers>, "sane": b}.
inline void Report(const std::string& name,
                   const Timing& timing,
                   const std::map<std::string, double>& extra,
                   bool sane) {
  std::ostringstream out;
  out << "{\"bench\": \"" << name
      << "\", \"repetitions\": " << timing.repetitions
      << ", \"min_s\": " << timing.min_s
      << ", \"median_s\": " << timing.median_s
      << ", \"max_s\": " << timing.max_s;
  for (const auto& [key, value] : extra) {
    out << ", \"" << key << "\": " << value;
  }
  out << ", \"sane\": " << (sane ? "true" : "false") << "}";
  std::printf("%s\n", out.str().c_str());
  std::fflush(stdout);
}

}  // namespace vanelia::bench
