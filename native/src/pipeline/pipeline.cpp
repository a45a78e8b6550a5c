#include "vanelia/pipeline/pipeline.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/pipeline/blender_stage.hpp"
#include "vanelia/pipeline/environment_stage.hpp"
#include "vanelia/pipeline/light_stage.hpp"
#include "vanelia/pipeline/motion_blur_stage.hpp"
#include "vanelia/pipeline/plate_grain.hpp"
#include "vanelia/pipeline/product_placement.hpp"
#include "vanelia/pipeline/proxy_stage.hpp"
#include "vanelia/pipeline/track_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "pipeline_stages.hpp"

namespace vanelia {
namespace {

namespace fs = std::filesystem;

// Blender's limits for what is handed to it (Cycles' sample and seed
// fields are 32-bit; samples at most 2^24).
constexpr int64_t kMaxSamples = 16777216;
constexpr int64_t kMaxSeed = 2147483647;
constexpr int64_t kMaxThreads = 1024;

bool IsRegularFile(const std::string& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

// The run's temporary folder, removed with everything in it on every exit.
class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") +
                          "/vanelia-run-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
      throw InternalError(std::string("mkdtemp: ") + std::strerror(errno));
    }
    path_ = buffer.data();
  }

  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

std::string Lowercase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// --codec against the output's extension, and --preview (an H.264 MP4).
void CheckCodec(const PipelineOptions& options) {
  const OutputCodec& codec = FindOutputCodec(options.codec);
  const std::string extension =
      Lowercase(fs::path(options.output).extension().string());
  if (extension != codec.extension) {
    throw InputError(
        "--codec " + options.codec + " writes a " + codec.extension +
        " file; output '" + options.output + "' has " +
        (extension.empty() ? "no extension" : "the extension " + extension));
  }
  if (!options.passes.empty()) {
    if (options.passes_format != "exr" && options.passes_format != "png16") {
      throw InputError("--passes-format '" + options.passes_format +
                       "': must be exr or png16");
    }
    if (options.preview) {
      throw InputError(
          "--passes: the passes come from the full render; not with "
          "--preview");
    }
  }
  if (options.light != "auto" && options.light != "fixed") {
    throw InputError("--light '" + options.light + "': must be auto or fixed");
  }
  if (!(options.floor_albedo > 0.0 && options.floor_albedo <= 1.0)) {
    throw InputError("--floor-albedo " +
                     internal::FormatNumber(options.floor_albedo) +
                     ": must be in (0, 1]");
  }
  if (options.environment != "auto" && options.environment != "off") {
    throw InputError("--environment '" + options.environment +
                     "': must be auto or off");
  }
  if (options.proxies != "auto" && options.proxies != "off") {
    throw InputError("--proxies '" + options.proxies +
                     "': must be auto or off");
  }
  const double sun_az = options.sun_deg[0], sun_el = options.sun_deg[1];
  if (!(std::isfinite(sun_az) && sun_el > 0.0 && sun_el <= 90.0)) {
    throw InputError("--sun " + internal::FormatNumber(options.sun_deg[0]) +
                     " " + internal::FormatNumber(options.sun_deg[1]) +
                     ": the azimuth must be finite and the elevation in "
                     "(0, 90] degrees");
  }
  ParseMotionBlur(options.motion_blur);
  if (options.grain != "auto" && options.grain != "off") {
    throw InputError("--grain '" + options.grain + "': must be auto or off");
  }
  if (options.grain_sigma) {
    for (double v : *options.grain_sigma) {
      if (!(std::isfinite(v) && v >= 0.0 && v <= 64.0)) {
        throw InputError("grain_sigma: " + internal::FormatNumber(v) +
                         " must be 0 to 64 (8-bit code values)");
      }
    }
  }
  if (options.preview && options.codec != "h264") {
    throw InputError(
        "--preview writes a half-size H.264 MP4; it does not "
        "take --codec " +
        options.codec);
  }
}

void CheckRange(const char* name, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    throw InputError(std::string(name) + " " + std::to_string(value) +
                     ": must be between " + std::to_string(low) + " and " +
                     std::to_string(high));
  }
}

}  // namespace

