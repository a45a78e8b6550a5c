// `vanelia track VIDEO -o TRACK.json`: solves the camera of a video with a
// tracker (the weights-free classical one by default) and writes a track
// file. The pipeline's track stage (TrackFrames) decodes and tracks; progress
// with ETA goes to stderr; a summary (DescribeTrack) closes the run. Bad
// input exits with code 2 and leaves no track file behind (the file is
// written atomically, only after a successful solve).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/pipeline/run_events.hpp"
#include "vanelia/pipeline/track_stage.hpp"
#include "vanelia/track/tracker.hpp"
#include "vanelia/track/tracker_factory.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "commands.hpp"
#ifdef VANELIA_HAVE_FLOOR
#include "vanelia/floor/alignment.hpp"
#include "vanelia/pipeline/light_stage.hpp"

#include "align_options.hpp"
#endif

namespace vanelia::cli {
namespace {

// The focal in pixels of the upright source frame, from --focal-px or
// --focal-mm with --sensor-mm (horizontal sensor width), checked against the
// frame width: 0.05 x width (a 1.8 mm lens on full frame) to 20 x width.
std::optional<double> ParseFocal(const ArgParser& args, int width) {
  std::optional<double> focal;
  const bool px = args.Has("--focal-px");
  const bool mm = args.Has("--focal-mm");
  if (px && mm) {
    throw UsageError("--focal-px and --focal-mm: give one of them, not both");
  }
  if (args.Has("--sensor-mm") && !mm) {
    throw UsageError("--sensor-mm needs --focal-mm");
  }
  if (px) {
    focal = args.GetDouble("--focal-px");
  } else if (mm) {
    if (!args.Has("--sensor-mm")) {
      throw UsageError(
          "--focal-mm needs --sensor-mm (the sensor width in mm, e.g. 36)");
    }
    const double f_mm = args.GetDouble("--focal-mm");
    const double sensor_mm = args.GetDouble("--sensor-mm");
    if (!(std::isfinite(sensor_mm) && sensor_mm > 0.0)) {
      throw UsageError("--sensor-mm " + args.Get("--sensor-mm") +
                       ": must be > 0");
    }
    if (!(std::isfinite(f_mm) && f_mm > 0.0)) {
      throw UsageError("--focal-mm " + args.Get("--focal-mm") +
                       ": must be > 0");
    }
    focal = f_mm / sensor_mm * width;
  }
  if (focal && !(std::isfinite(*focal) && *focal >= 0.05 * width &&
                 *focal <= 20.0 * width)) {
    std::ostringstream msg;
    msg << (px ? "--focal-px " : "--focal-mm ")
        << args.Get(px ? "--focal-px" : "--focal-mm") << ": gives a focal of "
        << *focal << " px for a " << width
        << " px wide frame; must be between 0.05 and 20 times the width";
    throw UsageError(msg.str());
  }
  return focal;
}

std::string TrackerNames() {
  std::string names;
  for (const std::string& name : AvailableTrackers()) names += " " + name;
  return names;
}

void AddNetworkOptions(ArgParser* args) {
  args->AddOption("--dtype",
                  "T",
                  "MUSt3R decoder precision: fp32, bf16 or fp16 (CUDA)",
                  "fp32");
  args->AddOption("--weights",
                  "CKPT",
                  "network checkpoint (.pth) for --tracker must3r or dust3r");
  args->AddOption(
      "--image-size",
      "N",
      "network resolution: 512, 224 or 0 = the weights' own (networks)",
      "512");
  args->AddOption("--device",
                  "D",
                  "auto (CUDA when present), cpu or cuda (networks)",
                  "auto");
  args->AddOption("--local-context",
                  "N",
                  "frames in MUSt3R's working window (default: 25; 0 with "
                  "--keyframe-rule overlap, as upstream's SLAM mode)");
  args->AddOption(
      "--max-keyframes", "N", "MUSt3R memory bound in keyframes", "300");
  args->AddOption("--keyframe-rule",
                  "R",
                  "how later frames become MUSt3R keyframes: every (each "
                  "--keyframe-every-th frame) or overlap (upstream's SLAM "
                  "mode: when the frame's points are far from the keyframes' "
                  "points, relative to their depth)",
                  "every");
  args->AddOption("--keyframe-every",
                  "N",
                  "a MUSt3R keyframe every N frames (rule every; default: 3)");
  args->AddOption("--overlap-threshold",
                  "X",
                  "rule overlap: a keyframe when the score (a percentile of "
                  "the frame's nearest-keyframe-point distances divided by "
                  "depth) is above X (default: 0.05, upstream's)");
  args->AddOption("--overlap-percentile",
                  "P",
                  "rule overlap: percentile of the distances, 0..100 "
                  "(default: 85)");
  args->AddOption("--overlap-subsample",
                  "N",
                  "rule overlap: score every N-th pixel in x and y "
                  "(default: 2)");
  args->AddOption("--overlap-min-conf",
                  "C",
                  "rule overlap: only points with MUSt3R confidence above C "
                  "(default: 1.5)");
  args->AddOption(
      "--init-frames", "N", "frames of MUSt3R's first memory batch", "8");
  args->AddOption(
      "--batch-frames", "N", "frames per later MUSt3R decoder call", "4");
  args->AddOption("--scene-graph",
                  "G",
                  "DUSt3R pairs: swin (sliding window, not closed into a "
                  "loop), logwin (i +- 2^k) or oneref (every frame with one "
                  "reference) (default: swin)");
  args->AddOption("--pair-window",
                  "N",
                  "DUSt3R window of swin/logwin, or oneref's reference frame "
                  "(default: 3; oneref: 0)");
  args->AddOption("--align-iterations",
                  "N",
                  "DUSt3R global alignment steps (default: 300)");
  args->AddOption("--align-window",
                  "N",
                  "DUSt3R frames aligned at once; longer clips are aligned in "
                  "overlapping windows registered into one world, so memory "
                  "stays bounded (0 = the whole clip; default: 64)");
  args->AddOption("--align-overlap",
                  "N",
                  "DUSt3R frames shared by consecutive alignment windows "
                  "(default: 8)");
}

// The DUSt3R settings of the flags (ChoiceFromArgs checked the tracker).
void Dust3rFromArgs(const ArgParser& args, TrackerChoice* choice) {
  if (!args.Has("--weights")) {
    throw UsageError(
        "--tracker dust3r needs --weights CKPT (e.g. "
        "DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth, from naver/dust3r)");
  }
  for (const char* flag : {"--local-context",
                           "--keyframe-every",
                           "--overlap-threshold",
                           "--overlap-percentile",
                           "--overlap-subsample",
                           "--overlap-min-conf"}) {
    if (args.Has(flag)) {
      throw UsageError(std::string(flag) + ": only used with --tracker must3r");
    }
  }
  Dust3rTrackerOptions& d = choice->dust3r;
  d.weights = args.Get("--weights");
  d.image_size = static_cast<int>(args.GetInt("--image-size"));
  d.device = args.Get("--device");
  d.dtype = args.Get("--dtype");
  if (args.Has("--scene-graph")) d.scene_graph = args.Get("--scene-graph");
  d.pair_window = args.Has("--pair-window")
                      ? static_cast<int>(args.GetInt("--pair-window"))
                      : (d.scene_graph == "oneref" ? 0 : 3);
  if (args.Has("--align-iterations")) {
    d.align_iterations = static_cast<int>(args.GetInt("--align-iterations"));
  }
  if (args.Has("--align-window")) {
    d.align_window = static_cast<int>(args.GetInt("--align-window"));
  }
  if (args.Has("--align-overlap")) {
    d.align_overlap = static_cast<int>(args.GetInt("--align-overlap"));
  }
}

// The tracker the options name (tracker_factory.hpp does the checks the
// Python binding shares; the two below name the CLI's flags).
TrackerChoice ChoiceFromArgs(const ArgParser& args,
                             const TrackerOptions& common) {
  TrackerChoice choice;
  choice.name = args.Get("--tracker");
  choice.common = common;
  const bool network = choice.name == "must3r" || choice.name == "dust3r";
  // A build without the networks says so before asking for their flags.
  if (!HasTracker(choice.name)) CheckTrackerChoice(choice);
  if (!network && args.Has("--weights")) {
    throw UsageError("--weights: only used with --tracker must3r or dust3r");
  }
  if (choice.name == "must3r" && HasTracker("must3r") &&
      !args.Has("--weights")) {
    throw UsageError(
        "--tracker must3r needs --weights CKPT (MUSt3R_512.pth or "
        "MUSt3R_224_cvpr.pth, downloaded from naver/must3r)");
  }
  if (choice.name == "dust3r" && HasTracker("dust3r")) {
    Dust3rFromArgs(args, &choice);
    return choice;
  }
  for (const char* flag : {"--scene-graph",
                           "--pair-window",
                           "--align-iterations",
                           "--align-window",
                           "--align-overlap"}) {
    if (args.Has(flag)) {
      throw UsageError(std::string(flag) + ": only used with --tracker dust3r");
    }
  }
  if (choice.name == "must3r") {
    Must3rTrackerOptions& m = choice.must3r;
    m.weights = args.Get("--weights");
    m.image_size = static_cast<int>(args.GetInt("--image-size"));
    m.device = args.Get("--device");
    m.dtype = args.Get("--dtype");
    m.max_keyframes = static_cast<int>(args.GetInt("--max-keyframes"));
    m.keyframe_rule = args.Get("--keyframe-rule");
    const bool overlap = m.keyframe_rule == "overlap";
    if (m.keyframe_rule != "every" && !overlap) {
      throw UsageError("--keyframe-rule " + m.keyframe_rule +
                       ": must be every or overlap");
    }
    m.local_context = args.Has("--local-context")
                          ? static_cast<int>(args.GetInt("--local-context"))
                          : DefaultLocalContext(m.keyframe_rule);
    if (args.Has("--keyframe-every")) {
      if (overlap) {
        throw UsageError(
            "--keyframe-every: only used with --keyframe-rule every");
      }
      m.keyframe_every = static_cast<int>(args.GetInt("--keyframe-every"));
    }
    for (const char* flag : {"--overlap-threshold",
                             "--overlap-percentile",
                             "--overlap-subsample",
                             "--overlap-min-conf"}) {
      if (args.Has(flag) && !overlap) {
        throw UsageError(std::string(flag) +
                         ": only used with --keyframe-rule overlap");
      }
    }
    if (args.Has("--overlap-threshold")) {
      m.overlap_threshold = args.GetDouble("--overlap-threshold");
    }
    if (args.Has("--overlap-percentile")) {
      m.overlap_percentile = args.GetDouble("--overlap-percentile");
    }
    if (args.Has("--overlap-subsample")) {
      m.overlap_subsample =
          static_cast<int>(args.GetInt("--overlap-subsample"));
    }
    if (args.Has("--overlap-min-conf")) {
      m.overlap_min_conf = args.GetDouble("--overlap-min-conf");
    }
    m.init_frames = static_cast<int>(args.GetInt("--init-frames"));
    m.batch_frames = static_cast<int>(args.GetInt("--batch-frames"));
  }
  return choice;
}

void AddTrackOptions(ArgParser* parser) {
  ArgParser& args = *parser;
  args.AddPositional("VIDEO", "input video (or image sequence)");
  args.AddOutputOptions("track file (.json)");
  args.AddFrameRangeOptions();
  args.AddOption(
      "--tracker",
      "NAME",
      "tracker:" + TrackerNames() +
          (HasTracker("classical") ? " (classical needs no weights)" : ""),
      AvailableTrackers().front());
  args.AddOption(
      "--focal-px", "F", "known focal length in pixels of the source frame");
  args.AddOption(
      "--focal-mm", "F", "known focal length in mm (needs --sensor-mm)");
  args.AddOption("--sensor-mm", "S", "sensor width in mm, for --focal-mm");
  args.AddOption("--lens",
                 "MODEL",
                 "lens distortion: none, radial (k1 k2), auto (radial "
                 "only when it clearly lowers the error)",
                 "auto");
  args.AddFlag("--per-frame-focal", "solve one focal per frame (zoom shots)");
  args.AddOption("--mask",
                 "PATH",
                 "keep moving things out of the solve: a folder of images "
                 "(the n-th for frame n), a video, or one image for every "
                 "frame, of the clip's size as displayed; white = ignore "
                 "(classical tracker)");
  args.AddFlag("--no-align", "keep the tracker's raw world (world \"track\")");
  args.AddOption("--progress",
                 "FORMAT",
                 "human (progress with ETA) or json (one JSON object per "
                 "line on stderr, as `vanelia run --progress json`)",
                 "human");
  AddNetworkOptions(&args);
#ifdef VANELIA_HAVE_FLOOR
  AddAlignmentOptions(&args);
  args.AddFlag("--light",
               "also estimate the key light from the aligned track (the "
               "sun from the shadows, the ambient and the plate's light "
               "level and colour, as `vanelia run --light auto`) and print "
               "it in the summary");
#endif
  args.SetEpilog(
      "Without a focal option the focal is solved from the footage. Frames\n"
      "that cannot be registered are left out and listed in the summary.");
}

}  // namespace

// The tracking and the track file; progress to `reporter` (--progress json)
// or, when null, the human display.
int TrackWithProgress(const ArgParser& args,
                      VideoReader* reader,
                      const ReadOptions& read,
                      const TrackerChoice& choice,
                      RunReporter* reporter);

int RunTrack(const Args& argv) {
  ArgParser args("vanelia track",
                 "Solve the camera of a video and write a track file.");
  AddTrackOptions(&args);
  if (!args.Parse(argv)) return 0;
  const std::string video = args.Get("VIDEO");
  const std::string output = args.Get("--output");
  const bool overwrite = args.Flag("--overwrite");
  const bool quiet = args.Flag("--quiet");
  CheckCanWrite(output,
                overwrite,
                "track",
                {video, args.Has("--weights") ? args.Get("--weights") : ""});
  const FrameRange range = FrameRange::FromArgs(args);
#ifdef VANELIA_HAVE_FLOOR
  if (!args.Flag("--no-align")) CheckAlignmentArgs(args);  // before the work
#endif
  TrackerOptions common;
  common.lens = LensModeFromName(args.Get("--lens"), "--lens");
  common.per_frame_focal = args.Flag("--per-frame-focal");

  ReadOptions read;
  read.start = range.start;
  read.end = range.end;
  read.every = range.every;
  auto reader = VideoReader::Open(video, read);
  common.focal_px = ParseFocal(args, reader->Info().width);
  TrackerChoice choice = ChoiceFromArgs(args, common);
  if (args.Has("--mask")) choice.mask = args.Get("--mask");
  CheckTrackerChoice(choice);      // option errors name the option, not VIDEO
  OpenClipMasks(choice, *reader);  // ... and mask errors the mask
  InstallInterruptHandler();
  const bool json =
      ProgressFormatFromName(args.Get("--progress"), "--progress") ==
      ProgressFormat::kJson;
  if (!json)
    return TrackWithProgress(args, reader.get(), read, choice, nullptr);
  // --progress json: the events of docs/architecture.md on stderr, the
  // outcome (done or error with its exit code) among them.
  RunReporter reporter(
      StderrRunSink(ProgressFormat::kJson, quiet), {"track"}, Interrupted);
  reporter.BeginStage("track", "tracking the camera");
  try {
    TrackWithProgress(args, reader.get(), read, choice, &reporter);
  } catch (const Error& error) {
    const bool input = dynamic_cast<const InputError*>(&error) != nullptr ||
                       dynamic_cast<const ModelError*>(&error) != nullptr;
    const bool cancelled = dynamic_cast<const Cancelled*>(&error) != nullptr;
    reporter.Fail(error.what(), cancelled ? 130 : input ? 2 : 1);
    throw;
  }
  reporter.Done(output);
  return 0;
}

int TrackWithProgress(const ArgParser& args,
                      VideoReader* reader,
                      const ReadOptions& read,
                      const TrackerChoice& choice,
                      RunReporter* reporter) {
  const std::string video = args.Get("VIDEO");
  const std::string output = args.Get("--output");
  const bool overwrite = args.Flag("--overwrite");
  const bool quiet = args.Flag("--quiet") || reporter != nullptr;
  ProgressReporter timer("total", 0, nullptr);
  TrackFile file;
  try {
    file =
        TrackFrames(reader,
                    video,
                    read,
                    choice,
                    reporter ? reporter->StageProgress() : CliProgress(quiet));
  } catch (const DecodeError&) {
    throw;
  } catch (const Cancelled&) {
    throw;
  } catch (const InputError& error) {
    throw InputError("VIDEO '" + video + "': " + error.what());
  }
  std::string alignment_text;
  if (!args.Flag("--no-align")) {
    // Floor at z = 0, Z up, metres (the floor module, issue 6).
#ifdef VANELIA_HAVE_FLOOR
    // A plain floor's height is swept from the clip's frames (issue 17).
    const Alignment alignment = AlignTrackFileWithFrames(
        AlignmentOptionsFromArgs(args, file), video, &file);
    alignment_text = DescribeAlignment(alignment, file);
#else
    file.summary.warnings.push_back(
        "not aligned: this build has no floor module; world \"track\"");
#endif
  }
  WriteTrackFile(output, file, overwrite);
  std::string light_text;
#ifdef VANELIA_HAVE_FLOOR
  if (args.Flag("--light") && !quiet) {  // only printed
    if (file.world != TrackWorld::kBlender) {
      light_text =
          "  light               not estimated: the track is not "
          "aligned to the floor";
    } else {
      light_text =
          "  light               " +
          DescribeLight(EstimateTrackLight(video, output, LightStageOptions()));
    }
  }
#endif
  if (!quiet) {
    std::fputs(DescribeTrack(output, file, timer.ElapsedSeconds()).c_str(),
               stderr);
    if (!alignment_text.empty()) {
      std::fprintf(stderr, "%s\n", alignment_text.c_str());
    }
    if (!light_text.empty()) std::fprintf(stderr, "%s\n", light_text.c_str());
  }
  return 0;
}

}  // namespace vanelia::cli
