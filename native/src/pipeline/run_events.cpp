#include "vanelia/pipeline/run_events.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

namespace vanelia {

const char* ToString(RunEventType type) {
  switch (type) {
    case RunEventType::kStage:
      return "stage";
    case RunEventType::kProgress:
      return "progress";
    case RunEventType::kMessage:
      return "message";
    case RunEventType::kLog:
      return "log";
    case RunEventType::kDone:
      return "done";
    case RunEventType::kError:
      return "error";
  }
  return "message";
}

double RunEvent::RunPercent() const {
  if (type == RunEventType::kDone) return 100.0;
  if (stage_count <= 0 || stage_index <= 0) return 0.0;
  double fraction = 0.0;
  if (type == RunEventType::kProgress && total > 0) {
    fraction = std::clamp(
        static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
  }
  return 100.0 * (stage_index - 1 + fraction) / stage_count;
}

std::string RunEventJson(const RunEvent& event) {
  nlohmann::ordered_json j;
  j["type"] = ToString(event.type);
  if (!event.stage.empty()) {
    j["stage"] = event.stage;
    j["index"] = event.stage_index;
    j["count"] = event.stage_count;
  }
  if (event.type == RunEventType::kProgress) {
    j["step"] = event.step;
    j["done"] = event.done;
    j["total"] = event.total;
    if (event.total > 0) {
      j["percent"] = 100.0 * static_cast<double>(event.done) /
                     static_cast<double>(event.total);
    }
    if (event.eta_s >= 0.0) j["eta_s"] = event.eta_s;
    j["rate_per_s"] = event.rate_per_s;
  }
  if (event.type == RunEventType::kError) j["exit_code"] = event.exit_code;
  if (!event.text.empty()) j["text"] = event.text;
  j["run_percent"] = event.RunPercent();
  j["elapsed_s"] = event.elapsed_s;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ProgressFormat ProgressFormatFromName(const std::string& name,
                                      const std::string& option) {
  if (name == "human") return ProgressFormat::kHuman;
  if (name == "json") return ProgressFormat::kJson;
  throw InputError(option + " " + name + ": must be human or json");
}

namespace {

// The human display: what `vanelia run` printed before the pipeline module.
void PrintHuman(const RunEvent& event, const ProgressCallback& progress_line) {
  switch (event.type) {
    case RunEventType::kStage:
      std::fprintf(stderr,
                   "vanelia: stage %d/%d: %s\n",
                   event.stage_index,
                   event.stage_count,
                   event.text.c_str());
      break;
    case RunEventType::kProgress: {
      Progress progress;
      progress.stage = event.step;
      progress.done = event.done;
      progress.total = event.total;
      progress.rate_per_s = event.rate_per_s;
      progress.eta_s = event.eta_s;
      progress.message = event.text;
      progress_line(progress);
      break;
    }
    case RunEventType::kMessage:
      std::fprintf(stderr, "vanelia: %s\n", event.text.c_str());
      break;
    case RunEventType::kLog:
      std::fprintf(stderr, "%s\n", event.text.c_str());
      break;
    case RunEventType::kDone:
    case RunEventType::kError:
      break;  // the CLI's own lines say these
  }
}

}  // namespace

RunEventSink StderrRunSink(ProgressFormat format, bool quiet) {
  if (format == ProgressFormat::kJson) {
    return [](const RunEvent& event) {
      std::fprintf(stderr, "%s\n", RunEventJson(event).c_str());
      std::fflush(stderr);
    };
  }
  if (quiet) return [](const RunEvent&) {};
  ProgressCallback line = StderrProgress();
  return [line](const RunEvent& event) { PrintHuman(event, line); };
}

RunReporter::RunReporter(RunEventSink sink,
                         std::vector<std::string> stages,
                         std::function<bool()> stop_requested)
    : sink_(std::move(sink)),
      stages_(std::move(stages)),
      stop_requested_(std::move(stop_requested)),
      start_(std::chrono::steady_clock::now()) {}

double RunReporter::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start_)
      .count();
}

bool RunReporter::StopRequested() const {
  return stop_requested_ && stop_requested_();
}

RunEvent RunReporter::Stamp(RunEventType type) const {
  RunEvent event;
  event.type = type;
  event.stage = stage_;
  event.stage_index = stage_index_;
  event.stage_count = static_cast<int>(stages_.size());
  event.elapsed_s = ElapsedSeconds();
  return event;
}

void RunReporter::BeginStage(const std::string& stage,
                             const std::string& text) {
  const auto it = std::find(stages_.begin(), stages_.end(), stage);
  VANELIA_CHECK(it != stages_.end()) << "stage '" << stage << "' not planned";
  stage_ = stage;
  stage_index_ = static_cast<int>(it - stages_.begin()) + 1;
  Emit(RunEventType::kStage, text);
}

ProgressCallback RunReporter::StageProgress() {
  return [this](const Progress& progress) {
    RunEvent event = Stamp(RunEventType::kProgress);
    event.step = progress.stage;
    event.done = progress.done;
    event.total = progress.total;
    event.eta_s = progress.eta_s;
    event.rate_per_s = progress.rate_per_s;
    event.text = progress.message;
    if (sink_) sink_(event);
    return !StopRequested();
  };
}

void RunReporter::Emit(RunEventType type, const std::string& text) {
  RunEvent event = Stamp(type);
  event.text = text;
  if (sink_) sink_(event);
}

void RunReporter::Message(const std::string& text) {
  Emit(RunEventType::kMessage, text);
}

void RunReporter::Log(const std::string& text) {
  Emit(RunEventType::kLog, text);
}

void RunReporter::Forward(RunEvent event) {
  const RunEvent stamp = Stamp(event.type);
  event.stage = stamp.stage;
  event.stage_index = stamp.stage_index;
  event.stage_count = stamp.stage_count;
  event.elapsed_s = stamp.elapsed_s;
  if (sink_) sink_(event);
}

void RunReporter::Done(const std::string& output) {
  Emit(RunEventType::kDone, output);
}

void RunReporter::Fail(const std::string& message, int exit_code) {
  RunEvent event = Stamp(RunEventType::kError);
  event.text = message;
  event.exit_code = exit_code;
  if (sink_) sink_(event);
}

}  // namespace vanelia
