// `vanelia call FUNCTION ARGS.json`: one of the native module's functions
// for a program that cannot import the module (the add-on's worker mode in a
// Blender of another Python, addon/vanelia_blender/core/worker.py). ARGS.json
// (a file, `-` for stdin, default `{}`) holds the function's keyword
// arguments as in Python; the result is printed on stdout as one JSON
// object, the same dict the binding returns. Errors exit 2 (bad input) or 1
// with the CLI's error line, as every subcommand does.
#include "vanelia/core/error.hpp"
#include "vanelia/decode/media_probe.hpp"
#include "vanelia/decode/media_probe_json.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/floor/placement.hpp"
#include "vanelia/floor/proxies.hpp"
#include "vanelia/pipeline/environment_stage.hpp"
#include "vanelia/pipeline/light_stage.hpp"
#include "vanelia/pipeline/plate_grain.hpp"
#include "vanelia/pipeline/proxy_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"
#ifdef VANELIA_HAVE_ENCODE
#include "vanelia/encode/overlay_encode.hpp"
#endif

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "commands.hpp"
#include <nlohmann/json.hpp>

namespace vanelia::cli {
namespace {

using Json = nlohmann::ordered_json;

Json ReadArgs(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError("ARGS '" + path + "': cannot be read");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  Json args = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!args.is_object()) {
    throw InputError("ARGS '" + path + "': must be one JSON object");
  }
  return args;
}

template <typename T>
T Arg(const Json& args, const std::string& name, T fallback) {
  if (!args.contains(name) || args[name].is_null()) return fallback;
  try {
    return args[name].get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError("argument '" + name + "' = " + args[name].dump() +
                     ": has the wrong type");
  }
}

std::string Required(const Json& args, const std::string& name) {
  const std::string value = Arg<std::string>(args, name, "");
  if (value.empty()) throw InputError("argument '" + name + "' is required");
  return value;
}

// A track given as a path or as a document, in Blender's world.
TrackFile BlenderTrack(const Json& args, const std::string& caller) {
  if (!args.contains("track")) {
    throw InputError(caller + ": argument 'track' is required");
  }
  const TrackFile file = args["track"].is_string()
                             ? ReadTrackFile(args["track"].get<std::string>())
                             : TrackFileFromJson(args["track"], "<track>");
  if (file.world != TrackWorld::kBlender) {
    throw InputError(
        caller +
        ": the track's world is 'track' (the tracker's raw world); align it "
        "to the floor first");
  }
  return file;
}

// As the binding's place_product (native/python/bind_floor.cpp).
Json PlaceProductCall(const Json& args) {
  const TrackFile file = BlenderTrack(args, "place_product");
  const auto size = Arg<std::vector<double>>(args, "size_m", {});
  if (size.size() != 3) {
    throw InputError("place_product: size_m must be 3 numbers (x, y, z)");
  }
  PlacementOptions options;
  if (args.contains("target_height_m") && !args["target_height_m"].is_null()) {
    options.target_height_m = args["target_height_m"].get<double>();
  }
  options.allow_scale = Arg<bool>(args, "allow_scale", false);
  const auto location = Arg<std::vector<double>>(args, "location", {});
  if (!location.empty() && location.size() != 3) {
    throw InputError("place_product: location must be 3 numbers");
  }
  std::optional<Eigen::Vector3d> at_m;
  if (!location.empty()) {
    at_m = Eigen::Vector3d(location[0], location[1], location[2]);
  }
  const Placement placement =
      PlaceOrEvaluate(CameraTrackOf(file),
                      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0),
                      Eigen::Vector3d(size[0], size[1], size[2]),
                      options,
                      Arg<std::string>(args, "front", "gltf"),
                      at_m,
                      Arg<double>(args, "heading_deg", 0.0));
  return PlacementToJson(placement, /*automatic=*/location.empty());
}

// As the binding's build_proxies (the JSON of the run's proxy stage).
Json BuildProxiesCall(const Json& args) {
  const TrackFile file = BlenderTrack(args, "build_proxies");
  ProxyOptions options;
  options.min_height_m =
      Arg<double>(args, "min_height_m", options.min_height_m);
  options.min_points = Arg<int>(args, "min_points", options.min_points);
  const Eigen::Matrix3Xf points =
      file.points ? file.points->xyz : Eigen::Matrix3Xf(3, 0);
  return ProxySetToJson(BuildProxies(points, options));
}

