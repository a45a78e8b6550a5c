// The one progress record of a run, across its stages (track, align, render),
// for people and for programs.
//
// The pipeline (pipeline.hpp) reports everything it does as RunEvents to a
// sink: stage changes, the progress of the work inside a stage (frames
// decoded and tracked, frames rendered), messages, and lines that a child
// process (Blender) printed. The CLI's sink prints them on stderr either as
// the human display (stage lines, a progress line with ETA) or, with
// `--progress json`, as one JSON object per line; the Python module hands
// them to a callable as dicts. The JSON fields are documented in
// docs/architecture.md ("Progress events").
#pragma once

#include "vanelia/core/progress.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vanelia {

enum class RunEventType {
  kStage,     // a stage begins: `text` says what it does
  kProgress,  // work inside the current stage: step, done / total, ETA
  kMessage,   // a fact for the user ("reusing <cached track>")
  kLog,       // a line printed by a child process or a summary block
  kDone,      // the run finished: `text` is the output path
  kError,     // the run failed: `text` is the message, `exit_code` set
};

// "stage", "progress", "message", "log", "done", "error".
const char* ToString(RunEventType type);

struct RunEvent {
  RunEventType type = RunEventType::kMessage;
  std::string stage;        // "track", "align", "render"
  int stage_index = 0;      // 1-based position of `stage` in this run
  int stage_count = 0;      // number of stages of this run
  std::string step;         // kProgress: the work inside the stage
  int64_t done = 0;         // kProgress: units finished (frames)
  int64_t total = 0;        // kProgress: units in all; 0 when unknown
  double elapsed_s = 0.0;   // seconds since the run began
  double eta_s = -1.0;      // kProgress: seconds left in the step; < 0 unknown
  double rate_per_s = 0.0;  // kProgress: units per second so far
  int exit_code = 0;        // kError: the process exit code it maps to
  std::string text;         // kStage/kMessage/kLog/kDone/kError

  // Percent of the run: stages count equally, the current one by its
  // step's fraction (kProgress), its start otherwise; 100 once kDone.
  double RunPercent() const;
};

// The event as one line of JSON (no newline): {"type": ..., "stage": ...,
// "index": ..., "count": ..., ...}; fields that do not apply are left out.
std::string RunEventJson(const RunEvent& event);

// Receives every event. Must not throw.
using RunEventSink = std::function<void(const RunEvent&)>;

enum class ProgressFormat {
  kHuman,  // stage lines and a progress line with ETA (the default)
  kJson,   // one JSON object per line
};

// "human" or "json"; throws InputError naming `option` otherwise.
ProgressFormat ProgressFormatFromName(const std::string& name,
                                      const std::string& option);

// Prints events on stderr: kHuman as the CLI's display ("vanelia: stage 1/3:
// tracking the camera", the progress line of StderrProgress, messages
// prefixed "vanelia: ", child lines as they are; nothing when `quiet`), kJson
// one object per line (also when quiet: programs asked for them).
RunEventSink StderrRunSink(ProgressFormat format, bool quiet);

// Numbers the stages of a run and turns what happens in them into events.
class RunReporter {
 public:
  // `stages`: the names of this run's stages in order. `stop_requested`
  // returns true once the user asked to stop (Ctrl-C); null = never.
  RunReporter(RunEventSink sink,
              std::vector<std::string> stages,
              std::function<bool()> stop_requested = {});

  // Starts `stage` (one of the names given); `text` says what it does.
  void BeginStage(const std::string& stage, const std::string& text);

  // A ProgressCallback for the current stage's work: each Progress becomes
  // a kProgress event; returns false (the work throws Cancelled) once a stop
  // was requested.
  ProgressCallback StageProgress();

  void Message(const std::string& text);
  void Log(const std::string& text);
  // Forwards an event made elsewhere (a child's), stamped with the current
  // stage and the run's elapsed time.
  void Forward(RunEvent event);
  void Done(const std::string& output);
  void Fail(const std::string& message, int exit_code);

  bool StopRequested() const;
  double ElapsedSeconds() const;

  const std::string& CurrentStage() const { return stage_; }

 private:
  RunEvent Stamp(RunEventType type) const;
  // Sends an event of `type` with `text`, stamped.
  void Emit(RunEventType type, const std::string& text);

  RunEventSink sink_;
  std::vector<std::string> stages_;
  std::function<bool()> stop_requested_;
  std::string stage_;
  int stage_index_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vanelia
