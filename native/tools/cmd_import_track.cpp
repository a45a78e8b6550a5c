// `vanelia import-track SRC -o TRACK.json`: converts a ground-truth gt.json
// (already in Blender's world: world "blender" with its ground plane) or a
// COLMAP sparse model folder, text or binary (world "track", with its 3-D
// points and radial distortion), into a track file (format vanelia-track 1).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/trackfile/colmap_import.hpp"
#include "vanelia/trackfile/gt_import.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

#include "cli.hpp"
#include "commands.hpp"

namespace vanelia::cli {
namespace {

Rational ParseFps(const ArgParser& args) {
  const std::string text = args.Get("--fps");
  const size_t slash = text.find('/');
  Rational fps;
  if (slash == std::string::npos) {
    const double value = args.ParseDouble("--fps", text);
    if (!(value > 0.0)) {
      throw UsageError("--fps " + text +
                       ": must be > 0 (e.g. 24 or 30000/1001)");
    }
    return RationalFromFps(value);
  }
  fps.num = args.ParseInt("--fps", text.substr(0, slash));
  fps.den = args.ParseInt("--fps", text.substr(slash + 1));
  if (fps.num <= 0 || fps.den <= 0) {
    throw UsageError("--fps " + text + ": must be NUM/DEN with NUM, DEN >= 1");
  }
  return fps;
}

}  // namespace

int RunImportTrack(const Args& argv) {
  ArgParser args("vanelia import-track",
                 "Convert a ground-truth gt.json or a COLMAP sparse model "
                 "(text or binary) into a track file.");
  args.AddPositional("SRC", "gt.json, or a COLMAP sparse model folder");
  args.AddOutputOptions("track file (.json)");
  args.AddOption("--fps",
                 "RATE",
                 "COLMAP only: frame rate of the source video, e.g. 24 or "
                 "30000/1001",
                 "24");
  args.AddOption("--first-number",
                 "N",
                 "COLMAP only: the image number that is frame index 0 (1 "
                 "for ffmpeg's %06d.png extracts)",
                 "0");
  args.AddOption("--video",
                 "PATH",
                 "COLMAP only: the source video (written with its SHA-256)");
  args.AddOption("--frame-count",
                 "N",
                 "COLMAP only: decoded frames of the source (0: the last "
                 "frame index + 1)",
                 "0");
  args.SetEpilog(
      "A gt.json (footage/README.md) is already in Blender's world: the track\n"
      "has world \"blender\" and the gt's ground plane (method \"manual\").\n"
      "A COLMAP model gives world \"track\" with its 3-D points (at most\n"
      "100000) and radial distortion; frame index = trailing number of the\n"
      "image name - --first-number.");
  if (!args.Parse(argv)) return 0;
  const std::string src = args.Get("SRC");
  const std::string output = args.Get("--output");
  const bool overwrite = args.Flag("--overwrite");
  CheckCanWrite(output, overwrite, "track", {src});
  std::error_code ec;
  if (!std::filesystem::exists(src, ec)) {
    throw InputError("SRC '" + src + "' does not exist");
  }
  TrackFile track;
  if (std::filesystem::is_directory(src, ec)) {
    if (!IsColmapModel(src)) {
      throw InputError("SRC '" + src +
                       "' is a folder without cameras.txt or cameras.bin; "
                       "expected a COLMAP sparse model");
    }
    ColmapImportOptions options;
    options.fps = ParseFps(args);
    options.first_number = args.GetInt("--first-number");
    options.video_path = args.Has("--video") ? args.Get("--video") : "";
    options.frame_count = args.GetInt("--frame-count");
    options.Check();
    track = ImportColmapModel(src, options);
  } else {
    track = ImportGroundTruth(src);
  }
  WriteTrackFile(output, track, overwrite);
  if (!args.Flag("--quiet")) {
    std::fprintf(
        stderr,
        "import-track: wrote %s: %lld frames, world \"%s\"%s\n",
        output.c_str(),
        static_cast<long long>(track.frames.size()),
        ToString(track.world),
        track.points
            ? (", " + std::to_string(track.points->Size()) + " points").c_str()
            : "");
  }
  return 0;
}

}  // namespace vanelia::cli
