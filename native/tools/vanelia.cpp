// `vanelia`: the command-line front end of the native library.
//
//   vanelia SUBCOMMAND [options]      vanelia SUBCOMMAND --help
//
// Exit codes: 0 success, 2 bad input or usage (an unusable checkpoint
// included), 1 internal error,
// 130 interrupted.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <unistd.h>

#ifdef VANELIA_HAVE_FFMPEG
#include "vanelia/decode/video_reader.hpp"
#endif

#include "cli.hpp"
#include "commands.hpp"

namespace vanelia::cli {
namespace {

std::string MainHelp() {
  std::string help =
      "usage: vanelia SUBCOMMAND [options]\n\n"
      "Vanelia puts a product into real footage: it tracks the camera, finds\n"
      "the floor and renders the product into the clip with Blender.\n\n"
      "subcommands:\n";
  for (const Command& command : Commands()) {
    char line[256];
    std::snprintf(
        line, sizeof(line), "  %-14s %s\n", command.name, command.summary);
    help += line;
  }
  help +=
      "\nRun `vanelia SUBCOMMAND --help` for its options.\n"
      "Exit codes: 0 success, 2 bad input or usage, 1 internal error, "
      "130 interrupted.\n";
  return help;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" ||
      args[0] == "help") {
    std::fputs(MainHelp().c_str(), args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("vanelia %s\n", VANELIA_VERSION);
    return 0;
  }
  for (const Command& command : Commands()) {
    if (args[0] == command.name) {
      InstallInterruptHandler();
#ifdef VANELIA_HAVE_FFMPEG
      // Decoding problems come back as one error line naming the file;
      // libav's own log lines would only repeat them less clearly.
      SetLibavLogQuiet(true);
#endif
      return command.run(Args(args.begin() + 1, args.end()));
    }
  }
  throw UsageError("vanelia: unknown subcommand '" + args[0] +
                   "' (see vanelia --help)");
}

}  // namespace
}  // namespace vanelia::cli

// The Blender that `vanelia run` and the farm start runs the add-on's
// batch.py, which finds this CLI through $VANELIA_CLI for what it cannot do
// without the native module (plate proxies, probe, the overlay + encode):
// this very executable, unless the caller named one.
void ExportSelfAsCli() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return;
  self[n] = '\0';
  setenv("VANELIA_CLI", self, /*overwrite=*/0);
}

int main(int argc, char** argv) {
  ExportSelfAsCli();
  try {
    return vanelia::cli::Main(argc, argv);
  } catch (const vanelia::Cancelled& error) {
    std::fprintf(stderr, "\nvanelia: interrupted: %s\n", error.what());
    return 130;
  } catch (const vanelia::InputError& error) {
    std::fprintf(stderr, "vanelia: error: %s\n", error.what());
    return 2;
  } catch (const vanelia::ModelError& error) {
    // An unusable checkpoint is bad input too (wrong file, other resolution).
    std::fprintf(stderr, "vanelia: error: %s\n", error.what());
    return 2;
  } catch (const vanelia::Error& error) {
    std::fprintf(stderr, "vanelia: internal error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "vanelia: internal error: %s\n", error.what());
    return 1;
  }
}
