// `vanelia export TRACK.json --format fbx|abc|usd|chan -o OUT`: the solved
// camera of an aligned track (world "blender"), animated with its focal per
// frame, and the track's points, for other programs.
//
// fbx, abc and usd are written by Blender's own exporters: Blender headless
// runs addon/vanelia_blender/export_camera.py, which builds the camera
// exactly as the add-on does (scene/camera.py) plus the points as a mesh of
// loose vertices "Vanelia Points", and exports the scene's frame range
// (Blender frame = track index + 1, keys at frame / fps seconds).
// Blender: --blender PATH, else $VANELIA_BLENDER, else `blender` on PATH;
// add-on as for `vanelia run` (FindAddon). Alembic and USD need a Blender
// built with them (Debian's 3.4.1 has neither: refused as bad input).
//
// chan (Nuke's channel file) is written here, without Blender: one line per
// registered frame, "frame tx ty tz rx ry rz vfov", tab-separated, with
//   frame        track index + 1 (Blender's frame numbers)
//   tx ty tz     camera centre in Nuke's Y-up world: (x, z, -y) of the
//                Blender world (metres), i.e. nuke_from_blender = Rx(-90 deg)
//   rx ry rz     Euler angles in degrees, rotation order ZXY (Nuke's default
//                for Camera and Axis: Z applied first, then X, then Y, so
//                R = Ry(ry) Rx(rx) Rz(rz)), of the camera-to-world rotation
//                nuke_from_blender * c2w_blender (the camera looks down -Z
//                with +Y up in Nuke as in Blender: no camera-axis change);
//                each angle taken nearest the previous frame's (no jumps of
//                360 degrees, the equivalent ZXY solution when closer)
//   vfov         vertical field of view in degrees, 2 atan(H / (2 fy))
// as Blender's io_anim_nuke_chan add-on writes and reads it (its export
// with "Make Y up" and rotation order ZXY). The format has no principal
// point and no pixel aspect: a track whose principal point is off the image
// centre or whose pixels are not square is written with a warning.
//
// Exit codes: 0 done, 2 bad input (nothing written), 1 internal error,
// 130 interrupted (Blender is stopped, nothing is written).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/pipeline/blender_stage.hpp"
#include "vanelia/pipeline/run_events.hpp"
#include "vanelia/trackfile/conventions.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "cli.hpp"
#include "commands.hpp"
#include <unistd.h>

