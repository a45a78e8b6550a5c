// Bindings of the pipeline module: `track_video` (the track stage: decode +
// track, as `vanelia track`), `run` (the whole pipeline, as `vanelia run`)
// and the trackers of this build.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/pipeline/environment_stage.hpp"
#include "vanelia/pipeline/light_stage.hpp"
#include "vanelia/pipeline/motion_blur_stage.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/plate_grain.hpp"
#include "vanelia/pipeline/track_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <pybind11/stl.h>

#include "bindings.hpp"

namespace py = pybind11;

namespace vanelia::python {
namespace {

using Json = nlohmann::ordered_json;

// DUSt3R's keywords into `choice` (its network keywords copied from the
// MUSt3R ones the two share), as the CLI: pair_window None = 3, or 0 with
// the oneref graph. Another tracker given one of them is an InputError.
void SetDust3rKeywords(const std::string& scene_graph,
                       std::optional<int> pair_window,
                       int align_iterations,
                       int align_window,
                       int align_overlap,
                       TrackerChoice* choice) {
  const Dust3rTrackerOptions defaults;
  if (choice->name != "dust3r") {
    if (scene_graph != defaults.scene_graph || pair_window.has_value() ||
        align_iterations != defaults.align_iterations ||
        align_window != defaults.align_window ||
        align_overlap != defaults.align_overlap) {
      throw InputError(
          "scene_graph, pair_window, align_iterations, align_window, "
          "align_overlap: only used by the dust3r tracker, not by '" +
          choice->name + "'");
    }
    return;
  }
  Must3rTrackerOptions& net = choice->must3r;
  Dust3rTrackerOptions& d = choice->dust3r;
  d.weights = net.weights;
  d.image_size = net.image_size;
  d.device = net.device;
  d.dtype = net.dtype;
  d.scene_graph = scene_graph;
  d.pair_window = scene_graph == "oneref" ? 0 : 3;
  if (pair_window.has_value()) d.pair_window = *pair_window;
  d.align_iterations = align_iterations;
  d.align_window = align_window;
  d.align_overlap = align_overlap;
  net.weights.clear();
}

// `track_video`: the track stage with the GIL released (loading network
// weights included); the progress callback (WrapProgress) can cancel.
py::object TrackVideoPy(const std::string& path,
                        const std::string& output,
                        int64_t start,
                        int64_t end,
                        int64_t every,
                        std::optional<double> focal_px,
                        const std::string& lens,
                        bool per_frame_focal,
                        bool overwrite,
                        const py::object& progress,
                        const std::string& tracker,
                        const std::string& weights,
                        int image_size,
                        const std::string& device,
                        const std::string& dtype,
                        std::optional<int> local_context,
                        int max_keyframes,
                        int keyframe_every,
                        int init_frames,
                        int batch_frames,
                        const std::string& keyframe_rule,
                        double overlap_threshold,
                        double overlap_percentile,
                        int overlap_subsample,
                        double overlap_min_conf,
                        const std::string& scene_graph,
                        std::optional<int> pair_window,
                        int align_iterations,
                        int align_window,
                        int align_overlap,
                        const std::string& mask) {
  TrackerChoice choice;
  choice.name = tracker;
  choice.mask = mask;
  choice.common.lens = LensModeFromName(lens, "lens");
  choice.common.focal_px = focal_px;
  choice.common.per_frame_focal = per_frame_focal;
  Must3rTrackerOptions& net = choice.must3r;
  net.weights = weights;
  net.image_size = image_size;
  net.device = device;
  net.dtype = dtype;
  net.keyframe_rule = keyframe_rule;
  net.local_context = local_context.has_value()
                          ? *local_context
                          : DefaultLocalContext(keyframe_rule);
  net.max_keyframes = max_keyframes;
  net.keyframe_every = keyframe_every;
  net.overlap_threshold = overlap_threshold;
  net.overlap_percentile = overlap_percentile;
  net.overlap_subsample = overlap_subsample;
  net.overlap_min_conf = overlap_min_conf;
  net.init_frames = init_frames;
  net.batch_frames = batch_frames;
  SetDust3rKeywords(scene_graph,
                    pair_window,
                    align_iterations,
                    align_window,
                    align_overlap,
                    &choice);
  ReadOptions read;
  read.start = start;
  read.end = end;
  read.every = every;
  const ProgressCallback callback = WrapProgress(progress);
  Json doc;
  {
    py::gil_scoped_release release;
    if (!output.empty()) {
      CheckCanWrite(output, overwrite, "track", {path, weights});
    }
    const TrackFile file = TrackVideo(path, read, choice, callback);
    // With an output, the document written (naming its depth sidecar).
    doc = output.empty() ? TrackFileToJson(file)
                         : WriteTrackFile(output, file, overwrite);
  }
  return JsonToPython(doc);
}

void BindTrackVideo(py::module_& m) {
  const Must3rTrackerOptions d;
  const Dust3rTrackerOptions d3;
  m.def(
      "track_video",
      &TrackVideoPy,
      py::arg("path"),
      py::arg("output") = "",
      py::arg("start") = 0,
      py::arg("end") = -1,
      py::arg("every") = 1,
      py::arg("focal_px") = py::none(),
      py::arg("lens") = "auto",
      py::arg("per_frame_focal") = false,
      py::arg("overwrite") = false,
      py::arg("progress") = py::none(),
      py::arg("tracker") = "classical",
      py::arg("weights") = "",
      py::arg("image_size") = d.image_size,
      py::arg("device") = d.device,
      py::arg("dtype") = d.dtype,
      py::arg("local_context") = py::none(),
      py::arg("max_keyframes") = d.max_keyframes,
      py::arg("keyframe_every") = d.keyframe_every,
      py::arg("init_frames") = d.init_frames,
      py::arg("batch_frames") = d.batch_frames,
      py::arg("keyframe_rule") = d.keyframe_rule,
      py::arg("overlap_threshold") = d.overlap_threshold,
      py::arg("overlap_percentile") = d.overlap_percentile,
      py::arg("overlap_subsample") = d.overlap_subsample,
      py::arg("overlap_min_conf") = d.overlap_min_conf,
      py::arg("scene_graph") = d3.scene_graph,
      py::arg("pair_window") = py::none(),
      py::arg("align_iterations") = d3.align_iterations,
      py::arg("align_window") = d3.align_window,
      py::arg("align_overlap") = d3.align_overlap,
      py::arg("mask") = "",
      "Tracks the camera of a video (GIL released), as `vanelia track`: "
      "`tracker` is one of TRACKERS ('classical'; 'must3r' and 'dust3r' "
      "need `weights`; must3r takes "
      "a MUSt3R checkpoint, with `image_size` 512, 224 or 0 = the weights' "
      "own, `device` auto/cpu/cuda, `dtype` fp32/bf16/fp16 and the video-mode "
      "options; `keyframe_rule` 'every' (every `keyframe_every`-th frame) or "
      "'overlap' (upstream's SLAM mode, with the overlap_* options); "
      "`local_context` None = 25, or 0 with the overlap rule, as the CLI; "
      "dust3r takes a DUSt3R checkpoint with the same `image_size`, "
      "`device` and `dtype` fp32, and mirrors the CLI's DUSt3R flags: "
      "`scene_graph` 'swin' (sliding window, not closed into a loop), "
      "'logwin' (i +- 2^k) or 'oneref' (every frame with one reference), "
      "`pair_window` (swin/logwin window, or oneref's reference frame; "
      "None = 3, or 0 with oneref), `align_iterations` (Adam steps of the "
      "global alignment), `align_window` (frames aligned at once; longer "
      "clips in overlapping windows registered into one world; 0 = the whole "
      "clip) and `align_overlap` (frames shared by consecutive windows). "
      "`focal_px`, in source pixels, fixes the focal for every tracker). "
      "`mask` (classical tracker): a folder of images (the n-th for frame "
      "n), a video, or one image for every frame, of the clip's size as "
      "displayed; white = keep out of the solve (people, cars, a screen). "
      "Returns the track document (a dict, world \"track\"); "
      "writes it to `output` when given. `progress(p)` is called with a "
      "Progress; returning False (or Ctrl-C) raises Cancelled. Unusable "
      "weights raise ModelError, bad options InputError.");
}

// A run's events handed to a Python callable as dicts (the fields of
// `vanelia run --progress json`); the callable returning False, or Ctrl-C,
// asks the run to stop.
struct PythonRunSink {
  std::shared_ptr<py::object> callback;
  std::shared_ptr<bool> stop = std::make_shared<bool>(false);

