// `vanelia run VIDEO PRODUCT.glb -o FINAL.mp4 [--track TRACK.json] ...`:
// renders a product into footage with Blender headless and writes the MP4.
//
// This command checks its arguments, finds Blender and the add-on, and runs
//   blender -b --factory-startup --python <addon>/vanelia_blender/batch.py --
// which builds the scene, renders the product's region, lays it over the
// plate with FFmpeg and encodes H.264 with the source's audio (see
// addon/vanelia_blender/batch.py). Blender's own chatter (stdout) goes to a
// temporary log that is printed only when Blender fails; the batch's
// progress and errors arrive on stderr.
//
// Blender: --blender PATH, else $VANELIA_BLENDER, else `blender` on PATH.
// Add-on: $VANELIA_ADDON_DIR (the folder holding vanelia_blender/), else
// <exe>/../share/vanelia/addon (installed), else the source tree this binary
// was built from (VANELIA_SOURCE_ROOT/addon).
//
// Without --track the clip is tracked first with `vanelia track` and aligned
// to the floor with `vanelia align` (with --camera-height) when this build
// has them; without `track` the command says tracking is not available
// (exit 2).
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli.hpp"
#include "commands.hpp"
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace vanelia::cli {
namespace {

bool IsFile(const std::string& path) {
  struct stat st {};

  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsExecutable(const std::string& path) {
  return IsFile(path) && access(path.c_str(), X_OK) == 0;
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string ExecutablePath() {
  std::vector<char> buffer(4096);
  const ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size());
  return n > 0 ? std::string(buffer.data(), static_cast<size_t>(n)) : "";
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = dirs.substr(begin, end - begin);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (IsExecutable(candidate)) return candidate;
    begin = end + 1;
  }
  return "";
}

std::string FindBlender(const ArgParser& args) {
  if (args.Has("--blender")) {
    const std::string path = args.Get("--blender");
    if (!IsExecutable(path)) {
      throw UsageError("--blender '" + path + "': not an executable file");
    }
    return path;
  }
  if (const char* env = std::getenv("VANELIA_BLENDER"); env && *env) {
    if (!IsExecutable(env)) {
      throw UsageError(std::string("$VANELIA_BLENDER '") + env +
                       "': not an executable file");
    }
    return env;
  }
  const std::string found = FindOnPath("blender");
  if (found.empty()) {
    throw UsageError(
        "Blender not found: install it (apt-get install blender), put it on "
        "PATH, set $VANELIA_BLENDER or pass --blender PATH");
  }
  return found;
}

std::string FindAddon() {
  const std::string batch = "/vanelia_blender/batch.py";
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("VANELIA_ADDON_DIR"); env && *env) {
    if (!IsFile(env + batch)) {
      throw UsageError(std::string("$VANELIA_ADDON_DIR '") + env +
                       "': has no vanelia_blender/batch.py");
    }
    return env;
  }
  const std::string exe = ExecutablePath();
  if (!exe.empty()) {
    candidates.push_back(Dirname(Dirname(exe)) + "/share/vanelia/addon");
  }
  candidates.emplace_back(VANELIA_SOURCE_ROOT "/addon");
  for (const std::string& dir : candidates) {
    if (IsFile(dir + batch)) return dir;
  }
  throw UsageError(
      "add-on not found (looked in <exe>/../share/vanelia/addon and " +
      std::string(VANELIA_SOURCE_ROOT) + "/addon); set $VANELIA_ADDON_DIR");
}

// Runs argv with stdout to `log_path`; returns the exit status (128 + signal
// when killed).
int Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    c_argv.push_back(const_cast<char*>(arg.c_str()));
  }
  c_argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    throw InternalError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    if (std::freopen(log_path.c_str(), "w", stdout) == nullptr) _exit(127);
    execv(c_argv[0], c_argv.data());
    std::fprintf(
        stderr, "vanelia: cannot run '%s': %s\n", c_argv[0], strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw InternalError(std::string("waitpid: ") + std::strerror(errno));
    }
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

void PrintLogTail(const std::string& log_path) {
  std::string text;
  try {
    text = ReadFile(log_path);
  } catch (const Error&) {
    return;
  }
  const size_t keep = 4000;
  if (text.size() > keep) text = "..." + text.substr(text.size() - keep);
  std::fprintf(stderr, "vanelia: Blender's output:\n%s\n", text.c_str());
}

