// `vanelia proxy SOURCE -o OUT`: the upright, constant-rate, lossless copy
// of a clip Blender cannot show as it is (rotation metadata, variable frame
// rate), made by MakePlateProxy (FFmpeg's libraries; no ffmpeg executable).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/encode/plate_proxy.hpp"

#include <cstdio>
#include <string>

#include "cli.hpp"
#include "commands.hpp"

namespace vanelia::cli {
namespace {

// "N/D" or "N" -> a rate; InputError naming the option otherwise.
Rational ParseRate(const std::string& text) {
  const size_t slash = text.find('/');
  try {
    size_t used = 0;
    const std::string num_text = text.substr(0, slash);
    Rational rate{std::stoll(num_text, &used), 1};
    bool whole = used == num_text.size();
    if (slash != std::string::npos) {
      const std::string den_text = text.substr(slash + 1);
      rate.den = std::stoll(den_text, &used);
      whole = whole && used == den_text.size();
    }
    if (whole && rate.num > 0 && rate.den > 0) return rate;
  } catch (const std::exception&) {
  }
  throw InputError("--fps = '" + text +
                   "'; must be a rate N or N/D, N and D > 0 (e.g. 30000/1001)");
}

}  // namespace

int RunProxy(const Args& argv) {
  ArgParser args("vanelia proxy",
                 "Write an upright, constant-rate, lossless copy of a video "
                 "(H.264 qp 0, Matroska) for Blender's movie clip "
                 "(FFmpeg's libraries; no ffmpeg executable).");
  args.AddPositional("SOURCE", "the video (rotation metadata and/or VFR)");
  args.AddOption("--fps",
                 "N/D",
                 "output rate (default: the source's, as `vanelia info` says)");
  args.AddOutputOptions("video (.mkv)");
  if (!args.Parse(argv)) return 0;
  PlateProxyOptions options;
  options.source_path = args.Get("SOURCE");
  options.output_path = args.Get("--output");
  if (args.Given("--fps")) options.fps = ParseRate(args.Get("--fps"));
  CheckCanWrite(options.output_path,
                args.Flag("--overwrite"),
                "output",
                {options.source_path});
  SetLibavLogQuiet(true);
  InstallInterruptHandler();
  const PlateProxyResult result =
      MakePlateProxy(options, CliProgress(args.Flag("--quiet")));
  if (!args.Flag("--quiet")) {
    std::fprintf(stderr,
                 "vanelia proxy: wrote %s (%dx%d %s, %lld frames at %lld/%lld "
                 "fps, turned %d deg, %lld repeated, %lld dropped)\n",
                 options.output_path.c_str(),
                 result.width,
                 result.height,
                 result.pixel_format.c_str(),
                 static_cast<long long>(result.frames),
                 static_cast<long long>(result.fps.num),
                 static_cast<long long>(result.fps.den),
                 result.rotation_deg,
                 static_cast<long long>(result.duplicated),
                 static_cast<long long>(result.dropped));
  }
  return 0;
}

}  // namespace vanelia::cli
