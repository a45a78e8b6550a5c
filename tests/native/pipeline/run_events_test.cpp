#include "vanelia/pipeline/run_events.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/pipeline/track_stage.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace vanelia {
namespace {

TEST(RunEventJson, ProgressHasTheDocumentedFields) {
  RunEvent event;
  event.type = RunEventType::kProgress;
  event.stage = "render";
  event.stage_index = 3;
  event.stage_count = 3;
  event.step = "render";
  event.done = 12;
  event.total = 48;
  event.eta_s = 30.0;
  event.rate_per_s = 0.4;
  event.elapsed_s = 5.0;
  const nlohmann::json j = nlohmann::json::parse(RunEventJson(event));
  EXPECT_EQ(j["type"], "progress");
  EXPECT_EQ(j["stage"], "render");
  EXPECT_EQ(j["index"], 3);
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["step"], "render");
  EXPECT_EQ(j["done"], 12);
  EXPECT_EQ(j["total"], 48);
  EXPECT_DOUBLE_EQ(j["percent"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(j["eta_s"].get<double>(), 30.0);
  // Two stages done, the third a quarter through.
  EXPECT_DOUBLE_EQ(j["run_percent"].get<double>(), 100.0 * 2.25 / 3.0);
  EXPECT_DOUBLE_EQ(j["elapsed_s"].get<double>(), 5.0);
  EXPECT_FALSE(j.contains("text"));
  EXPECT_EQ(RunEventJson(event).find('\n'), std::string::npos);
}

TEST(RunEventJson, UnknownEtaAndNonProgressFieldsAreLeftOut) {
  RunEvent event;
  event.type = RunEventType::kProgress;
  event.stage = "track";
  event.stage_index = 1;
  event.stage_count = 3;
  event.step = "track";
  event.done = 3;
  const nlohmann::json progress = nlohmann::json::parse(RunEventJson(event));
  EXPECT_FALSE(progress.contains("eta_s"));
  EXPECT_FALSE(progress.contains("percent"));  // total unknown
  RunEvent message;
  message.type = RunEventType::kMessage;
  message.text = "two\nlines \"quoted\"";
  const nlohmann::json m = nlohmann::json::parse(RunEventJson(message));
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["text"], "two\nlines \"quoted\"");
  EXPECT_FALSE(m.contains("stage"));
  EXPECT_FALSE(m.contains("done"));
  RunEvent done;
  done.type = RunEventType::kDone;
  EXPECT_DOUBLE_EQ(done.RunPercent(), 100.0);
}

TEST(ProgressFormat, NamesAndBadName) {
  EXPECT_EQ(ProgressFormatFromName("human", "--progress"),
            ProgressFormat::kHuman);
  EXPECT_EQ(ProgressFormatFromName("json", "--progress"),
            ProgressFormat::kJson);
  try {
    ProgressFormatFromName("xml", "--progress");
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()),
              "--progress xml: must be human or json");
  }
}

TEST(RunReporter, NumbersStagesAndStopsTheWork) {
  std::vector<RunEvent> events;
  bool stop = false;
  RunReporter reporter([&events](const RunEvent& e) { events.push_back(e); },
                       {"track", "align", "render"},
                       [&stop] { return stop; });
  reporter.BeginStage("align", "aligning to the floor");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, RunEventType::kStage);
  EXPECT_EQ(events[0].stage_index, 2);
  EXPECT_EQ(events[0].stage_count, 3);
  EXPECT_EQ(events[0].text, "aligning to the floor");
  const ProgressCallback callback = reporter.StageProgress();
  Progress progress;
  progress.stage = "ransac";
  progress.done = 1;
  progress.total = 2;
  EXPECT_TRUE(callback(progress));
  stop = true;
  EXPECT_FALSE(callback(progress));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].type, RunEventType::kProgress);
  EXPECT_EQ(events[1].stage, "align");
  EXPECT_EQ(events[1].step, "ransac");
  EXPECT_TRUE(reporter.StopRequested());
}

TEST(RunReporter, UnplannedStageIsABug) {
  RunReporter reporter([](const RunEvent&) {}, {"render"});
  EXPECT_THROW(reporter.BeginStage("track", "x"), InternalError);
}

// The layout the add-on's core/cache.py documents and computes: the key is
// the sha256 of the canonical JSON (sorted keys, no spaces) of the options.
TEST(TrackCache, PathIsTheAddonsLayout) {
  const TrackCache cache("/cache");
  const nlohmann::json options = ClassicalCacheOptions(0, -1);
  const std::string version = options["version"];
  EXPECT_FALSE(version.empty());
  const std::string canonical =
      "{\"end\":-1,\"every\":1,\"start\":0,\"version\":\"" + version + "\"}";
  const std::string path = cache.PathFor("abc", "classical", options);
  EXPECT_EQ(
      path,
      "/cache/abc/classical-" + Sha256(canonical).substr(0, 16) + ".json");
  EXPECT_NE(cache.PathFor("abc", "classical", ClassicalCacheOptions(5, -1)),
            path);
}

}  // namespace
}  // namespace vanelia