const Command* FindCommand(const std::string& name) {
  for (const Command& command : Commands()) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

// The track cache shared with the add-on (addon/vanelia_blender/core/cache.py
// documents it): $VANELIA_CACHE_DIR, else $XDG_CACHE_HOME/vanelia/tracks, else
// ~/.cache/vanelia/tracks; the raw (unaligned) classical track of VIDEO with
// options {start, end, every} is <folder>/<sha256 of VIDEO>/classical-<first
// 16 hex of sha256 of the canonical JSON {"end":E,"every":K,"start":S}>.json.
std::string CachedRawTrack(const ArgParser& args) {
  std::string folder;
  if (const char* env = std::getenv("VANELIA_CACHE_DIR"); env && *env) {
    folder = env;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    folder = std::string(xdg) + "/vanelia/tracks";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    folder = std::string(home) + "/.cache/vanelia/tracks";
  } else {
    return "";
  }
  const auto number = [&args](const char* name, const char* fallback) {
    return std::to_string(
        std::stoll(args.Has(name) ? args.Get(name) : std::string(fallback)));
  };
  const std::string options =
      "{\"end\":" + number("--end", "-1") +
      ",\"every\":1,\"start\":" + number("--start", "0") + "}";
  return folder + "/" + Sha256OfFile(args.Get("VIDEO")) + "/classical-" +
         Sha256(options).substr(0, 16) + ".json";
}

// Tracks VIDEO with the default tracker (`vanelia track`; a cached raw track
// is reused, a new one is cached), then aligns the track to the floor
// (`vanelia align`, with --camera-height) when this build has it. Returns the
// track file to render with.
std::string TrackFirst(const ArgParser& args, const std::string& dir) {
  const Command* track = FindCommand("track");
  if (track == nullptr) {
    throw UsageError(
        "no --track given and tracking is not available in this build yet; "
        "pass --track TRACK.json (for footage with ground truth: "
        "`vanelia import-track gt.json -o TRACK.json`)");
  }
  const bool quiet = args.Flag("--quiet");
  const Command* align = FindCommand("align");
  const std::string total = align != nullptr ? "3" : "2";
  const std::string cached = align != nullptr ? CachedRawTrack(args) : "";
  const bool hit = !cached.empty() && IsFile(cached);
  const std::string raw = hit ? cached : dir + "/track.json";
  Args track_args = {args.Get("VIDEO"), "-o", raw};
  if (align != nullptr) track_args.push_back("--no-align");
  for (const char* name : {"--start", "--end"}) {
    if (args.Has(name)) {
      track_args.push_back(name);
      track_args.push_back(args.Get(name));
    }
  }
  if (quiet) track_args.push_back("--quiet");
  if (!quiet) {
    std::fprintf(
        stderr, "vanelia: stage 1/%s: tracking the camera\n", total.c_str());
  }
  if (hit) {
    if (!quiet) std::fprintf(stderr, "vanelia: reusing %s\n", cached.c_str());
  } else {
    if (track->run(track_args) != 0) return "";
    if (!cached.empty()) {
      std::error_code error;
      std::filesystem::create_directories(
          std::filesystem::path(cached).parent_path(), error);
      if (!error) WriteFileAtomic(cached, ReadFile(raw), true);
    }
  }
  if (align == nullptr) return raw;
  const std::string aligned = dir + "/aligned.json";
  Args align_args = {raw, "-o", aligned};
  if (args.Has("--camera-height")) {
    align_args.push_back("--camera-height");
    align_args.push_back(args.Get("--camera-height"));
  }
  if (quiet) align_args.push_back("--quiet");
  if (!quiet) {
    std::fprintf(stderr, "vanelia: stage 2/3: aligning to the floor\n");
  }
  if (align->run(align_args) != 0) return "";
  return aligned;
}

}  // namespace