namespace vanelia::cli {
namespace {

namespace fs = std::filesystem;

constexpr double kPi = 3.14159265358979323846;
constexpr double kDegPerRad = 180.0 / kPi;
// A principal point further than this from the image centre, or fx and fy
// differing by more than this, cannot be kept by a .chan file (pixels).
constexpr double kChanTolerancePx = 1e-3;

enum class ExportFormat { kFbx, kAbc, kUsd, kChan };

struct FormatName {
  ExportFormat format;
  const char* name;
  std::vector<const char*> extensions;  // lower case, with the dot
};

const std::vector<FormatName>& FormatNames() {
  static const std::vector<FormatName> kNames = {
      {ExportFormat::kFbx, "fbx", {".fbx"}},
      {ExportFormat::kAbc, "abc", {".abc"}},
      {ExportFormat::kUsd, "usd", {".usd", ".usda", ".usdc"}},
      {ExportFormat::kChan, "chan", {".chan"}},
  };
  return kNames;
}

const char* ToString(ExportFormat format) {
  for (const FormatName& entry : FormatNames()) {
    if (entry.format == format) return entry.name;
  }
  return "?";
}

// The format whose extension `path` has, if any.
const FormatName* FormatOfExtension(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(
      extension.begin(), extension.end(), extension.begin(), [](char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      });
  for (const FormatName& entry : FormatNames()) {
    for (const char* known : entry.extensions) {
      if (extension == known) return &entry;
    }
  }
  return nullptr;
}

// --format NAME (refused when OUT has another format's extension), or
// OUT's extension when --format is not given.
ExportFormat ChooseFormat(const ArgParser& args, const std::string& output) {
  const FormatName* by_extension = FormatOfExtension(output);
  if (!args.Has("--format")) {
    if (by_extension != nullptr) return by_extension->format;
    throw UsageError("--format: not given, and output '" + output +
                     "' has no extension that names one (.fbx, .abc, .usd, "
                     ".usda, .usdc, .chan)");
  }
  const std::string name = args.Get("--format");
  for (const FormatName& entry : FormatNames()) {
    if (name != entry.name) continue;
    if (by_extension != nullptr && by_extension->format != entry.format) {
      throw UsageError("--format " + name + ": output '" + output +
                       "' has the extension of " + by_extension->name);
    }
    return entry.format;
  }
  throw UsageError("--format '" + name + "': must be fbx, abc, usd or chan");
}

// x - 360 k nearest `previous` (degrees).
double Nearest(double x, double previous) {
  return x - 360.0 * std::round((x - previous) / 360.0);
}

// ZXY Euler angles (rx, ry, rz) in degrees of R = Ry(ry) Rx(rx) Rz(rz), the
// solution nearest `previous` (each angle unwrapped towards it). At
// |rx| = 90 degrees only ry -/+ rz is defined: rz keeps its previous value.
Eigen::Vector3d EulerZxyDeg(const Eigen::Matrix3d& r,
                            const Eigen::Vector3d& previous) {
  const double sx = std::clamp(-r(1, 2), -1.0, 1.0);
  const double cx = std::sqrt(r(0, 2) * r(0, 2) + r(2, 2) * r(2, 2));
  std::array<Eigen::Vector3d, 2> candidates;
  if (cx < 1e-9) {
    const double rz = previous.z();
    const double sum = std::atan2(-r(2, 0), r(0, 0)) * kDegPerRad;
    const double ry = sx > 0.0 ? sum + rz : sum - rz;
    candidates[0] = {sx > 0.0 ? 90.0 : -90.0, ry, rz};
    candidates[1] = candidates[0];
  } else {
    const double rx = std::atan2(sx, cx) * kDegPerRad;
    const double ry = std::atan2(r(0, 2), r(2, 2)) * kDegPerRad;
    const double rz = std::atan2(r(1, 0), r(1, 1)) * kDegPerRad;
    candidates[0] = {rx, ry, rz};
    candidates[1] = {180.0 - rx, ry + 180.0, rz + 180.0};
  }
  Eigen::Vector3d best = candidates[0];
  double best_distance = -1.0;
  for (Eigen::Vector3d angles : candidates) {
    for (int i = 0; i < 3; ++i) angles[i] = Nearest(angles[i], previous[i]);
    const double distance = (angles - previous).cwiseAbs().sum();
    if (best_distance < 0.0 || distance < best_distance) {
      best = angles;
      best_distance = distance;
    }
  }
  return best;
}

// What a .chan file cannot hold, as a warning line ("" when nothing).
std::string ChanLosses(const TrackFile& track) {
  double off_centre = 0.0;
  double aspect = 0.0;
  for (const TrackedFrame& frame : track.frames) {
    const Intrinsics& k = frame.intrinsics;
    off_centre = std::max({off_centre,
                           std::abs(k.cx - (0.5 * track.width - 0.5)),
                           std::abs(k.cy - (0.5 * track.height - 0.5))});
    aspect = std::max(aspect, std::abs(k.fx - k.fy));
  }
  std::string text;
  char line[256];
  if (off_centre > kChanTolerancePx) {
    std::snprintf(line,
                  sizeof(line),
                  "the principal point is up to %.3f px off the image centre; "
                  ".chan has none (written centred)",
                  off_centre);
    text += line;
  }
  if (aspect > kChanTolerancePx) {
    std::snprintf(line,
                  sizeof(line),
                  "%sfx and fy differ by up to %.3f px; .chan keeps the "
                  "vertical field of view only",
                  text.empty() ? "" : "; ",
                  aspect);
    text += line;
  }
  return text;
}

// The .chan text of `track` (see the file comment).
std::string ChanText(const TrackFile& track) {
  Eigen::Matrix3d nuke_from_blender;
  nuke_from_blender << 1, 0, 0, 0, 0, 1, 0, -1, 0;
  std::string text;
  Eigen::Vector3d previous = Eigen::Vector3d::Zero();
  bool first = true;
  for (const TrackedFrame& frame : track.frames) {
    const Eigen::Matrix4d c2w =
        BlenderC2wFromCamFromWorld(frame.cam_from_world);
    const Eigen::Vector3d t = nuke_from_blender * c2w.block<3, 1>(0, 3);
    const Eigen::Matrix3d r = nuke_from_blender * c2w.block<3, 3>(0, 0);
    const Eigen::Vector3d angles =
        EulerZxyDeg(r, first ? Eigen::Vector3d::Zero() : previous);
    previous = angles;
    first = false;
    const double vfov_deg =
        2.0 * std::atan(0.5 * track.height / frame.intrinsics.fy) * kDegPerRad;
    char line[512];
    std::snprintf(line,
                  sizeof(line),
                  "%lld\t%.9f\t%.9f\t%.9f\t%.9f\t%.9f\t%.9f\t%.9f\n",
                  static_cast<long long>(frame.index) + 1,
                  t.x(),
                  t.y(),
                  t.z(),
                  angles.x(),
                  angles.y(),
                  angles.z(),
                  vfov_deg);
    text += line;
  }
  return text;
}

// A log file for Blender's stdout, removed on every exit.
class LogFile {
 public:
  LogFile() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") +
                          "/vanelia-export-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    const int fd = mkstemp(buffer.data());
    if (fd < 0) {
      throw InternalError(std::string("mkstemp: ") + std::strerror(errno));
    }
    close(fd);
    path_ = buffer.data();
  }