  void operator()(const RunEvent& event) const {
    py::gil_scoped_acquire gil;
    if (callback->is_none()) return;
    try {
      const py::object result =
          (*callback)(JsonToPython(Json::parse(RunEventJson(event))));
      if (!result.is_none() && !result.cast<bool>()) *stop = true;
    } catch (py::error_already_set& error) {
      error.discard_as_unraisable(__func__);
      *stop = true;
    }
  }

  bool StopRequested() const {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      *stop = true;
    }
    return *stop;
  }
};

py::dict RunPy(const PipelineOptions& options, const py::object& progress) {
  options.Check();
  PythonRunSink sink;
  sink.callback = std::shared_ptr<py::object>(new py::object(progress),
                                              [](py::object* object) {
                                                py::gil_scoped_acquire gil;
                                                delete object;
                                              });
  PipelineResult result;
  {
    py::gil_scoped_release release;
    RunReporter reporter(
        sink, PipelineStages(options), [sink] { return sink.StopRequested(); });
    result = RunPipeline(options, &reporter);
  }
  py::dict out;
  out["output"] = result.output;
  out["tracked"] = result.tracked;
  out["track_from_cache"] = result.track_from_cache;
  out["elapsed_s"] = result.elapsed_s;
  return out;
}

constexpr const char* kRunDoc =
    "Renders `product` (.glb) into `video` and writes `output` (.mp4), as "
    "`vanelia run` (the same pipeline, GIL released): without `track` the "
    "clip is tracked (or its cached track reused) and aligned to the floor "
    "at `camera_height_m` (1.5 m), then Blender renders it. `codec` is one "
    "of OUTPUT_CODECS: 'h264' (.mp4), 'hevc' (10-bit, .mp4), 'prores' "
    "(ProRes 422 HQ 10-bit, .mov) or 'dnxhr' (DNxHR HQX 10-bit, .mov); "
    "`preview` renders a half-size H.264 MP4 at a few samples for a quick "
    "look. `passes` names a folder for the compositor's passes "
    "(product, shadow, holdout, plate, composite; `passes_format` 'exr' or "
    "'png16'). `grain` 'auto' gives the product and its shadow the "
    "plate's measured noise (measure_plate_grain), 'off' none. "
    "`motion_blur` 'auto' blurs the product over the plate's estimated "
    "shutter (estimate_shutter), 'off' not at all, or a shutter in frames "
    "('0.5'). `environment` 'auto' lights the product with a world texture "
    "made from the plate's frames (build_environment), 'off' a uniform "
    "world. `progress(e)` "
    "gets each event as a dict (type, stage, index, count, step, done, "
    "total, percent, eta_s, text, run_percent, elapsed_s: the fields of "
    "--progress json); returning False, or Ctrl-C, stops the run "
    "(Cancelled; Blender stopped, nothing written). Returns {output, "
    "tracked, track_from_cache, elapsed_s}. Bad input raises InputError "
    "before anything is written.";

// `run`'s body: the keywords into PipelineOptions, then the pipeline.
py::dict RunBinding(const std::string& video,
                    const std::string& product,
                    const std::string& output,
                    const std::string& track,
                    int64_t samples,
                    int64_t start,
                    int64_t end,
                    int64_t every,
                    std::optional<double> camera_height_m,
                    std::optional<std::array<double, 3>> location_m,
                    double rotation_z_deg,
                    std::optional<double> height_m,
                    int64_t seed,
                    int64_t threads,
                    bool keep_blend,
                    bool overwrite,
                    const std::string& blender,
                    const std::string& addon_dir,
                    const std::string& cache_folder,
                    const std::string& codec,
                    bool preview,
                    const std::string& passes,
                    const std::string& passes_format,
                    const py::object& progress,
                    const std::string& mask,
                    const std::string& grain,
                    const std::string& motion_blur,
                    const std::string& environment) {
  PipelineOptions o;
  o.video = video;
  o.product = product;
  o.output = output;
  o.track = track;
  o.samples = samples;
  o.start = start;
  o.end = end;
  o.every = every;
  o.camera_height_m = camera_height_m;
  o.location_m = location_m;
  o.rotation_z_deg = rotation_z_deg;
  o.height_m = height_m;
  o.seed = seed;
  o.threads = threads;
  o.keep_blend = keep_blend;
  o.overwrite = overwrite;
  o.blender = blender;
  o.addon_dir = addon_dir;
  o.cache_folder = cache_folder;
  o.codec = codec;
  o.preview = preview;
  o.passes = passes;
  o.passes_format = passes_format;
  o.mask = mask;
  o.grain = grain;
  o.motion_blur = motion_blur;
  o.environment = environment;
  o.progress = ProgressFormat::kJson;  // batch.py's lines are events
  return RunPy(o, progress);
}

// The plate's shutter (motion blur), part of BindPlateLook.
void BindShutter(py::module_& m) {
  m.def(
      "estimate_shutter",
      [](const std::string& video,
         const std::string& track,
         int max_frames,
         int max_width) {
        MotionBlurStageOptions options;
        options.estimate.max_frames = max_frames;
        options.max_width = max_width;
        ShutterEstimate e;
        {
          py::gil_scoped_release release;
          e = EstimateTrackShutter(video, track, options);
        }
        py::dict out;
        out["measured"] = e.measured;
        out["shutter_frames"] = e.shutter_frames;
        out["reason"] = e.reason;
        out["frames_used"] = e.frames_used;
        out["blurred_edges"] = e.blurred_edges;
        out["sharp_edges"] = e.sharp_edges;
        out["sharp_sigma_px"] = e.sharp_sigma_px;
        out["median_motion_px"] = e.median_motion_px;
        out["blur_length_px"] = e.blur_length_px;
        out["summary"] = DescribeShutter(e);
        return out;
      },
      py::arg("video"),
      py::arg("track"),
      py::kw_only(),
      py::arg("max_frames") = 8,
      py::arg("max_width") = 960,
      "The plate's shutter as `vanelia run --motion-blur auto` estimates it: "
      "the blur of strong edges along the image motion of the Blender-world "
      "`track`'s cameras on its fastest `max_frames` frames. Returns "
      "{measured, shutter_frames (0.5 when not measured), reason, "
      "frames_used, blurred_edges, sharp_edges, sharp_sigma_px, "
      "median_motion_px, blur_length_px, summary}. Raises InputError for a "
      "track not in Blender's world.");
}

// The environment map (world texture) of a clip, part of BindPlateLook.
void BindEnvironment(py::module_& m) {
  m.def(
      "build_environment",
      [](const std::string& video,
         const std::string& track,
         const std::string& output,
         const std::array<double, 3>& spot_m,
         int width,
         int max_frames,
         double centre_height_m,
         double radius_m,
         int max_width,
         bool overwrite) {
        EnvironmentStageOptions options;
        options.map.width = width;
        options.map.max_frames = max_frames;
        options.map.centre_height_m = centre_height_m;
        options.map.radius_m = radius_m;
        options.max_width = max_width;
        EnvironmentMap map;
        {
          py::gil_scoped_release release;
          map = BuildTrackEnvironment(
              video, track, spot_m, output, overwrite, options);
        }
        return JsonToPython(EnvironmentToJson(map, output));
      },
      py::arg("video"),
      py::arg("track"),
      py::arg("output"),
      py::arg("spot_m"),
      py::kw_only(),
      py::arg("width") = 512,
      py::arg("max_frames") = 24,
      py::arg("centre_height_m") = 0.2,
      py::arg("radius_m") = 8.0,
      py::arg("max_width") = 480,
      py::arg("overwrite") = false,
      "The world texture `vanelia run --environment auto` makes: up to "
      "`max_frames` frames of `video` placed with the Blender-world "
      "`track`'s cameras fill an equirectangular map (width x width / 2, "
      "Blender's Environment Texture convention, linear RGB) around "
      "`centre_height_m` above `spot_m`, holes filled (the floor's colour "
      "below the horizon, blurred neighbours), written to `output` as a "
      "Radiance .hdr. Returns a dict in the vanelia-environment/1 format "
      "(path, width, height, centre_m, floor_rgb, seen_fraction, "
      "seen_above, seen_below, frames_used, summary). Raises InputError for "
      "a track not in Blender's world or bad options.");
}

// What the plate says about the look: its grain and its light.
void BindPlateLook(py::module_& m) {
  m.def(
      "measure_plate_grain",
      [](const std::string& video, int64_t start, int64_t end, int max_frames) {
        ImageNoise noise;
        {
          py::gil_scoped_release release;
          noise = MeasurePlateGrain(video, start, end, max_frames);
        }
        py::dict out;
        out["valid"] = noise.valid;
        out["sigma"] =
            py::make_tuple(noise.sigma[0], noise.sigma[1], noise.sigma[2]);
        out["frames_used"] = noise.frames_used;
        out["blocks_used"] = noise.blocks_used;
        return out;
      },
      py::arg("video"),
      py::kw_only(),
      py::arg("start") = 0,
      py::arg("end") = -1,
      py::arg("max_frames") = 8,
      "The plate's noise as `vanelia run --grain auto` measures it: up to "
      "`max_frames` frames spread over [start, end), Immerkaer's estimator "
      "over their flattest blocks. Returns {valid, sigma: (r, g, b) in 8-bit "
      "code values, frames_used, blocks_used}.");
  m.def(
      "estimate_light",
      [](const std::string& video,
         const std::string& track,
         int max_frames,
         double cell_m,
         int max_width,
         double floor_albedo) {
        LightStageOptions options;
        options.estimate.max_frames = max_frames;
        options.estimate.cell_m = cell_m;
        options.estimate.floor_albedo = floor_albedo;
        options.max_width = max_width;
        LightEstimate estimate;
        {
          py::gil_scoped_release release;
          estimate = EstimateTrackLight(video, track, options);
        }
        return JsonToPython(LightEstimateToJson(estimate));
      },
      py::arg("video"),
      py::arg("track"),
      py::arg("max_frames") = 24,
      py::arg("cell_m") = 0.04,
      py::arg("max_width") = 960,
      py::arg("floor_albedo") = LightEstimateOptions().floor_albedo,
      "The key light of `video` from its Blender-world `track` file (cast "
      "shadows of the objects on the floor): a dict in the vanelia-light/1 "
      "format (azimuth_deg, elevation_deg, confidence, supported, reason, "
      "ambient_fraction, ambient_rgb, sun_rgb and sky_rgb: the light in the "
      "plate's units for a floor of albedo `floor_albedo`, ...). Raises "
      "InputError for a track not in Blender's world.");
  BindShutter(m);
  BindEnvironment(m);
}

void BindRun(py::module_& m) {
  const PipelineOptions d;
  m.def("run",
        &RunBinding,
        py::arg("video"),
        py::arg("product"),
        py::arg("output"),
        py::kw_only(),
        py::arg("track") = "",
        py::arg("samples") = d.samples,
        py::arg("start") = d.start,
        py::arg("end") = d.end,
        py::arg("every") = d.every,
        py::arg("camera_height_m") = py::none(),
        py::arg("location_m") = py::none(),
        py::arg("rotation_z_deg") = d.rotation_z_deg,
        py::arg("height_m") = py::none(),
        py::arg("seed") = d.seed,
        py::arg("threads") = d.threads,
        py::arg("keep_blend") = false,
        py::arg("overwrite") = false,
        py::arg("blender") = "",
        py::arg("addon_dir") = "",
        py::arg("cache_folder") = "",
        py::arg("codec") = d.codec,
        py::arg("preview") = d.preview,
        py::arg("passes") = d.passes,
        py::arg("passes_format") = d.passes_format,
        py::arg("progress") = py::none(),
        py::arg("mask") = "",
        py::arg("grain") = d.grain,
        py::arg("motion_blur") = d.motion_blur,
        py::arg("environment") = d.environment,
        kRunDoc);
}

}  // namespace

void BindPipeline(py::module_& m) {
  BindTrackVideo(m);
  m.attr("TRACKERS") = py::tuple(py::cast(AvailableTrackers()));
  BindRun(m);
  BindPlateLook(m);
  py::dict codecs;
  for (const OutputCodec& codec : OutputCodecs()) {
    codecs[codec.name] = py::make_tuple(codec.extension, codec.summary);
  }
  m.attr("OUTPUT_CODECS") = codecs;
}

}  // namespace vanelia::python
