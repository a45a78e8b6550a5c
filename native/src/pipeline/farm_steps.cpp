// The farm's steps (farm.hpp): each one a process a scheduler starts on any
// node, each skipping what is already done.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/pipeline/blender_stage.hpp"
#include "vanelia/pipeline/environment_stage.hpp"
#include "vanelia/pipeline/farm.hpp"
#include "vanelia/pipeline/light_stage.hpp"
#include "vanelia/pipeline/motion_blur_stage.hpp"
#include "vanelia/pipeline/plate_grain.hpp"
#include "vanelia/pipeline/product_placement.hpp"
#include "vanelia/pipeline/proxy_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "pipeline_stages.hpp"
#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

bool Exists(const std::string& path) {
  std::error_code error;
  return fs::exists(path, error);
}

// The track step's scratch folder inside the job (same file system, so its
// result is renamed into place), removed on every exit.
class StepDir {
 public:
  explicit StepDir(const std::string& job_dir)
      : path_(job_dir + "/tmp-track-" + std::to_string(getpid())) {
    fs::create_directories(path_);
  }

  ~StepDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }

  StepDir(const StepDir&) = delete;
  StepDir& operator=(const StepDir&) = delete;

  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

void TrackStep(const FarmJob& job, RunReporter* reporter) {
  if (!job.options.track.empty()) {
    reporter->BeginStage("track", "checking the given track");
    ReadTrackFile(job.options.track);  // InputError naming it
    reporter->Message("using the given track " + job.options.track);
    return;
  }
  if (Exists(job.AlignedTrack())) {
    reporter->BeginStage("track", "tracking the camera");
    reporter->Message("done already: " + job.AlignedTrack());
    return;
  }
  const StepDir scratch(job.dir);
  bool from_cache = false;
  TrackFile raw = internal::TrackOrReuse(
      job.options, scratch.Path(), reporter, &from_cache);
  // A reused track was not written into the scratch folder: the job keeps
  // its raw track all the same.
  if (from_cache) WriteTrackFile(scratch.Path() + "/track.json", raw, false);
  const std::string aligned = internal::AlignToFloor(
      job.options, std::move(raw), scratch.Path(), reporter);
  fs::rename(scratch.Path() + "/track.json", job.dir + "/track.json");
  fs::rename(aligned, job.AlignedTrack());
}

BlenderJob BatchJob(const FarmJob& job, const std::string& log) {
  BlenderJob blender;
  blender.blender = job.options.blender;
  blender.addon = job.options.addon_dir;
  blender.log_path = job.dir + "/logs/" + log + "-" + std::to_string(getpid()) +
                     ".blender.log";
  return blender;
}

// batch.py's options shared by the steps: progress format and quietness.
void AddProgressArgs(const PipelineOptions& o, std::vector<std::string>* a) {
  if (o.quiet) a->push_back("--quiet");
  if (o.progress == ProgressFormat::kJson) {
    a->insert(a->end(), {"--progress", "json"});
  }
}

void BuildStep(const FarmJob& job, RunReporter* reporter) {
  reporter->BeginStage("build", "building the scene");
  if (Exists(job.dir + "/scene.blend") && Exists(job.dir + "/scene.json")) {
    reporter->Message("done already: " + job.dir + "/scene.blend");
    return;
  }
  if (!Exists(job.AlignedTrack())) {
    throw InputError("job '" + job.dir +
                     "': no track yet; run the track step first");
  }
  BlenderJob blender = BatchJob(job, "build");
  // The same spot, grain, light, motion blur, proxies and environment as
  // the one-process run (pipeline.cpp); the map stays in the job folder.
  FrameSample sample;
  const PipelineOptions placed = WithEnvironment(
      WithProxies(
          WithMotionBlur(WithLight(WithGrain(WithPlacement(job.options,
                                                           job.AlignedTrack(),
                                                           reporter),
                                             reporter),
                                   job.AlignedTrack(),
                                   reporter,
                                   &sample),
                         job.AlignedTrack(),
                         reporter),
          job.AlignedTrack(),
          reporter),
      job.AlignedTrack(),
      job.dir,
      reporter,
      &sample);
  blender.args =
      internal::BatchArgs(placed, job.AlignedTrack(), job.dir + "/tmp-build");
  blender.args.insert(blender.args.end(),
                      {"--step", "build", "--job-dir", job.dir});
  blender.output = job.dir + "/scene.blend";
  blender.output_is_new = true;
  RunBlenderScript(blender, reporter);
}

