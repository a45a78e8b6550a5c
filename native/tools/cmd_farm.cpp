// `vanelia farm submit|status|step`: many clips on a render farm. A thin
// caller of the pipeline module's farm (vanelia/pipeline/farm.hpp): submit
// makes each clip's job folder on shared storage and schedules its missing
// steps on Slurm (sbatch) or on local processes; status reads the job
// folders; step is what the scheduler runs on a node.
#include "vanelia/core/error.hpp"
#include "vanelia/pipeline/farm.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "run_options.hpp"

namespace vanelia::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultShared = "vanelia-farm";

void Say(bool quiet, const std::string& text) {
  if (!quiet) std::fprintf(stderr, "vanelia: farm: %s\n", text.c_str());
}

std::vector<std::string> SplitOptions(const std::string& text) {
  std::vector<std::string> options;
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t space = text.find(' ', begin);
    const size_t end = space == std::string::npos ? text.size() : space;
    if (end > begin) options.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return options;
}

void AddSubmitOptions(ArgParser* args) {
  args->AddPositional("CLIP...", "the clips (each becomes one job)");
  args->AddOption("--product", "PATH", "the product, binary glTF (.glb)");
  args->AddOption("--backend",
                  "B",
                  "slurm (sbatch: track -> build -> render array -> merge "
                  "as dependent jobs) or local (processes on this machine)",
                  "local");
  args->AddOption("--shared",
                  "DIR",
                  "folder every node sees: jobs/, cache/, out/",
                  kDefaultShared);
  args->AddOption("--output-dir",
                  "DIR",
                  "where the final videos go (default: SHARED/out), named "
                  "after the clips (.mp4; .mov for --codec prores/dnxhr)");
  args->AddOption("--chunk", "N", "frames per render chunk", "24");
  args->AddOption("-j", "N", "local: steps at once", "1");
  args->AddOption("--partition", "P", "slurm: the partition to use");
  args->AddOption("--sbatch", "PATH", "slurm: sbatch executable", "sbatch");
  args->AddOption("--sbatch-options",
                  "'OPT ...'",
                  "slurm: more sbatch options for every step, space "
                  "separated (e.g. '--cpus-per-task=8 --mem=8G')");
  args->AddOption("--track",
                  "PATH",
                  "track file of the clip (one clip only; default: track "
                  "it in the track step, cached under SHARED/cache)");
  AddRenderOptions(args);
  AddPassesOptions(
      args, "DIR/<clip name> (the clip's file name without its extension)");
  args->AddFlag("--overwrite", "replace final videos that exist");
  args->AddFlag("--quiet", "no progress on stderr");
  args->SetEpilog(
      "Each clip's job lives in SHARED/jobs/NAME (NAME = clip name + content\n"
      "digest). A step already done is skipped, so running submit again\n"
      "schedules only what is missing (a failed or cancelled chunk).\n"
      "Nodes need the same paths: vanelia, Blender and the add-on where\n"
      "submit found them, and SHARED mounted at the same place.\n"
      "Exit codes: 0 submitted (slurm) or done (local), 1 a step failed\n"
      "(local; its log named), 2 bad input, 130 interrupted.");
}

