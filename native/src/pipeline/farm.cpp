#include "vanelia/pipeline/farm.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/pipeline/blender_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "pipeline_stages.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kJobFormat = "vanelia-farm-job/1";

bool Exists(const std::string& path) {
  std::error_code error;
  return fs::exists(path, error);
}

std::string Absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code error;
  const fs::path absolute = fs::absolute(path, error);
  return (error ? fs::path(path) : absolute).lexically_normal().string();
}

std::string FramePath(const FarmJob& job, int64_t position) {
  char name[32];
  std::snprintf(name,
                sizeof(name),
                "/frames/%06lld.png",
                static_cast<long long>(position));
  return job.dir + name;
}

// Output positions [first, last) of chunk `c`.
std::pair<int64_t, int64_t> ChunkPositions(const FarmJob& job, int64_t c) {
  const int64_t first = c * job.chunk_frames;
  return {first, std::min(first + job.chunk_frames, job.frames)};
}

Json OptionalNumber(const std::optional<double>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json JobJson(const FarmJob& job) {
  const PipelineOptions& o = job.options;
  Json json;
  json["format"] = kJobFormat;
  json["name"] = job.name;
  json["video"] = o.video;
  json["product"] = o.product;
  json["output"] = o.output;
  json["track"] = o.track;
  json["samples"] = o.samples;
  json["seed"] = o.seed;
  json["start"] = o.start;
  json["end"] = o.end;
  json["every"] = o.every;
  json["camera_height_m"] = OptionalNumber(o.camera_height_m);
  json["location_m"] = o.location_m ? Json(*o.location_m) : Json(nullptr);
  json["rotation_z_deg"] = o.rotation_z_deg;
  json["height_m"] = OptionalNumber(o.height_m);
  json["threads"] = o.threads;
  json["overwrite"] = o.overwrite;
  json["blender"] = o.blender;
  json["addon_dir"] = o.addon_dir;
  json["cache_folder"] = o.cache_folder;
  json["codec"] = o.codec;
  json["passes"] = o.passes;
  json["passes_format"] = o.passes_format;
  json["grain"] = o.grain;
  json["motion_blur"] = o.motion_blur;
  json["light"] = o.light;
  json["proxies"] = o.proxies;
  json["environment"] = o.environment;
  json["sun_deg"] = o.sun_deg;
  json["vanelia"] = job.vanelia;
  json["chunk_frames"] = job.chunk_frames;
  json["frames"] = job.frames;
  json["chunks"] = job.chunks;
  return json;
}

std::optional<double> NumberOrNone(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return value.get<double>();
}

FarmJob JobFromJson(const Json& json, const std::string& dir) {
  FarmJob job;
  job.dir = dir;
  job.name = json.at("name").get<std::string>();
  PipelineOptions& o = job.options;
  o.video = json.at("video").get<std::string>();
  o.product = json.at("product").get<std::string>();
  o.output = json.at("output").get<std::string>();
  o.track = json.at("track").get<std::string>();
  o.samples = json.at("samples").get<int64_t>();
  o.seed = json.at("seed").get<int64_t>();
  o.start = json.at("start").get<int64_t>();
  o.end = json.at("end").get<int64_t>();
  o.every = json.at("every").get<int64_t>();
  o.camera_height_m = NumberOrNone(json.at("camera_height_m"));
  if (!json.at("location_m").is_null()) {
    o.location_m = json.at("location_m").get<std::array<double, 3>>();
  }
  o.rotation_z_deg = json.at("rotation_z_deg").get<double>();
  o.height_m = NumberOrNone(json.at("height_m"));
  o.threads = json.at("threads").get<int64_t>();
  o.overwrite = json.at("overwrite").get<bool>();
  o.blender = json.at("blender").get<std::string>();
  o.addon_dir = json.at("addon_dir").get<std::string>();
  o.cache_folder = json.at("cache_folder").get<std::string>();
  // Jobs made before --codec have none: H.264.
  o.codec = json.value("codec", std::string("h264"));
  FindOutputCodec(o.codec, "codec");
  // Jobs made before --passes have none.
  o.passes = json.value("passes", std::string());
  o.passes_format = json.value("passes_format", std::string("exr"));
  // Jobs made before the grain have none.
  o.grain = json.value("grain", std::string("off"));
  // ... and a sharp product before the motion blur.
  o.motion_blur = json.value("motion_blur", std::string("off"));
  // ... and the fixed sun of before the light estimate.
  o.light = json.value("light", std::string("fixed"));
  // ... and no proxies before they were built natively.
  o.proxies = json.value("proxies", std::string("off"));
  // ... and the uniform world before the environment map.
  o.environment = json.value("environment", std::string("off"));
  if (json.contains("sun_deg")) {
    o.sun_deg = json.at("sun_deg").get<std::array<double, 2>>();
  }
  job.vanelia = json.at("vanelia").get<std::string>();
  job.chunk_frames = json.at("chunk_frames").get<int64_t>();
  job.frames = json.at("frames").get<int64_t>();
  job.chunks =
      json.at("chunks").get<std::vector<std::pair<int64_t, int64_t>>>();
  if (job.chunk_frames < 1 || job.frames < 1 || job.chunks.empty()) {
    throw InputError("bad chunking");
  }
  return job;
}

// The first field in which two manifests differ (the executable and
// --overwrite may change between submissions), "" when none.
std::string DifferingField(const Json& a, const Json& b) {
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (it.key() == "vanelia" || it.key() == "overwrite") continue;
    if (!b.contains(it.key()) || b.at(it.key()) != it.value()) return it.key();
  }
  return "";
}

