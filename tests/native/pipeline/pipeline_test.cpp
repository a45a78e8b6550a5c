// RunPipeline's render stage against a stand-in Blender: a shell script that
// prints what batch.py prints (JSON progress, its error line, other chatter)
// and exits as it does, so that the pipeline's side of the contract (the
// arguments, the events, the exit codes, the stop) is checked in
// milliseconds. The real Blender runs in tests/python/test_pipeline.py.
#include "vanelia/pipeline/pipeline.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <sys/stat.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

const std::string kSample = VANELIA_SOURCE_DIR "/tests/data/sample";

fs::path TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("vanelia_pipeline_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A stand-in `blender` whose body is `script` (sh); it records its
// arguments, one per line, in <dir>/args.
std::string StandIn(const fs::path& dir, const std::string& script) {
  const fs::path path = dir / "blender";
  std::ofstream(path) << "#!/bin/sh\necho 'Blender 3.4.1'\n"
                      << "printf '%s\\n' \"$@\" > '" << (dir / "args").string()
                      << "'\n"
                      << script << "\n";
  chmod(path.c_str(), 0755);
  return path.string();
}

PipelineOptions Options(const fs::path& dir, const std::string& blender) {
  PipelineOptions options;
  options.video = kSample + "/video.mp4";
  options.product = kSample + "/product.glb";
  options.track = kSample + "/gt.json";  // the stand-in does not read it
  options.output = (dir / "final.mp4").string();
  options.blender = blender;
  options.addon_dir = VANELIA_SOURCE_DIR "/addon";
  options.progress = ProgressFormat::kJson;
  return options;
}

std::vector<std::string> Lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Recorder {
  std::vector<RunEvent> events;

  RunEventSink Sink() {
    return [this](const RunEvent& e) { events.push_back(e); };
  }
};

TEST(RunPipeline, HandsBatchItsArgumentsAndForwardsItsEvents) {
  const fs::path dir = TempDir("args");
  const std::string blender = StandIn(
      dir,
      "echo '{\"type\": \"message\", \"text\": \"scene built\"}' >&2\n"
      "echo '{\"type\": \"progress\", \"step\": \"render\", \"done\": 1, "
      "\"total\": 2, \"eta_s\": 1.5, \"rate_per_s\": 2.0}' >&2\n"
      "echo 'Blender chatter' >&2\n");
  PipelineOptions options = Options(dir, blender);
  options.location_m = std::array<double, 3>{-0.5, 1.0, 0.0};
  options.rotation_z_deg = -30.0;
  options.every = 2;
  options.light = "fixed";  // no estimate line among the events
  options.sun_deg = {-45.0, 30.0};
  options.motion_blur = "0.25";  // a given shutter: no estimate, no event
  options.environment = "off";   // the uniform world: no map, no event
  // A given grain is passed on as it is (no measure, no event).
  options.grain_sigma = std::array<double, 3>{1.5, 2.0, 2.25};
  Recorder recorder;
  RunReporter reporter(recorder.Sink(), PipelineStages(options));
  const PipelineResult result = RunPipeline(options, &reporter);
  EXPECT_EQ(result.output, options.output);
  EXPECT_FALSE(result.tracked);

  const std::vector<std::string> args = Lines(dir / "args");
  const auto has = [&args](const std::string& arg) {
    return std::find(args.begin(), args.end(), arg) != args.end();
  };
  EXPECT_TRUE(has("-b") && has("--factory-startup"));
  EXPECT_TRUE(has(VANELIA_SOURCE_DIR "/addon/vanelia_blender/batch.py"));
  // Negative values stay attached to their option (argparse would read
  // "-0.5,1,0" as an option).
  EXPECT_TRUE(has("--location=-0.5,1,0"));
  EXPECT_TRUE(has("--rotation-z=-30"));
  EXPECT_TRUE(has("--sun=-45,30"));
  EXPECT_TRUE(has("--grain=1.5,2,2.25"));
  EXPECT_TRUE(has("--motion-blur=0.25"));
  EXPECT_FALSE(std::any_of(args.begin(), args.end(), [](const std::string& a) {
    return a.rfind("--light-json", 0) == 0;
  }));
  EXPECT_TRUE(has("--progress") && has("json"));
  EXPECT_TRUE(has("--work-dir"));
  EXPECT_FALSE(has("--overwrite"));

  ASSERT_EQ(recorder.events.size(), 5u);
  EXPECT_EQ(recorder.events[0].type, RunEventType::kStage);
  EXPECT_EQ(recorder.events[0].stage, "render");
  EXPECT_EQ(recorder.events[1].type, RunEventType::kMessage);
  EXPECT_EQ(recorder.events[1].text, "scene built");
  EXPECT_EQ(recorder.events[2].type, RunEventType::kProgress);
  EXPECT_EQ(recorder.events[2].stage, "render");
  EXPECT_EQ(recorder.events[2].done, 1);
  EXPECT_EQ(recorder.events[2].total, 2);
  EXPECT_DOUBLE_EQ(recorder.events[2].eta_s, 1.5);
  EXPECT_EQ(recorder.events[3].type, RunEventType::kLog);
  EXPECT_EQ(recorder.events[3].text, "Blender chatter");
  EXPECT_EQ(recorder.events[4].type, RunEventType::kDone);
}

TEST(RunPipeline, BatchInputErrorIsOneInputError) {
  const fs::path dir = TempDir("input_error");
  const std::string blender = StandIn(
      dir, "echo \"vanelia: error: product 'x.glb': not a GLB\" >&2\nexit 2");
  const PipelineOptions options = Options(dir, blender);
  Recorder recorder;
  RunReporter reporter(recorder.Sink(), PipelineStages(options));
  try {
    RunPipeline(options, &reporter);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()), "product 'x.glb': not a GLB");
  }
  // The error line is not forwarded: the caller says it once.
  for (const RunEvent& e : recorder.events) {
    EXPECT_EQ(e.text.find("not a GLB"), std::string::npos) << e.text;
  }
}

