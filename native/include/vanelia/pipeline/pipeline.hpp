// The pipeline: footage -> track -> floor -> scene -> render -> final.mp4,
// in one place.
//
// RunPipeline owns the order of the stages, the track cache, the temporary
// folder of a run and the run's progress record:
//   probe   the video is opened (a file that does not decode stops here,
//           before anything is written; no stage line);
//   track   (without options.track) decode + track with the default tracker,
//           or reuse the cached raw track (track_stage.hpp, TrackCache);
//   align   the raw track put on the floor (z = 0, Z up, metres from the
//           camera height; floor/alignment.hpp);
//   render  Blender headless runs addon/vanelia_blender/batch.py: build the
//           scene, render the product's region, overlay it on the plate and
//           encode the output (options.codec: H.264 MP4, or a 10-bit
//           intermediate a compositor can finish) with the source's audio
//           (blender_stage.hpp).
// `vanelia run` is a thin caller (native/tools/cmd_run.cpp), and so is the
// Python module's `run(video, product, output, **options)`.
#pragma once

#include "vanelia/pipeline/run_events.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vanelia {

struct PipelineOptions {
  std::string video;    // the footage (any clip FFmpeg reads)
  std::string product;  // the product, binary glTF 2.0 (.glb)
  std::string output;   // the final video (.mp4, or .mov for ProRes/DNxHR)
  // A track file of `video` (world "blender" or "track"); empty = track the
  // clip first with the default tracker (cached).
  std::string track;
  // Ignore masks for the tracking (TrackerChoice::mask: images, a video or
  // one image, white = moving things kept out of the solve); empty = none.
  // Not with `track`.
  std::string mask;
  int64_t samples = 256;  // Cycles samples per pixel (>= 1)
  int64_t start = 0;      // first decoded frame, inclusive (>= 0)
  int64_t end = -1;       // end frame, exclusive; -1 = to the end
  int64_t every = 1;      // render every K-th frame (>= 1)
  // Height of the first camera above the floor, metres (> 0): the scale.
  // Unset: 1.5 when the clip is tracked here, the track's own with `track`.
  std::optional<double> camera_height_m;
  // The product's floor point, metres; unset = chosen automatically
  // (floor/placement.hpp: in frame, free, large enough, facing the cameras;
  // pipeline/product_placement.hpp).
  std::optional<std::array<double, 3>> location_m;
  double rotation_z_deg = 0.0;     // turn about Z, degrees
  std::optional<double> height_m;  // scale the product to this height
  int64_t seed = 0;                // Cycles noise seed (>= 0)
  int64_t threads = 0;             // render threads; 0 = all cores
  bool keep_blend = false;         // also save OUTPUT.blend
  // Keep the rendered RGBA frames (000000.png, ... in output order) in this
  // folder; empty = they go with the run's temporary folder.
  std::string keep_frames;
  bool overwrite = false;  // replace an existing output
  bool quiet = false;      // batch.py prints nothing
  ProgressFormat progress = ProgressFormat::kHuman;  // batch.py's lines
  std::string blender;  // Blender executable; empty = FindBlender
  // The folder holding vanelia_blender/ (its batch.py runs in Blender);
  // empty = FindAddon(). The add-on passes its own.
  std::string addon_dir;
  std::string cache_folder;  // track cache; empty = TrackCache's default
  // The output's codec, one of OutputCodecs(): "h264" (the default, 8-bit)
  // or a 10-bit intermediate that carries the plate's colour tags. The
  // output's extension must be its container's.
  std::string codec = "h264";
  // A quick look at placement and light: half size (Cycles at 50 %, the
  // plate scaled to match), at most kPreviewSamples samples and shorter
  // light paths; an H.264 MP4 (codec must be h264). Same placement, light
  // direction and shadow as the full render.
  bool preview = false;
  // Also write the compositor's passes (product, shadow, holdout, plate,
  // composite; addon/vanelia_blender/render/passes.py) as per-frame image
  // sequences under this folder, rendering whole frames; empty = none.
  std::string passes;
  std::string passes_format = "exr";  // "exr" (half, ZIP) or "png16"
  // The plate's grain given to the product and its shadow (issue 21): "auto"
  // measures it (pipeline/plate_grain.hpp), "off" adds none; a preview never
  // has grain.
  std::string grain = "auto";
  // The grain's deviation per channel (R, G, B), 8-bit code values; unset =
  // measured when grain is "auto".
  std::optional<std::array<double, 3>> grain_sigma;
  // The key light (issue 21): "auto" estimates the sun from the shadows the
  // footage's objects cast on the floor (pipeline/light_stage.hpp; a soft
  // top-down light when it shows none), "fixed" uses sun_deg.
  std::string light = "auto";
  // The sun of "fixed" (and when no estimate can be made): azimuth from +X
  // towards +Y of where the light comes from, elevation above the floor,
  // degrees (elevation in (0, 90]).
  std::array<double, 2> sun_deg = {-60.0, 50.0};
  // The estimate (vanelia-light/1 JSON) handed to Blender; set by WithLight
  // when light is "auto".
  std::string light_json;
  // The floor's albedo the "auto" light assumes (0 < a <= 1): the plate's
  // floor colour over it sets the product's light level and colour, so the
  // product takes the plate's exposure and white balance
  // (LightEstimateOptions::floor_albedo).
  double floor_albedo = 0.35;  // LightEstimateOptions::floor_albedo's default
  // Proxy geometry (issue 20): "auto" builds shadow-catcher / holdout boxes
  // of the real objects from the aligned track's points
  // (pipeline/proxy_stage.hpp), so the product hides behind them and casts
  // its shadow on them; "off" builds none.
  std::string proxies = "auto";
  // The proxies (build_proxies JSON) handed to Blender; set by WithProxies
  // when proxies is "auto".
  std::string proxies_json;
  // Motion blur (issue 21): "auto" estimates the plate's shutter from the
  // blur of its fast frames (pipeline/motion_blur_stage.hpp; 180 degrees
  // when it cannot be measured), "off" renders the product sharp, a number
  // is the shutter in frames (0 < s <= 1). Cycles blurs the product with the
  // camera's motion over the shutter, centred on the frame; a preview never
  // blurs.
  std::string motion_blur = "auto";
  // The shutter handed to Blender, frames; set by WithMotionBlur.
  std::optional<double> shutter_frames;
  // The environment (issue 21): "auto" makes an equirectangular world
  // texture from the plate's frames around the product's spot
  // (pipeline/environment_stage.hpp) that lights the product and shows in
  // its reflections (the camera still sees the plate); "off" keeps the
  // uniform world. On by default: it uses the 24 frames spread over the
  // clip that the light stage decodes (pipeline/frame_sample.hpp), so it
  // adds the map itself, about 0.05 s (native/bench/environment_bench.cpp);
  // with --light fixed it decodes them alone, about one decoding pass.
  std::string environment = "auto";
  // The map (.hdr) handed to Blender; set by WithEnvironment.
  std::string environment_map;

