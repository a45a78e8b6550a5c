// `vanelia run VIDEO PRODUCT.glb -o FINAL.mp4 [--track TRACK.json] ...`:
// renders a product into footage with Blender headless and writes the MP4.
//
// A thin caller of the pipeline module (vanelia/pipeline/pipeline.hpp),
// which owns the stages (track or reuse the cached track, align to the
// floor, render in Blender through addon/vanelia_blender/batch.py), the
// run's temporary folder and its progress record. This file turns options
// into PipelineOptions and events into stderr lines: the human display, or
// with `--progress json` one JSON object per line (docs/architecture.md).
//
// Blender: --blender PATH, else $VANELIA_BLENDER, else `blender` on PATH.
// Add-on: $VANELIA_ADDON_DIR (the folder holding vanelia_blender/), else
// <exe>/../share/vanelia/addon (installed), else the source tree this binary
// was built from.
#include "vanelia/core/error.hpp"
#include "vanelia/pipeline/pipeline.hpp"

#include <array>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include "run_options.hpp"

namespace vanelia::cli {

void ReadRenderOptions(const ArgParser& args, PipelineOptions* out) {
  PipelineOptions& options = *out;
  options.samples = args.GetInt("--samples");
  const FrameRange range = FrameRange::FromArgs(args);
  options.start = range.start;
  options.end = range.end;
  options.every = range.every;
  options.camera_height_m = args.GetOptionalDouble("--camera-height");
  if (args.Has("--location")) {
    const std::vector<std::string> values = args.GetAll("--location");
    std::array<double, 3> location{};
    for (size_t i = 0; i < 3; ++i) {
      location[i] = args.ParseDouble("--location", values[i]);
    }
    options.location_m = location;
  }
  options.rotation_z_deg = args.GetDouble("--rotation-z");
  options.height_m = args.GetOptionalDouble("--height");
  options.seed = args.GetInt("--seed");
  options.threads = args.GetInt("--threads");
  if (args.Has("--blender")) options.blender = args.Get("--blender");
  options.codec = FindOutputCodec(args.Get("--codec")).name;
  options.grain = args.Get("--grain");
  options.light = args.Get("--light");
  options.floor_albedo = args.GetDouble("--floor-albedo");
  options.proxies = args.Get("--proxies");
  options.environment = args.Get("--environment");
  options.motion_blur = args.Get("--motion-blur");
  if (args.Has("--sun")) {
    const std::vector<std::string> values = args.GetAll("--sun");
    for (size_t i = 0; i < 2; ++i) {
      options.sun_deg[i] = args.ParseDouble("--sun", values[i]);
    }
  }
}

namespace {

std::string CodecHelp() {
  std::string help = "output codec:";
  for (const OutputCodec& codec : OutputCodecs()) {
    help += std::string(" ") + codec.name + " (" + codec.summary + ", " +
            codec.extension + ");";
  }
  help +=
      " the output's extension must be the codec's; the 10-bit ones carry "
      "the plate's colour tags";
  return help;
}

}  // namespace

void AddRenderOptions(ArgParser* args) {
  args->AddOption("--samples",
                  "N",
                  "Cycles samples per pixel (the default: noise <= 2/255 RMS)",
                  "256");
  args->AddFrameRangeOptions();
  args->AddOption("--camera-height",
                  "M",
                  "height of the first camera above the floor, metres (sets "
                  "the scale; default 1.5 when VIDEO is tracked here, the "
                  "track's own scale with --track)");
  args->AddOption("--location",
                  "X Y Z",
                  "product floor point in metres (default: chosen "
                  "automatically: in frame, clear of the scene, large "
                  "enough, facing the cameras; see docs/run.md)",
                  "",
                  3);
  args->AddOption(
      "--rotation-z",
      "DEG",
      "turn the product about Z, degrees (added to the automatic heading)",
      "0");
  args->AddOption("--height",
                  "M",
                  "scale the product to this height, metres (default: "
                  "its real size)");
  args->AddOption("--seed", "N", "Cycles noise seed", "0");
  args->AddOption("--threads", "N", "render threads (0 = all cores)", "0");
  args->AddOption("--blender",
                  "PATH",
                  "Blender executable (default: $VANELIA_BLENDER, then PATH)");
  args->AddOption("--codec", "NAME", CodecHelp(), "h264");
  args->AddOption("--grain",
                  "MODE",
                  "auto: the plate's noise is measured and the same added to "
                  "the product and its shadow (not in --preview, not in the "
                  "passes); off: none",
                  "auto");
  args->AddOption("--motion-blur",
                  "MODE",
                  "auto: the plate's shutter estimated from the blur of its "
                  "fast frames (0.5 frame, 180 deg, when it cannot be "
                  "measured) and Cycles blurs the product with the camera's "
                  "motion over it; off: a sharp product; a number: the "
                  "shutter in frames (0 < s <= 1); never in --preview",
                  "auto");
  args->AddOption("--light",
                  "MODE",
                  "auto: the sun's direction, strength and the ambient "
                  "light estimated from the shadows the footage's objects "
                  "cast (a soft top-down light when it shows none); fixed: "
                  "the sun of --sun",
                  "auto");
  args->AddOption("--floor-albedo",
                  "A",
                  "with --light auto: the floor's (neutral) albedo, 0 < A "
                  "<= 1; the plate's floor colour over it sets the level and "
                  "colour of the product's light, so the product takes the "
                  "plate's exposure and white balance",
                  "0.35");
  args->AddOption("--proxies",
                  "MODE",
                  "auto: boxes of the real objects built from the track's "
                  "points hide the product where an object stands in front "
                  "of it and catch its shadow; off: none",
                  "auto");
  args->AddOption("--environment",
                  "MODE",
                  "auto: the plate's frames around the product light it and "
                  "show in its reflections (the light's frames); off: none",
                  "auto");
  args->AddOption("--sun",
                  "AZ EL",
                  "the sun of --light fixed (and when no estimate can be "
                  "made): azimuth from +X towards +Y, elevation, degrees "
                  "(default -60 50)",
                  "",
                  2);
}

void AddPassesOptions(ArgParser* args, const std::string& where) {
  args->AddOption("--passes",
                  "DIR",
                  "also write the compositor's passes as per-frame image "
                  "sequences in " +
                      where +
                      ": product/ (RGBA, no shadow), shadow/ (the plate's "
                      "multiplier), holdout/ (mask), plate/, composite/ "
                      "(plate x shadow + product over); numbered by Blender "
                      "frame (decoded index + 1); renders whole frames");
  args->AddOption("--passes-format",
                  "FMT",
                  "exr (OpenEXR half float, ZIP, scene-linear) or png16 "
                  "(16-bit PNG; images sRGB, shadow and holdout as data)",
                  "exr");
}

void ReadPassesOptions(const ArgParser& args,
                       const std::string& passes,
                       PipelineOptions* options) {
  options->passes = passes;
  options->passes_format = args.Get("--passes-format");
}

namespace {

void AddRunOptions(ArgParser* args) {
  args->AddPositional("VIDEO", "the footage");
  args->AddPositional("PRODUCT", "the product, binary glTF 2.0 (.glb)");
  args->AddOutputOptions("final video (.mp4; .mov for --codec prores/dnxhr)");
  args->AddOption("--track",
                  "PATH",
                  "track file of VIDEO (default: track it first with the "
                  "default tracker; the raw track is cached)");
  args->AddOption("--mask",
                  "PATH",
                  "keep moving things out of the tracking: a folder of "
                  "images (the n-th for frame n), a video, or one image for "
                  "every frame, of the clip's size as displayed; white = "
                  "ignore (not with --track)");
  AddRenderOptions(args);
  args->AddFlag("--preview",
                "a quick look at placement and light: half size, at most " +
                    std::to_string(kPreviewSamples) +
                    " samples, shorter light paths; writes a normal playable "
                    "H.264 MP4 at half the source's width and height");
  AddPassesOptions(args, "DIR");
  args->AddFlag("--keep-blend", "also save the scene as FINAL.blend");
  args->AddOption("--keep-frames",
                  "DIR",
                  "keep the rendered RGBA frames (000000.png, ... in output "
                  "order: the product and its shadow over transparency) in "
                  "DIR");
  args->AddOption("--progress",
                  "FORMAT",
                  "human (stage lines, progress with ETA) or json (one JSON "
                  "object per line on stderr, for programs)",
                  "human");
  args->SetEpilog(
      "Stages: track (or reuse the cached track), align to the floor, render\n"
      "in Blender; with --track only the render. Only the region where the\n"
      "product and its shadow can appear is rendered; the rest of each frame\n"
      "is the source, re-encoded (with --codec, to a 10-bit intermediate\n"
      "tagged with the source's colour primaries, transfer, matrix and\n"
      "range).\n"
      "Exit codes: 0 done, 2 bad input (nothing written), 1 internal error,\n"
      "130 interrupted (Ctrl-C or SIGTERM: Blender is stopped, nothing is\n"
      "written).");
}

PipelineOptions PipelineOptionsFromArgs(const ArgParser& args) {
  if (!args.Has("--output")) {
    throw UsageError("vanelia run: -o/--output FINAL.mp4 is required");
  }
  PipelineOptions options;
  options.video = args.Get("VIDEO");
  options.product = args.Get("PRODUCT");
  options.output = args.Get("--output");
  if (args.Has("--track")) options.track = args.Get("--track");
  if (args.Has("--mask")) options.mask = args.Get("--mask");
  ReadRenderOptions(args, &options);
  options.preview = args.Flag("--preview");
  options.keep_blend = args.Flag("--keep-blend");
  if (args.Has("--keep-frames"))
    options.keep_frames = args.Get("--keep-frames");
  ReadPassesOptions(
      args, args.Has("--passes") ? args.Get("--passes") : "", &options);
  options.overwrite = args.Flag("--overwrite");
  options.quiet = args.Flag("--quiet");
  options.progress =
      ProgressFormatFromName(args.Get("--progress"), "--progress");
  return options;
}

}  // namespace

int RunRun(const Args& argv) {
  ArgParser args("vanelia run",
                 "render PRODUCT.glb into VIDEO with Blender headless and "
                 "write an H.264 MP4 or a 10-bit intermediate (source size, "
                 "rate, frames and audio)");
  AddRunOptions(&args);
  if (!args.Parse(argv)) return 0;
  const PipelineOptions options = PipelineOptionsFromArgs(args);
  RunReporter reporter(StderrRunSink(options.progress, options.quiet),
                       PipelineStages(options),
                       Interrupted);
  try {
    RunPipeline(options, &reporter);
  } catch (const Error& error) {
    // Programs reading --progress json learn the outcome from the stream;
    // the error line and exit code follow as for every subcommand.
    const bool input = dynamic_cast<const InputError*>(&error) != nullptr ||
                       dynamic_cast<const ModelError*>(&error) != nullptr;
    const bool cancelled = dynamic_cast<const Cancelled*>(&error) != nullptr;
    if (options.progress == ProgressFormat::kJson) {
      reporter.Fail(error.what(), cancelled ? 130 : input ? 2 : 1);
    }
    throw;
  }
  return 0;
}

}  // namespace vanelia::cli