TEST(RunPipeline, BatchCrashIsAnInternalErrorWithItsOutput) {
  const fs::path dir = TempDir("crash");
  const std::string blender = StandIn(dir, "echo 'segfault soon'\nexit 139");
  const PipelineOptions options = Options(dir, blender);
  RunReporter reporter([](const RunEvent&) {}, PipelineStages(options));
  try {
    RunPipeline(options, &reporter);
    FAIL() << "expected InternalError";
  } catch (const InternalError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("Blender exited with 139"), std::string::npos) << what;
    EXPECT_NE(what.find("segfault soon"), std::string::npos) << what;
  }
}

TEST(RunPipeline, StopRequestStopsBlenderQuicklyAndLeavesNothing) {
  const fs::path dir = TempDir("stop");
  const fs::path tmp = dir / "tmp";
  fs::create_directories(tmp);
  setenv("TMPDIR", tmp.c_str(), 1);
  // Writes its temporary output as batch.py does, then works for a minute.
  const std::string blender = StandIn(
      dir,
      "touch \"" + (dir / "final.mp4").string() +
          ".tmp-$$.mp4\"\n"
          "echo '{\"type\": \"progress\", \"step\": \"render\", \"done\": 0, "
          "\"total\": 9}' >&2\nsleep 60\n");
  const PipelineOptions options = Options(dir, blender);
  bool stop = false;
  RunReporter reporter(
      [&stop](const RunEvent& e) {
        if (e.type == RunEventType::kProgress) stop = true;
      },
      PipelineStages(options),
      [&stop] { return stop; });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(RunPipeline(options, &reporter), Cancelled);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  unsetenv("TMPDIR");
  EXPECT_LT(seconds, 10.0);
  EXPECT_TRUE(fs::is_empty(tmp)) << "the run's temporary folder is left";
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find("final.mp4"),
              std::string::npos)
        << entry.path();
  }
}

TEST(RunPipeline, AProgramThatIsNotBlenderIsAnInputError) {
  const fs::path dir = TempDir("not_blender");
  for (const char* program : {"/bin/true", "/bin/false"}) {
    const PipelineOptions options = Options(dir, program);
    RunReporter reporter([](const RunEvent&) {}, PipelineStages(options));
    try {
      RunPipeline(options, &reporter);
      FAIL() << "expected InputError for " << program;
    } catch (const InputError& error) {
      EXPECT_EQ(
          std::string(error.what())
              .rfind(std::string("--blender '") + program + "': not Blender",
                     0),
          0u)
          << error.what();
    }
  }
}

// Blender's banner opens its stdout; a long render's chatter after it
// (megabytes of "Fra:..." lines) must not hide it.
TEST(RunPipeline, ALongBlenderLogStillStartsWithTheBanner) {
  const fs::path dir = TempDir("long_log");
  const std::string blender = StandIn(dir,
                                      "i=0; while [ $i -lt 80000 ]; do echo "
                                      "\"Fra:$i Mem:12M \"; i=$((i+1)); done");
  const PipelineOptions options = Options(dir, blender);
  RunReporter reporter([](const RunEvent&) {}, PipelineStages(options));
  EXPECT_NO_THROW(RunPipeline(options, &reporter));
}

// Blender 4.x writes its banner through a block-buffered stdout: into the
// pipe it can come after batch.py's first lines; "Blender" without a
// version is not the banner.
TEST(RunPipeline, TheBannerMayFollowTheScriptsFirstLines) {
  const fs::path dir = TempDir("late_banner");
  const auto stand_in = [&](const std::string& name, const std::string& body) {
    const fs::path path = dir / name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path.string();
  };
  const std::string late = stand_in(
      "blender43", "echo 'vanelia: batch starts'; echo 'Blender 4.3.2'");
  RunReporter reporter([](const RunEvent&) {},
                       PipelineStages(Options(dir, late)));
  EXPECT_NO_THROW(RunPipeline(Options(dir, late), &reporter));
  const std::string other = stand_in("other", "echo 'Blender is not here'");
  RunReporter other_reporter([](const RunEvent&) {},
                             PipelineStages(Options(dir, other)));
  EXPECT_THROW(RunPipeline(Options(dir, other), &other_reporter), InputError);
}