  ~LogFile() { std::remove(path_.c_str()); }

  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

// fbx/abc/usd: export_camera.py in Blender (RunBlenderScript's errors).
void ExportWithBlender(const ArgParser& args,
                       ExportFormat format,
                       const std::string& track,
                       const std::string& output) {
  const bool quiet = args.Flag("--quiet");
  BlenderJob job;
  job.blender = FindBlender(args.Has("--blender") ? args.Get("--blender") : "",
                            "--blender");
  job.addon = FindAddon();
  job.script = "vanelia_blender/export_camera.py";
  job.args = {
      "--track", track, "--format", ToString(format), "--output", output};
  job.args.emplace_back("--quiet");
  if (args.Flag("--overwrite")) job.args.emplace_back("--overwrite");
  const LogFile log;
  job.log_path = log.Path();
  job.output = output;
  std::error_code missing;
  job.output_is_new = !fs::exists(output, missing);
  // No stage line: Blender's own lines are shown as they come (unless
  // --quiet), and a refusal stays one line.
  RunReporter reporter(
      StderrRunSink(ProgressFormat::kHuman, quiet), {"export"}, Interrupted);
  RunBlenderScript(job, &reporter);
}

void AddExportOptions(ArgParser* args) {
  args->AddPositional("TRACK", "aligned track file (world \"blender\")");
  args->AddOption("--format",
                  "FORMAT",
                  "fbx, abc (Alembic), usd or chan (Nuke); default: from the "
                  "output's extension");
  args->AddOutputOptions("the camera file to write");
  args->AddOption("--blender",
                  "PATH",
                  "Blender executable for fbx/abc/usd (default: "
                  "$VANELIA_BLENDER, then PATH)");
  args->SetEpilog(
      "fbx, abc and usd come from Blender's own exporters (the camera as the\n"
      "add-on builds it, keys on Blender frames = track index + 1, and the\n"
      "track's points as the mesh \"Vanelia Points\"); Blender's FBX importer\n"
      "needs Animation Offset 0 to keep those frame numbers. chan is written\n"
      "without Blender: frame tx ty tz rx ry rz vfov, Nuke's Y-up world,\n"
      "rotation order ZXY, degrees, vertical field of view.\n"
      "Exit codes: 0 done, 2 bad input (nothing written), 1 internal error,\n"
      "130 interrupted.");
}

}  // namespace

int RunExport(const Args& argv) {
  ArgParser args("vanelia export",
                 "write the solved camera of an aligned track (and its "
                 "points) as FBX, Alembic, USD or a Nuke .chan file");
  AddExportOptions(&args);
  if (!args.Parse(argv)) return 0;
  if (!args.Has("--output")) {
    throw UsageError("vanelia export: -o/--output OUT is required");
  }
  const std::string output = args.Get("--output");
  const std::string track_path = args.Get("TRACK");
  const ExportFormat format = ChooseFormat(args, output);
  std::error_code error;
  if (!fs::is_regular_file(track_path, error)) {
    throw InputError("track '" + track_path + "': no such file");
  }
  const TrackFile track = ReadTrackFile(track_path);
  if (track.world != TrackWorld::kBlender) {
    throw InputError("track '" + track_path + "': world '" +
                     ToString(track.world) +
                     "' is the tracker's raw world; align it to the floor "
                     "first (vanelia align)");
  }
  CheckCanWrite(output, args.Flag("--overwrite"), "output", {track_path});
  const bool quiet = args.Flag("--quiet");
  if (format == ExportFormat::kChan) {
    const std::string losses = ChanLosses(track);
    if (!losses.empty() && !quiet) {
      std::fprintf(stderr, "vanelia: warning: %s\n", losses.c_str());
    }
    WriteFileAtomic(output, ChanText(track), args.Flag("--overwrite"));
  } else {
    ExportWithBlender(args, format, track_path, output);
  }
  if (!quiet) {
    std::fprintf(stderr,
                 "vanelia export: wrote %s (%s, %zu frames from Blender "
                 "frame %lld)\n",
                 output.c_str(),
                 ToString(format),
                 track.frames.size(),
                 static_cast<long long>(track.frames.front().index) + 1);
  }
  return 0;
}

}  // namespace vanelia::cli