  // Throws InputError naming the field, its value and the rule: files that
  // do not exist, an output that exists without `overwrite` (or that is one
  // of the inputs), numbers out of range.
  void Check() const;
};

// Cycles samples of a preview (fewer when `samples` asks for fewer).
constexpr int64_t kPreviewSamples = 8;

// An output codec of `vanelia run --codec` (encode/encode.py's CODECS).
struct OutputCodec {
  const char* name;       // --codec value
  const char* extension;  // the container's file extension: ".mp4", ".mov"
  const char* summary;    // codec, profile and pixel format, for --help
};

// The codecs, the default (h264) first.
const std::vector<OutputCodec>& OutputCodecs();

// The codec named `name`; InputError naming `option` and the choices.
const OutputCodec& FindOutputCodec(const std::string& name,
                                   const std::string& option = "--codec");

struct PipelineResult {
  std::string output;             // the video written
  bool tracked = false;           // the clip was tracked (no track given)
  bool track_from_cache = false;  // ... and the cached raw track was reused
  double elapsed_s = 0.0;         // seconds the run took
};

// The stages this run has, in order: {"render"} with options.track, else
// {"track", "align", "render"}.
std::vector<std::string> PipelineStages(const PipelineOptions& options);

// Runs the pipeline. Reports through `reporter` (made with
// PipelineStages(options)). Throws InputError for bad input (nothing
// written), Cancelled when a stop was requested (Blender stopped, nothing
// written, the temporary folder removed), Error otherwise; every exit
// removes the run's temporary folder.
PipelineResult RunPipeline(const PipelineOptions& options,
                           RunReporter* reporter);

}  // namespace vanelia
