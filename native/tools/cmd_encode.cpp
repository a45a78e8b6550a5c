// `vanelia encode PLATE FRAMES -o OUT`: the overlay + encode stage alone
// (OverlayEncoder, FFmpeg's libraries in process): FRAMES/000000.png.. laid
// over PLATE's frames first, first + every, ... and encoded with the plate's
// audio copied. The colour handling follows the plate as encode/encode.py
// does: the render is composited in the plate's linear light (its matrix,
// transfer and primaries; HLG and PQ plates included); the output carries
// the plate's colour tags; the 10-bit codecs (hevc, prores, dnxhr) keep a
// full-range plate full (ProRes makes it limited).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/media_probe.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/encode/overlay_encode.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.hpp"
#include "commands.hpp"

namespace vanelia::cli {
namespace {

// encode.py's _MATRIX: the YUV matrix tag -> the render's conversion matrix.
std::string MatrixOf(const MediaProbe& plate, bool tagged) {
  const std::string& space = plate.color_space;
  if (!tagged) return space == "bt709" ? "bt709" : "bt601";
  if (space == "bt709" || space == "smpte240m" || space == "fcc") return space;
  if (space == "bt2020nc" || space == "bt2020c") return "bt2020";
  return "bt601";
}

int64_t CountRenders(const std::string& folder) {
  int64_t count = 0;
  char name[32];
  while (true) {
    std::snprintf(
        name, sizeof(name), "/%06lld.png", static_cast<long long>(count));
    if (!std::filesystem::exists(folder + name)) return count;
    ++count;
  }
}

OverlayEncodeOptions OptionsFromArgs(const ArgParser& args,
                                     const MediaProbe& plate,
                                     const std::string& frames) {
  OverlayEncodeOptions options;
  options.plate_path = args.Get("PLATE");
  options.codec = args.Get("--codec");
  options.first = args.GetInt("--first");
  options.every = args.GetInt("--every");
  options.count =
      args.Given("--count") ? args.GetInt("--count") : CountRenders(frames);
  if (options.count == 0) {
    throw InputError("FRAMES '" + frames + "': no 000000.png in it");
  }
  options.fps = plate.fps;
  const bool hdr = plate.color_transfer == "arib-std-b67" ||
                   plate.color_transfer == "smpte2084";
  const bool ten_bit = options.codec == "hevc" || options.codec == "prores" ||
                       options.codec == "dnxhr";
  // An HDR plate keeps its matrix and range with any codec (encode.py's
  // output_spec); the stage composites in its light (HLG/PQ, BT.2020).
  const bool tagged = ten_bit || hdr;
  const bool full =
      plate.color_range == "pc" ||
      (plate.color_range.empty() && plate.pixel_format.rfind("yuvj", 0) == 0);
  options.plate_range = full ? "pc" : "tv";
  options.output_range =
      tagged && options.codec != "prores" && full ? "pc" : "tv";
  options.matrix = MatrixOf(plate, tagged);
  // The plate's tags always (the ffmpeg executable's graph carried the
  // decoded frames' tags to every encoder).
  options.color_primaries = plate.color_primaries;
  options.color_transfer = plate.color_transfer;
  options.color_space = plate.color_space;
  options.tag_range = true;
  if (args.Given("--audio") && !args.Flag("--no-audio")) {
    options.audio_path = args.Get("--audio");  // the source of a proxy plate
  } else if (plate.has_audio && !args.Flag("--no-audio")) {
    options.audio_path = options.plate_path;
  }
  return options;
}

}  // namespace

int RunEncode(const Args& argv) {
  ArgParser args("vanelia encode",
                 "Lay rendered RGBA frames over a video and encode it "
                 "(FFmpeg's libraries; no ffmpeg executable).");
  args.AddPositional("PLATE", "the video under the renders (upright, CFR)");
  args.AddPositional("FRAMES", "folder of 000000.png, 000001.png, ...");
  args.AddOption(
      "--codec", "NAME", "h264, h264_preview, hevc, prores or dnxhr", "h264");
  args.AddOption("--first", "N", "plate frame under render 0", "0");
  args.AddOption("--every", "K", "plate frames per output frame", "1");
  args.AddOption("--count", "N", "renders to use (default: all in FRAMES)");
  args.AddOption("--audio",
                 "SOURCE",
                 "copy the audio of SOURCE, from plate frame --first's time "
                 "(default: the plate's own; a proxy plate's source)");
  args.AddFlag("--no-audio", "do not copy any audio");
  args.AddOutputOptions("video (.mp4 for h264/hevc, .mov for prores/dnxhr)");
  if (!args.Parse(argv)) return 0;
  const std::string output = args.Get("--output");
  const std::string frames = args.Get("FRAMES");
  CheckCanWrite(
      output, args.Flag("--overwrite"), "output", {args.Get("PLATE")});
  SetLibavLogQuiet(true);
  const MediaProbe plate = ProbeMedia(args.Get("PLATE"));
  OverlayEncodeOptions options = OptionsFromArgs(args, plate, frames);
  const std::string tmp = output + ".tmp-encode" +
                          std::filesystem::path(output).extension().string();
  options.output_path = tmp;
  InstallInterruptHandler();
  EncodeOverlay(options, frames, CliProgress(args.Flag("--quiet")));
  std::filesystem::rename(tmp, output);
  if (!args.Flag("--quiet")) {
    std::fprintf(stderr,
                 "vanelia encode: wrote %s (%lld frames, %s)\n",
                 output.c_str(),
                 static_cast<long long>(options.count),
                 options.codec.c_str());
  }
  return 0;
}

}  // namespace vanelia::cli