int Submit(const Args& argv) {
  ArgParser args("vanelia farm submit",
                 "render PRODUCT into many clips on a farm");
  AddSubmitOptions(&args);
  if (!args.Parse(argv)) return 0;
  if (!args.Has("--product")) {
    throw UsageError("vanelia farm submit: --product PRODUCT.glb is required");
  }
  const std::vector<std::string> clips = args.GetAll("CLIP...");
  if (args.Has("--track") && clips.size() != 1) {
    throw UsageError("--track: only with one clip");
  }
  const std::string backend = args.Get("--backend");
  if (backend != "slurm" && backend != "local") {
    throw UsageError("--backend " + backend + ": must be slurm or local");
  }
  const std::string shared = args.Get("--shared");
  const std::string out_dir =
      args.Has("--output-dir") ? args.Get("--output-dir") : shared + "/out";
  std::error_code error;
  fs::create_directories(out_dir, error);
  // Each clip's passes go to DIR/<clip name>: DIR is made here, as the
  // output folder is.
  if (args.Has("--passes")) fs::create_directories(args.Get("--passes"), error);
  const bool quiet = args.Flag("--quiet");
  std::vector<FarmJob> jobs;
  for (const std::string& clip : clips) {
    PipelineOptions options;
    ReadRenderOptions(args, &options);
    options.video = clip;
    options.product = args.Get("--product");
    if (args.Has("--track")) options.track = args.Get("--track");
    const std::string stem = fs::path(clip).stem().string();
    options.output =
        out_dir + "/" + stem + FindOutputCodec(options.codec).extension;
    ReadPassesOptions(
        args,
        args.Has("--passes") ? args.Get("--passes") + "/" + stem : "",
        &options);
    options.overwrite = args.Flag("--overwrite");
    options.quiet = true;
    jobs.push_back(PrepareFarmJob(options, shared, args.GetInt("--chunk")));
    Say(quiet,
        "job " + jobs.back().dir + ": " + std::to_string(jobs.back().frames) +
            " frames in " + std::to_string(jobs.back().chunks.size()) +
            " chunks -> " + jobs.back().options.output);
  }
  FarmSchedule schedule;
  schedule.backend = backend;
  schedule.processes = args.GetInt("-j");
  if (schedule.processes < 1) throw UsageError("-j: must be >= 1");
  schedule.sbatch = args.Get("--sbatch");
  if (args.Has("--partition")) {
    schedule.sbatch_options.push_back("--partition=" + args.Get("--partition"));
  }
  if (args.Has("--sbatch-options")) {
    for (const std::string& option :
         SplitOptions(args.Get("--sbatch-options"))) {
      schedule.sbatch_options.push_back(option);
    }
  }
  if (backend == "slurm") {
    for (const std::string& line : SubmitToSlurm(jobs, schedule)) {
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  InstallInterruptHandler();
  const int64_t failed = RunFarmLocally(
      jobs,
      schedule,
      [quiet](const std::string& text) { Say(quiet, text); },
      Interrupted);
  for (const FarmJob& job : jobs) {
    std::printf(
        "%s: %s\n", job.name.c_str(), ReadFarmStatus(job).Summary().c_str());
  }
  return failed == 0 ? 0 : 1;
}

int Status(const Args& argv) {
  ArgParser args("vanelia farm status",
                 "what each job under SHARED/jobs has done, from its files");
  args.AddOption(
      "--job", "DIR", "one job folder (default: every job of --shared)");
  args.AddOption("--shared", "DIR", "the farm's shared folder", kDefaultShared);
  if (!args.Parse(argv)) return 0;
  std::vector<std::string> dirs;
  if (args.Has("--job")) dirs.push_back(args.Get("--job"));
  if (dirs.empty()) {
    std::error_code error;
    for (const auto& entry :
         fs::directory_iterator(args.Get("--shared") + "/jobs", error)) {
      if (fs::exists(entry.path() / "job.json")) {
        dirs.push_back(entry.path().string());
      }
    }
    std::sort(dirs.begin(), dirs.end());
    if (dirs.empty()) {
      throw InputError("--shared '" + args.Get("--shared") +
                       "': no jobs under its jobs/ folder");
    }
  }
  for (const std::string& dir : dirs) {
    const FarmJob job = ReadFarmJob(dir);
    const FarmStatus status = ReadFarmStatus(job);
    std::string missing;
    for (size_t c = 0; c < status.chunk_done.size(); ++c) {
      if (!status.chunk_done[c]) missing += " " + std::to_string(c);
    }
    std::printf("%s: %s; track %s, scene %s, frames %lld/%lld%s%s\n",
                job.name.c_str(),
                status.Summary().c_str(),
                status.tracked ? "done" : "missing",
                status.built ? "done" : "missing",
                static_cast<long long>(status.frames_done),
                static_cast<long long>(job.frames),
                missing.empty() ? "" : ", chunks to render:",
                missing.c_str());
  }
  return 0;
}

int Step(const Args& argv) {
  ArgParser args("vanelia farm step",
                 "run one step of a farm job (what the scheduler runs)");
  args.AddPositional("STEP", "track, build, render or merge");
  args.AddOption("--job", "DIR", "the job folder (SHARED/jobs/NAME)");
  args.AddOption("--chunk", "K", "render: the chunk, 0 to chunks - 1");
  args.AddOption("--progress", "FORMAT", "human or json", "human");
  args.AddFlag("--quiet", "no progress on stderr");
  if (!args.Parse(argv)) return 0;
  if (!args.Has("--job"))
    throw UsageError("vanelia farm step: --job is required");
  const FarmStep step = FarmStepFromName(args.Get("STEP"));
  if ((step == FarmStep::kRender) != args.Has("--chunk")) {
    throw UsageError("--chunk: given with the render step, and only there");
  }
  FarmJob job = ReadFarmJob(args.Get("--job"));
  job.options.progress =
      ProgressFormatFromName(args.Get("--progress"), "--progress");
  job.options.quiet = args.Flag("--quiet");
  InstallInterruptHandler();
  RunReporter reporter(StderrRunSink(job.options.progress, job.options.quiet),
                       FarmStepStages(step),
                       Interrupted);
  RunFarmStep(job,
              step,
              step == FarmStep::kRender ? args.GetInt("--chunk") : -1,
              &reporter);
  reporter.Done(job.dir);
  return 0;
}

}  // namespace

int RunFarm(const Args& argv) {
  const std::string usage =
      "usage: vanelia farm submit|status|step ... (--help after each)\n"
      "  submit  make a job per clip and schedule it (Slurm or local)\n"
      "  status  what each job has done\n"
      "  step    run one step of a job (what the scheduler runs)\n";
  if (argv.empty() || argv[0] == "-h" || argv[0] == "--help") {
    std::fputs(usage.c_str(), argv.empty() ? stderr : stdout);
    return argv.empty() ? 2 : 0;
  }
  const Args rest(argv.begin() + 1, argv.end());
  if (argv[0] == "submit") return Submit(rest);
  if (argv[0] == "status") return Status(rest);
  if (argv[0] == "step") return Step(rest);
  throw UsageError("vanelia farm: unknown command '" + argv[0] + "'\n" + usage);
}

}  // namespace vanelia::cli