// Cuts the selected frames start, start + every, ... < end into chunks.
void CutChunks(FarmJob* job, int64_t clip_frames) {
  const PipelineOptions& o = job->options;
  const int64_t end = o.end < 0 ? clip_frames : o.end;
  job->frames = (end - o.start + o.every - 1) / o.every;
  job->chunks.clear();
  for (int64_t p = 0; p < job->frames; p += job->chunk_frames) {
    const int64_t last = std::min(p + job->chunk_frames, job->frames) - 1;
    job->chunks.emplace_back(o.start + p * o.every,
                             o.start + last * o.every + 1);
  }
}

std::string SelfExecutable() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? "vanelia" : self.string();
}

}  // namespace

std::string FarmJob::AlignedTrack() const {
  return options.track.empty() ? dir + "/aligned.json" : options.track;
}

FarmJob PrepareFarmJob(PipelineOptions options,
                       const std::string& shared,
                       int64_t chunk_frames) {
  if (chunk_frames < 1) {
    throw InputError("--chunk " + std::to_string(chunk_frames) +
                     ": must be >= 1 frame");
  }
  for (std::string* path : {&options.video,
                            &options.product,
                            &options.track,
                            &options.output,
                            &options.passes}) {
    *path = Absolute(*path);
  }
  FarmJob job;
  job.options = std::move(options);
  job.chunk_frames = chunk_frames;
  job.vanelia = SelfExecutable();
  PipelineOptions& o = job.options;
  if (o.cache_folder.empty()) o.cache_folder = Absolute(shared) + "/cache";
  std::error_code error;
  if (!fs::is_regular_file(o.video, error)) {
    throw InputError("video '" + o.video + "': no such file");
  }
  job.name = fs::path(o.video).stem().string() + "-" +
             Sha256OfFile(o.video).substr(0, 8);
  job.dir = Absolute(shared) + "/jobs/" + job.name;
  const bool exists = Exists(job.dir + "/job.json");
  if (!(exists && Exists(job.dir + "/merged") && Exists(o.output))) {
    o.Check();  // a finished job's output exists: that is no error
  }
  o.blender = FindBlender(o.blender, "--blender");
  o.addon_dir = FindAddon(o.addon_dir);
  const auto probe = VideoReader::Open(o.video, ReadOptions());
  internal::CheckFrameRange(o, *probe);
  CutChunks(&job, probe->Info().frame_count);
  const Json json = JobJson(job);
  if (exists) {
    Json old = Json::parse(ReadFile(job.dir + "/job.json"), nullptr, false);
    if (old.is_object()) {
      // Jobs made before --codec and --passes: H.264, no passes.
      if (!old.contains("codec")) old["codec"] = "h264";
      if (!old.contains("passes")) old["passes"] = "";
      if (!old.contains("passes_format")) old["passes_format"] = "exr";
      if (!old.contains("grain")) old["grain"] = "off";
      if (!old.contains("motion_blur")) old["motion_blur"] = "off";
      if (!old.contains("light")) old["light"] = "fixed";
      if (!old.contains("proxies")) old["proxies"] = "off";
      if (!old.contains("environment")) old["environment"] = "off";
      if (!old.contains("sun_deg")) old["sun_deg"] = json.at("sun_deg");
    }
    const std::string field =
        old.is_discarded() ? "format" : DifferingField(json, old);
    if (!field.empty()) {
      throw InputError("job '" + job.dir + "' exists with another " + field +
                       "; remove the folder to start it again, or use "
                       "another --shared folder");
    }
  }
  for (const char* sub : {"/frames", "/logs"}) {
    fs::create_directories(job.dir + sub, error);
    if (error) {
      throw InputError("job folder '" + job.dir + sub +
                       "': cannot create: " + error.message());
    }
  }
  WriteFileAtomic(job.dir + "/job.json", json.dump(2) + "\n", true);
  return job;
}