namespace internal {

// Tracks the clip with the classical tracker, or reuses the cached raw
// track; returns the raw track as read back from its text (so a fresh and a
// cached track align the same way).
TrackFile TrackOrReuse(const PipelineOptions& options,
                       const std::string& dir,
                       RunReporter* reporter,
                       bool* from_cache) {
  if (!HasTracker("classical")) {
    throw InputError(
        "no --track given and this build has no classical tracker; pass "
        "--track TRACK.json (for footage with ground truth: `vanelia "
        "import-track gt.json -o TRACK.json`)");
  }
  reporter->BeginStage("track", "tracking the camera");
  const TrackCache cache(options.cache_folder);
  const std::string cached =
      cache.Folder().empty()
          ? ""
          : cache.PathFor(Sha256OfFile(options.video),
                          "classical",
                          ClassicalCacheOptions(
                              options.start, options.end, options.mask));
  *from_cache = !cached.empty() && IsRegularFile(cached);
  if (*from_cache) {
    try {
      TrackFile reused = ReadTrackFile(cached);
      reporter->Message("reusing " + cached);
      return reused;
    } catch (const InputError& error) {
      // A truncated or damaged entry is discarded, never trusted.
      reporter->Message("discarding the cached track (" +
                        std::string(error.what()) + "); tracking again");
      std::error_code ignored;
      fs::remove(cached, ignored);
      *from_cache = false;
    }
  }
  ReadOptions read;
  read.start = options.start;
  read.end = options.end;
  TrackerChoice choice;
  choice.name = "classical";
  choice.mask = options.mask;
  const double started = reporter->ElapsedSeconds();
  TrackFile track;
  try {
    track = TrackVideo(options.video, read, choice, reporter->StageProgress());
  } catch (const DecodeError&) {
    throw;
  } catch (const InputError& error) {
    throw InputError("VIDEO '" + options.video + "': " + error.what());
  }
  const std::string raw = dir + "/track.json";
  const std::string text = WriteTrackFileString(track);
  WriteFileAtomic(raw, text, false);
  if (!cached.empty()) TrackCache::Store(cached, text);
  track = ReadTrackFileString(text, raw);
  std::string summary =
      DescribeTrack(raw, track, reporter->ElapsedSeconds() - started);
  summary.pop_back();  // the sink ends the line
  reporter->Log(summary);
  return track;
}

// Puts the raw track on the floor and writes it into the run's folder.
std::string AlignToFloor(const PipelineOptions& options,
                         TrackFile track,
                         const std::string& dir,
                         RunReporter* reporter) {
  reporter->BeginStage("align", "aligning to the floor");
  AlignmentOptions align;
  align.camera_height_m = options.camera_height_m.value_or(1.5);
  // A plain floor's height is swept from the clip's frames (issue 17).
  const Alignment alignment =
      AlignTrackFileWithFrames(align, options.video, &track);
  const std::string aligned = dir + "/aligned.json";
  WriteTrackFile(aligned, track, false);
  std::string text = "vanelia align: wrote " + aligned + "\n" +
                     DescribeAlignment(alignment, track);
  text.pop_back();
  reporter->Log(text);
  return aligned;
}

// --start/--end against the clip (the render refuses the same, later).
void CheckFrameRange(const PipelineOptions& options, const VideoReader& probe) {
  const int64_t frames = probe.Info().frame_count;
  const std::string clip =
      "'" + options.video + "' (" + std::to_string(frames) + " frames)";
  if (options.start >= frames) {
    throw InputError("--start " + std::to_string(options.start) +
                     ": past the end of " + clip);
  }
  if (options.end > frames) {
    throw InputError("--end " + std::to_string(options.end) +
                     ": past the end of " + clip +
                     "; --end is exclusive, "
                     "at most " +
                     std::to_string(frames));
  }
}

std::string FormatNumber(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

// batch.py's arguments for this run.
std::vector<std::string> BatchArgs(const PipelineOptions& options,
                                   const std::string& track,
                                   const std::string& dir) {
  std::vector<std::string> args = {
      "--video",
      options.video,
      "--product",
      options.product,
      "--track",
      track,
      "--output",
      options.output,
      "--samples",
      std::to_string(options.samples),
      "--start",
      std::to_string(options.start),
      "--end",
      std::to_string(options.end),
      "--every",
      std::to_string(options.every),
      "--rotation-z=" + FormatNumber(options.rotation_z_deg),
      "--seed",
      std::to_string(options.seed),
      "--threads",
      std::to_string(options.threads),
      "--work-dir",
      dir,
      "--codec",
      options.codec};
  if (options.height_m) {
    args.insert(args.end(), {"--height", FormatNumber(*options.height_m)});
  }
  // A given track keeps its scale unless a camera height is asked for.
  if (options.camera_height_m && !options.track.empty()) {
    args.insert(args.end(),
                {"--camera-height", FormatNumber(*options.camera_height_m)});
  }
  if (options.location_m) {
    const auto& l = *options.location_m;
    args.push_back("--location=" + FormatNumber(l[0]) + "," +
                   FormatNumber(l[1]) + "," + FormatNumber(l[2]));
  }
  if (options.overwrite) args.push_back("--overwrite");
  if (options.preview) args.push_back("--preview");
  if (options.keep_blend) args.push_back("--keep-blend");
  if (!options.keep_frames.empty()) {
    args.insert(args.end(), {"--keep-frames", options.keep_frames});
  }
  if (!options.passes.empty()) {
    args.insert(
        args.end(),
        {"--passes", options.passes, "--passes-format", options.passes_format});
  }
  if (options.grain_sigma && options.grain != "off" && !options.preview) {
    const auto& s = *options.grain_sigma;
    args.push_back("--grain=" + FormatNumber(s[0]) + "," + FormatNumber(s[1]) +
                   "," + FormatNumber(s[2]));
  }
  args.push_back("--sun=" + FormatNumber(options.sun_deg[0]) + "," +
                 FormatNumber(options.sun_deg[1]));
  if (options.shutter_frames && options.motion_blur != "off" &&
      !options.preview) {
    args.push_back("--motion-blur=" + FormatNumber(*options.shutter_frames));
  }
  if (options.light == "auto" && !options.light_json.empty()) {
    args.push_back("--light-json=" + options.light_json);
  }
  if (!options.environment_map.empty())  // set with --environment auto only
    args.push_back("--environment=" + options.environment_map);
  if (options.proxies == "off") {
    args.push_back("--proxies=off");
  } else if (!options.proxies_json.empty()) {
    args.push_back("--proxies-json=" + options.proxies_json);
  }
  if (options.quiet) args.push_back("--quiet");
  if (options.progress == ProgressFormat::kJson) {
    args.insert(args.end(), {"--progress", "json"});
  }
  return args;
}

}  // namespace internal

const std::vector<OutputCodec>& OutputCodecs() {
  static const std::vector<OutputCodec> codecs = {
      {"h264", ".mp4", "H.264 High, 8-bit 4:2:0 yuv420p"},
      {"hevc", ".mp4", "HEVC Main 10, 10-bit 4:2:0 yuv420p10le, tagged hvc1"},
      {"prores", ".mov", "ProRes 422 HQ, 10-bit 4:2:2 yuv422p10le"},
      {"dnxhr", ".mov", "DNxHR HQX, 10-bit 4:2:2 yuv422p10le"},
  };
  return codecs;
}

const OutputCodec& FindOutputCodec(const std::string& name,
                                   const std::string& option) {
  std::string names;
  for (const OutputCodec& codec : OutputCodecs()) {
    if (name == codec.name) return codec;
    names += (names.empty() ? "" : ", ") + std::string(codec.name);
  }
  throw InputError(option + " '" + name + "': must be one of " + names);
}

void PipelineOptions::Check() const {
  std::error_code error;
  if (fs::is_directory(video, error)) {
    throw InputError("video '" + video +
                     "': is a folder; vanelia run takes a video file");
  }
  if (!IsRegularFile(video)) {
    throw InputError("video '" + video + "': no such file");
  }
  if (!IsRegularFile(product)) {
    throw InputError("product '" + product + "': no such file");
  }
  if (!track.empty() && !IsRegularFile(track)) {
    throw InputError("track '" + track + "': no such file");
  }
  if (!mask.empty()) {
    if (!track.empty()) {
      throw InputError("--mask '" + mask +
                       "': masks are for tracking; not with --track");
    }
    if (mask.find('%') == std::string::npos && !fs::exists(mask, error)) {
      throw InputError("--mask '" + mask +
                       "': no such file or folder (a folder of images, a "
                       "video or one image; white = ignore)");
    }
  }
  if (output.empty()) throw InputError("output: no path given");
  CheckCanWrite(output, overwrite, "output", {video, product, track});
  CheckCodec(*this);
  if (keep_blend) {
    // --keep-blend saves OUTPUT.blend beside the video: never over an input.
    CheckNotAnInput(fs::path(output).replace_extension(".blend").string(),
                    "--keep-blend",
                    {video, product, track});
  }
  if (!passes.empty() && fs::exists(passes, error) &&
      !fs::is_directory(passes, error)) {
    throw InputError("--passes '" + passes + "': exists and is not a folder");
  }
  if (!keep_frames.empty() && fs::exists(keep_frames, error) &&
      !fs::is_directory(keep_frames, error)) {
    throw InputError("--keep-frames '" + keep_frames +
                     "': exists and is not a folder");
  }
  CheckRange("--samples", samples, 1, kMaxSamples);
  CheckRange("--seed", seed, 0, kMaxSeed);
  CheckRange("--threads", threads, 0, kMaxThreads);
  CheckRange("--every", every, 1, kMaxSeed);
  CheckRange("--start", start, 0, kMaxSeed);
  if (end != -1) CheckRange("--end", end, start + 1, kMaxSeed);
  if (camera_height_m &&
      !(std::isfinite(*camera_height_m) && *camera_height_m > 0.0)) {
    throw InputError("--camera-height " +
                     internal::FormatNumber(*camera_height_m) +
                     ": must be > 0 metres");
  }
  if (!std::isfinite(rotation_z_deg)) {
    throw InputError("--rotation-z " + internal::FormatNumber(rotation_z_deg) +
                     ": must be a finite angle in degrees");
  }
  if (location_m) {
    for (const double v : *location_m) {
      if (!std::isfinite(v)) {
        throw InputError("--location: " + internal::FormatNumber(v) +
                         " is not a finite coordinate in metres");
      }
    }
  }
  if (height_m && !(std::isfinite(*height_m) && *height_m > 0.0)) {
    throw InputError("--height " + internal::FormatNumber(*height_m) +
                     ": must be > 0 metres");
  }
}

std::vector<std::string> PipelineStages(const PipelineOptions& options) {
  if (!options.track.empty()) return {"render"};
  return {"track", "align", "render"};
}

PipelineResult RunPipeline(const PipelineOptions& options,
                           RunReporter* reporter) {
  options.Check();
  const std::string blender = FindBlender(options.blender, "--blender");
  const std::string addon = FindAddon(options.addon_dir);
  internal::CheckFrameRange(options,
                            *VideoReader::Open(options.video, ReadOptions()));
  const TempDir dir;
  PipelineResult result;
  result.output = options.output;
  std::string track = options.track;
  if (track.empty()) {
    result.tracked = true;
    TrackFile raw = internal::TrackOrReuse(
        options, dir.Path(), reporter, &result.track_from_cache);
    track =
        internal::AlignToFloor(options, std::move(raw), dir.Path(), reporter);
  }
  reporter->BeginStage("render", "rendering with " + blender);
  BlenderJob job;
  job.blender = blender;
  job.addon = addon;
  // The product's spot: chosen here unless --location gives it. The light
  // and the environment look at one sample of the plate's frames.
  FrameSample sample;
  const PipelineOptions placed = WithEnvironment(
      WithProxies(
          WithMotionBlur(
              WithLight(
                  WithGrain(WithPlacement(options, track, reporter), reporter),
                  track,
                  reporter,
                  &sample),
              track,
              reporter),
          track,
          reporter),
      track,
      dir.Path(),
      reporter,
      &sample);
  job.args = internal::BatchArgs(placed, track, dir.Path() + "/blender");
  job.log_path = dir.Path() + "/blender.log";
  job.output = options.output;
  std::error_code missing;
  job.output_is_new = !fs::exists(options.output, missing);
  RunBlenderScript(job, reporter);
  result.elapsed_s = reporter->ElapsedSeconds();
  reporter->Done(options.output);
  return result;
}

}  // namespace vanelia