// Removes what a killed render of this chunk left half-written: the
// temporary frames .tmp-NNNNNN-PID.png of its own positions only (other
// chunks may be writing theirs beside them).
void RemoveStaleFrames(const FarmJob& job, int64_t first, int64_t last) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(job.dir + "/frames", error)) {
    const std::string name = entry.path().filename().string();
    long long position = -1;
    if (std::sscanf(name.c_str(), ".tmp-%6lld-", &position) == 1 &&
        position >= first && position < last) {
      fs::remove(entry.path(), error);
    }
  }
}

void RenderStep(const FarmJob& job, int64_t chunk, RunReporter* reporter) {
  const int64_t chunks = static_cast<int64_t>(job.chunks.size());
  if (chunk < 0 || chunk >= chunks) {
    throw InputError("--chunk " + std::to_string(chunk) + ": job '" + job.name +
                     "' has chunks 0 to " + std::to_string(chunks - 1));
  }
  const auto [start, end] = job.chunks[chunk];
  reporter->BeginStage("render",
                       "rendering chunk " + std::to_string(chunk) +
                           " (frames " + std::to_string(start) + "-" +
                           std::to_string(end - 1) + ")");
  if (ReadFarmStatus(job).chunk_done[chunk]) {
    reporter->Message("done already: chunk " + std::to_string(chunk));
    return;
  }
  if (!Exists(job.dir + "/scene.blend")) {
    throw InputError("job '" + job.dir +
                     "': no scene yet; run the build step first");
  }
  const int64_t first = chunk * job.chunk_frames;
  RemoveStaleFrames(job, first, first + job.chunk_frames);
  BlenderJob blender = BatchJob(job, "render-" + std::to_string(chunk));
  blender.args = {"--step",
                  "render",
                  "--job-dir",
                  job.dir,
                  "--start",
                  std::to_string(start),
                  "--end",
                  std::to_string(end)};
  AddProgressArgs(job.options, &blender.args);
  blender.output = job.dir + "/frames";
  blender.output_is_new = false;  // frames land complete or not at all
  RunBlenderScript(blender, reporter);
}

void MergeStep(const FarmJob& job, RunReporter* reporter) {
  reporter->BeginStage("merge", "overlay and encode");
  const FarmStatus status = ReadFarmStatus(job);
  if (status.merged) {
    reporter->Message("done already: " + job.options.output);
    return;
  }
  std::string missing;
  for (size_t c = 0; c < status.chunk_done.size(); ++c) {
    if (status.chunk_done[c]) continue;
    missing += (missing.empty() ? "" : ", ") + std::to_string(c) + " (frames " +
               std::to_string(job.chunks[c].first) + "-" +
               std::to_string(job.chunks[c].second - 1) + ")";
  }
  if (!missing.empty()) {
    throw InputError("job '" + job.dir + "': render chunk " + missing +
                     " not finished; nothing written");
  }
  BlenderJob blender = BatchJob(job, "merge");
  // job.json is the truth: the output named there, not the build's copy.
  blender.args = {
      "--step", "merge", "--job-dir", job.dir, "--output", job.options.output};
  if (job.options.overwrite) blender.args.push_back("--overwrite");
  AddProgressArgs(job.options, &blender.args);
  blender.output = job.options.output;
  blender.output_is_new = !Exists(job.options.output);
  RunBlenderScript(blender, reporter);
  WriteFileAtomic(job.dir + "/merged", job.options.output + "\n", true);
}

}  // namespace

void RunFarmStep(const FarmJob& job,
                 FarmStep step,
                 int64_t chunk,
                 RunReporter* reporter) {
  switch (step) {
    case FarmStep::kTrack:
      return TrackStep(job, reporter);
    case FarmStep::kBuild:
      return BuildStep(job, reporter);
    case FarmStep::kRender:
      return RenderStep(job, chunk, reporter);
    case FarmStep::kMerge:
      return MergeStep(job, reporter);
  }
}

}  // namespace vanelia