int RunRun(const Args& argv) {
  ArgParser args("vanelia run",
                 "render PRODUCT.glb into VIDEO with Blender headless and "
                 "write an H.264 MP4 (source size, rate, frames and audio)");
  args.AddPositional("VIDEO", "the footage");
  args.AddPositional("PRODUCT", "the product, binary glTF 2.0 (.glb)");
  args.AddOutputOptions("final video (.mp4)");
  args.AddOption("--track",
                 "PATH",
                 "track file of VIDEO (default: track it first with the "
                 "default tracker)");
  args.AddOption("--samples",
                 "N",
                 "Cycles samples per pixel (the default: noise <= 2/255 RMS)",
                 "256");
  args.AddFrameRangeOptions();
  args.AddOption("--camera-height",
                 "M",
                 "height of the first camera above the floor, metres (sets "
                 "the scale; default 1.5 when VIDEO is tracked here, the "
                 "track's own scale with --track)");
  args.AddOption("--location",
                 "X Y Z",
                 "product floor point in metres (default: where frame 0's "
                 "image centre meets the floor)",
                 "",
                 3);
  args.AddOption(
      "--rotation-z", "DEG", "turn the product about Z, degrees", "0");
  args.AddOption("--height",
                 "M",
                 "scale the product to this height, metres (default: "
                 "its real size)");
  args.AddOption("--seed", "N", "Cycles noise seed", "0");
  args.AddOption("--threads", "N", "render threads (0 = all cores)", "0");
  args.AddFlag("--keep-blend", "also save the scene as FINAL.blend");
  args.AddOption("--blender",
                 "PATH",
                 "Blender executable (default: $VANELIA_BLENDER, then PATH)");
  args.SetEpilog(
      "Only the region where the product and its shadow can appear is\n"
      "rendered; the rest of each frame is the source, re-encoded.\n"
      "Exit codes: 0 done, 2 bad input (nothing written), 1 internal error,\n"
      "130 interrupted.");
  if (!args.Parse(argv)) return 0;
  if (!args.Has("--output")) {
    throw UsageError("vanelia run: -o/--output FINAL.mp4 is required");
  }
  const std::string video = args.Get("VIDEO");
  const std::string product = args.Get("PRODUCT");
  const std::string output = args.Get("--output");
  const bool overwrite = args.Flag("--overwrite");
  const bool quiet = args.Flag("--quiet");
  if (!IsFile(video)) throw UsageError("video '" + video + "': no such file");
  if (!IsFile(product)) {
    throw UsageError("product '" + product + "': no such file");
  }
  CheckCanWrite(output, overwrite, "output");
  if (args.GetInt("--samples") < 1) {
    throw UsageError("--samples " + args.Get("--samples") + ": must be >= 1");
  }
  const std::string blender = FindBlender(args);
  const std::string addon = FindAddon();

  char dir_template[] = "/tmp/vanelia-run-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    throw InternalError(std::string("mkdtemp: ") + std::strerror(errno));
  }
  const std::string dir = dir_template;
  std::string track;
  if (args.Has("--track")) {
    track = args.Get("--track");
    if (!IsFile(track)) throw UsageError("track '" + track + "': no such file");
  } else {
    track = TrackFirst(args, dir);
    if (track.empty()) return 2;
  }

  std::vector<std::string> command = {blender,
                                      "-b",
                                      "--factory-startup",
                                      "--python",
                                      addon + "/vanelia_blender/batch.py",
                                      "--",
                                      "--video",
                                      video,
                                      "--product",
                                      product,
                                      "--track",
                                      track,
                                      "--output",
                                      output};
  for (const char* name : {"--samples",
                           "--start",
                           "--end",
                           "--every",
                           "--rotation-z",
                           "--height",
                           "--seed",
                           "--threads"}) {
    if (args.Has(name)) {
      command.push_back(name);
      command.push_back(args.Get(name));
    }
  }
  if (args.Has("--camera-height") && args.Has("--track")) {
    command.push_back("--camera-height");
    command.push_back(args.Get("--camera-height"));
  }
  if (args.Has("--location")) {
    std::string triple;
    for (const std::string& value : args.GetAll("--location")) {
      args.ParseDouble("--location", value);
      triple += (triple.empty() ? "" : ",") + value;
    }
    command.push_back("--location=" + triple);
  }
  for (const char* flag : {"--overwrite", "--keep-blend", "--quiet"}) {
    if (args.Flag(flag)) command.push_back(flag);
  }
  if (!quiet) {
    const char* stage = args.Has("--track")               ? "1/1"
                        : FindCommand("align") != nullptr ? "3/3"
                                                          : "2/2";
    std::fprintf(stderr,
                 "vanelia: stage %s: rendering with %s\n",
                 stage,
                 blender.c_str());
  }
  const std::string log_path = dir + "/blender.log";
  const int code = Spawn(command, log_path);
  if (code != 0 && code != 2 && code != 130) PrintLogTail(log_path);
  std::remove(log_path.c_str());
  std::remove((dir + "/track.json").c_str());
  std::remove((dir + "/aligned.json").c_str());
  rmdir(dir.c_str());
  if (code == 0 || code == 2 || code == 130) return code;
  return 1;
}

}  // namespace vanelia::cli