Json EstimateLightCall(const Json& args) {
  LightStageOptions options;
  options.estimate.max_frames = Arg<int>(args, "max_frames", 24);
  options.estimate.cell_m = Arg<double>(args, "cell_m", 0.04);
  options.estimate.floor_albedo =
      Arg<double>(args, "floor_albedo", LightEstimateOptions().floor_albedo);
  options.max_width = Arg<int>(args, "max_width", 960);
  return LightEstimateToJson(EstimateTrackLight(
      Required(args, "video"), Required(args, "track"), options));
}

Json BuildEnvironmentCall(const Json& args) {
  const auto spot = Arg<std::vector<double>>(args, "spot_m", {});
  if (spot.size() != 3) {
    throw InputError("argument 'spot_m': must be [x, y, z] metres");
  }
  EnvironmentStageOptions options;
  options.map.width = Arg<int>(args, "width", 512);
  options.map.max_frames = Arg<int>(args, "max_frames", 24);
  options.map.centre_height_m = Arg<double>(args, "centre_height_m", 0.2);
  options.map.radius_m = Arg<double>(args, "radius_m", 8.0);
  options.max_width = Arg<int>(args, "max_width", 480);
  const std::string output = Required(args, "output");
  return EnvironmentToJson(
      BuildTrackEnvironment(Required(args, "video"),
                            Required(args, "track"),
                            {spot[0], spot[1], spot[2]},
                            output,
                            Arg<bool>(args, "overwrite", false),
                            options),
      output);
}

Json MeasureGrainCall(const Json& args) {
  const ImageNoise noise = MeasurePlateGrain(Required(args, "video"),
                                             Arg<int64_t>(args, "start", 0),
                                             Arg<int64_t>(args, "end", -1),
                                             Arg<int>(args, "max_frames", 8));
  return Json{{"valid", noise.valid},
              {"sigma", {noise.sigma[0], noise.sigma[1], noise.sigma[2]}},
              {"frames_used", noise.frames_used},
              {"blocks_used", noise.blocks_used}};
}

using Function = std::function<Json(const Json&)>;

const std::map<std::string, Function>& Functions() {
  static const std::map<std::string, Function> kFunctions = {
      {"probe_media",
       [](const Json& a) {
         return MediaProbeToJson(ProbeMedia(Required(a, "path")), true);
       }},
      {"source_content_sha256",
       [](const Json& a) {
         return Json{{"sha256", SourceContentSha256(Required(a, "path"))}};
       }},
      {"place_product", &PlaceProductCall},
      {"build_proxies", &BuildProxiesCall},
      {"estimate_light", &EstimateLightCall},
      {"build_environment", &BuildEnvironmentCall},
      {"measure_plate_grain", &MeasureGrainCall},
#ifdef VANELIA_HAVE_ENCODE
      {"have_overlay_encoder",
       [](const Json& a) {
         return Json{{"have", HaveOverlayEncoder(Required(a, "codec"))}};
       }},
#endif
  };
  return kFunctions;
}

std::string FunctionNames() {
  std::string names;
  for (const auto& [name, function] : Functions()) names += " " + name;
  return names;
}

}  // namespace

int RunCall(const Args& argv) {
  ArgParser args("vanelia call",
                 "Run one native function on JSON keyword arguments and "
                 "print its result as JSON (for programs: the add-on's "
                 "worker mode).");
  args.AddPositional("FUNCTION", "one of:" + FunctionNames());
  args.AddPositional("ARGS",
                     "JSON object of keyword arguments: a file, or - for "
                     "stdin");
  if (!args.Parse(argv)) return 0;
  const std::string name = args.Get("FUNCTION");
  const auto it = Functions().find(name);
  if (it == Functions().end()) {
    throw UsageError("FUNCTION '" + name + "': must be one of" +
                     FunctionNames());
  }
  const Json result = it->second(ReadArgs(args.Get("ARGS")));
  const std::string text =
      result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stdout, "%s\n", text.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace vanelia::cli