TEST(PipelineOptions, RefusesToWriteOverAnInput) {
  const fs::path dir = TempDir("input_as_output");
  const fs::path copy = dir / "clip.mp4";
  fs::copy_file(kSample + "/video.mp4", copy);
  PipelineOptions options = Options(dir, "/bin/true");
  options.video = copy.string();
  options.output = copy.string();
  options.overwrite = true;
  try {
    options.Check();
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("is the input"), std::string::npos)
        << error.what();
  }
  options.output = options.track;
  EXPECT_THROW(options.Check(), InputError);
  EXPECT_EQ(fs::file_size(copy), fs::file_size(kSample + "/video.mp4"));
}

TEST(PipelineOptions, NumbersOutOfRangeNameTheOption) {
  const fs::path dir = TempDir("ranges");
  const PipelineOptions good = Options(dir, "/bin/true");
  EXPECT_NO_THROW(good.Check());
  const auto message = [](const PipelineOptions& o) {
    try {
      o.Check();
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  PipelineOptions o = good;
  o.samples = 0;
  EXPECT_EQ(message(o), "--samples 0: must be between 1 and 16777216");
  o = good;
  o.seed = 99999999999;
  EXPECT_EQ(message(o), "--seed 99999999999: must be between 0 and 2147483647");
  o = good;
  o.samples = 2147483648;
  EXPECT_NE(message(o).find("--samples 2147483648"), std::string::npos);
  o = good;
  o.end = 99999999999;
  EXPECT_NE(message(o).find("--end 99999999999"), std::string::npos);
  o = good;
  o.video = (dir / "missing.mp4").string();
  EXPECT_NE(message(o).find("missing.mp4': no such file"), std::string::npos);
  o = good;
  o.rotation_z_deg = std::numeric_limits<double>::infinity();
  EXPECT_NE(message(o).find("--rotation-z inf"), std::string::npos);
  o = good;
  o.video = VANELIA_SOURCE_DIR "/tests/data";
  EXPECT_NE(message(o).find("is a folder"), std::string::npos);
  o = good;
  o.camera_height_m = -1.0;
  EXPECT_NE(message(o).find("--camera-height"), std::string::npos);
}

TEST(PipelineOptions, CodecMustFitTheOutputsExtension) {
  const fs::path dir = TempDir("codec");
  const auto message = [](const PipelineOptions& o) {
    try {
      o.Check();
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  PipelineOptions o = Options(dir, "/bin/true");
  EXPECT_EQ(o.codec, "h264");
  EXPECT_EQ(message(o), "no error");
  o.codec = "prores";
  EXPECT_EQ(message(o),
            "--codec prores writes a .mov file; output '" + o.output +
                "' has the extension .mp4");
  o.output = (dir / "final.MOV").string();
  EXPECT_EQ(message(o), "no error");
  o.codec = "dnxhr";
  EXPECT_EQ(message(o), "no error");
  o.preview = true;
  EXPECT_NE(message(o).find("--preview"), std::string::npos) << message(o);
  o.preview = false;
  o.codec = "hevc";
  EXPECT_NE(message(o).find("--codec hevc writes a .mp4"), std::string::npos);
  o.codec = "cineform";
  EXPECT_EQ(message(o),
            "--codec 'cineform': must be one of h264, hevc, prores, dnxhr");
  o.codec = "h264";
  o.output = (dir / "final").string();
  EXPECT_NE(message(o).find("has no extension"), std::string::npos);
  EXPECT_EQ(FindOutputCodec("dnxhr").extension, std::string(".mov"));
  EXPECT_EQ(OutputCodecs().front().name, std::string("h264"));
}

TEST(RunPipeline, HandsBatchTheCodecAndThePreview) {
  const fs::path dir = TempDir("codec_args");
  PipelineOptions options = Options(dir, StandIn(dir, ""));
  options.preview = true;
  RunReporter reporter([](const RunEvent&) {}, PipelineStages(options));
  RunPipeline(options, &reporter);
  std::vector<std::string> args = Lines(dir / "args");
  const auto after = [&args](const std::string& option) {
    const auto it = std::find(args.begin(), args.end(), option);
    return it == args.end() || it + 1 == args.end() ? "" : *(it + 1);
  };
  EXPECT_EQ(after("--codec"), "h264");
  EXPECT_NE(std::find(args.begin(), args.end(), "--preview"), args.end());
  options.preview = false;
  options.codec = "prores";
  options.output = (dir / "final.mov").string();
  RunReporter again([](const RunEvent&) {}, PipelineStages(options));
  RunPipeline(options, &again);
  args = Lines(dir / "args");
  EXPECT_EQ(after("--codec"), "prores");
  EXPECT_EQ(std::find(args.begin(), args.end(), "--preview"), args.end());
}

}  // namespace
}  // namespace vanelia
