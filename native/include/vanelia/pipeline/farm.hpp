// The farm: a run split into steps that any scheduler can run on any node
// sharing one folder, and the backends that schedule them.
//
// A job is one clip, in a folder on shared storage (SHARED/jobs/NAME/):
//   job.json       the manifest (FarmJob): every path and option, absolute
//   track.json     raw track, aligned.json: the track step's output (or the
//                  given --track, referenced)
//   scene.blend    + scene.json: the build step's scene and what the render
//                  and merge steps need (written by batch.py --step build)
//   frames/        000000.png ...: the render chunks' RGBA frames in output
//                  order, each renamed into place when complete
//   merged         written when the merge step has written the output
//   logs/          the scheduler's logs of every step
// Steps (`vanelia farm step STEP --job DIR`), with their dependencies:
//   track -> build -> render (chunk 0..n-1, in parallel) -> merge.
// Every step skips what is already done (a rerun of a chunk killed mid-way
// renders only its missing frames), so resubmitting a job runs only what is
// missing. The frames are those of the one-machine `vanelia run` with the
// same options (Cycles on the CPU is deterministic), so the merged video is
// the same.
#pragma once

#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace vanelia {

struct FarmJob {
  std::string dir;           // the job folder, absolute
  std::string name;          // its folder name: clip stem + content digest
  PipelineOptions options;   // absolute paths; track = the given one or ""
  std::string vanelia;       // this executable, as nodes run it
  int64_t chunk_frames = 0;  // selected frames per render chunk
  // Decoded [start, end) of each render chunk (with options.every).
  std::vector<std::pair<int64_t, int64_t>> chunks;
  int64_t frames = 0;  // selected frames in all

  std::string AlignedTrack() const;  // the track the build step reads
};

// Makes (or, when DIR/job.json holds the same job, reopens) the job of
// `options.video` under SHARED/jobs/: checks the options as `vanelia run`
// does (the output may not be an input; --overwrite as there), probes the
// clip, resolves Blender and the add-on, cuts the selection into chunks of
// `chunk_frames`. InputError when a job of that name exists with other
// options (it names the differing field).
FarmJob PrepareFarmJob(PipelineOptions options,
                       const std::string& shared,
                       int64_t chunk_frames);

FarmJob ReadFarmJob(const std::string& dir);  // InputError naming job.json

enum class FarmStep { kTrack, kBuild, kRender, kMerge };

FarmStep FarmStepFromName(const std::string& name);  // InputError otherwise
const char* FarmStepName(FarmStep step);

// What is done, from the files (shared storage is the only truth).
struct FarmStatus {
  bool tracked = false;
  bool built = false;
  std::vector<bool> chunk_done;  // per chunk: all its frames exist
  int64_t frames_done = 0;
  bool merged = false;
  // "done", "merging", "rendering", "building", "tracking"
  std::string Summary() const;
};

FarmStatus ReadFarmStatus(const FarmJob& job);

// Runs one step (chunk: for kRender). Skips work already done; a merge with
// a chunk missing throws InputError naming it and writes nothing.
void RunFarmStep(const FarmJob& job,
                 FarmStep step,
                 int64_t chunk,
                 RunReporter* reporter);

// The stage names of a step's reporter.
std::vector<std::string> FarmStepStages(FarmStep step);

}  // namespace vanelia

namespace vanelia {

// How `vanelia farm submit` schedules the steps of its jobs.
struct FarmSchedule {
  std::string backend = "local";  // "local" or "slurm"
  int64_t processes = 1;          // local: steps run at once (-j)
  // slurm: sbatch's executable and extra options for every step
  // (--partition P, ...); each step's log goes to JOB/logs/.
  std::string sbatch = "sbatch";
  std::vector<std::string> sbatch_options;
};

// Submits the steps each job still needs to Slurm as dependent batch jobs
// (track -> build -> an array of the missing render chunks -> merge), using
// `sbatch --parsable --dependency=afterok:ID`. Returns one line per job
// saying what was submitted (job ids), or that it is done. InputError when
// sbatch fails (its message).
std::vector<std::string> SubmitToSlurm(const std::vector<FarmJob>& jobs,
                                       const FarmSchedule& schedule);

// Runs the steps each job still needs on this machine, `processes` at a
// time (children `vanelia farm step ...`, logs in JOB/logs/), in
// dependency order; a failed step skips what depends on it. Reports on
// stderr through `say`. Returns the number of steps that failed; throws
// Cancelled when `stop` turns true (the running steps are stopped).
int64_t RunFarmLocally(const std::vector<FarmJob>& jobs,
                       const FarmSchedule& schedule,
                       const std::function<void(const std::string&)>& say,
                       const std::function<bool()>& stop);

}  // namespace vanelia