FarmJob ReadFarmJob(const std::string& dir) {
  const std::string path = Absolute(dir) + "/job.json";
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    throw InputError("job '" + dir + "': no job.json (not a farm job folder)");
  }
  const Json json = Json::parse(ReadFile(path), nullptr, false);
  if (json.is_discarded() || !json.is_object() ||
      json.value("format", "") != kJobFormat) {
    throw InputError("job '" + path + "': not a " + kJobFormat + " manifest");
  }
  try {
    return JobFromJson(json, Absolute(dir));
  } catch (const std::exception& e) {
    throw InputError("job '" + path + "': " + e.what());
  }
}

FarmStep FarmStepFromName(const std::string& name) {
  for (FarmStep step : {FarmStep::kTrack,
                        FarmStep::kBuild,
                        FarmStep::kRender,
                        FarmStep::kMerge}) {
    if (name == FarmStepName(step)) return step;
  }
  throw InputError("step '" + name +
                   "': must be track, build, render or merge");
}

const char* FarmStepName(FarmStep step) {
  switch (step) {
    case FarmStep::kTrack:
      return "track";
    case FarmStep::kBuild:
      return "build";
    case FarmStep::kRender:
      return "render";
    case FarmStep::kMerge:
      return "merge";
  }
  return "?";
}

std::vector<std::string> FarmStepStages(FarmStep step) {
  if (step == FarmStep::kTrack) return {"track", "align"};
  return {FarmStepName(step)};
}

std::string FarmStatus::Summary() const {
  const int64_t chunks = static_cast<int64_t>(chunk_done.size());
  const int64_t done = std::count(chunk_done.begin(), chunk_done.end(), true);
  if (merged) return "done";
  if (done == chunks && chunks > 0) return "merging";
  if (built) return "rendering";
  if (tracked) return "building";
  return "tracking";
}

FarmStatus ReadFarmStatus(const FarmJob& job) {
  FarmStatus status;
  status.tracked = Exists(job.AlignedTrack());
  status.built =
      Exists(job.dir + "/scene.blend") && Exists(job.dir + "/scene.json");
  for (int64_t c = 0; c < static_cast<int64_t>(job.chunks.size()); ++c) {
    const auto [first, last] = ChunkPositions(job, c);
    bool all = true;
    for (int64_t p = first; p < last; ++p) {
      if (Exists(FramePath(job, p))) {
        ++status.frames_done;
      } else {
        all = false;
      }
    }
    status.chunk_done.push_back(all);
  }
  status.merged = Exists(job.dir + "/merged") && Exists(job.options.output);
  return status;
}

}  // namespace vanelia
