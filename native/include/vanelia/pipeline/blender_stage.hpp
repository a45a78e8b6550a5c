// Blender headless running one of the add-on's entry points: the render
// stage of the pipeline (addon/vanelia_blender/batch.py, which builds the
// scene, renders the product's region, lays it over the plate and encodes
// the MP4) and `vanelia export` (addon/vanelia_blender/export_camera.py).
//
// Blender runs in its own process group with its stdout in a log file (shown
// only when it fails) and its stderr read line by line: batch.py's JSON
// progress lines (`--progress json`) become RunEvents, any other line is
// passed on as a log line. A stop request (Ctrl-C, SIGTERM, a cancelling
// callback) stops Blender's whole group and removes what it was writing.
#pragma once

#include "vanelia/pipeline/run_events.hpp"

#include <string>
#include <vector>

namespace vanelia {

// The Blender executable: `given` when not empty (InputError naming
// `option` unless it is an executable file), else $VANELIA_BLENDER, else
// `blender` on PATH; InputError saying how to get one when none is found.
std::string FindBlender(const std::string& given, const std::string& option);

// The folder holding vanelia_blender/: `given` when not empty, else
// $VANELIA_ADDON_DIR (InputError when either has no
// vanelia_blender/batch.py), else <exe>/../share/vanelia/addon (installed),
// else the source tree this library was built from.
std::string FindAddon(const std::string& given = "");

struct BlenderJob {
  std::string blender;  // executable (FindBlender)
  std::string addon;    // folder holding vanelia_blender/
  // The entry point Blender runs, relative to `addon`.
  std::string script = "vanelia_blender/batch.py";
  std::vector<std::string> args;  // the script's arguments (after "--")
  std::string log_path;           // Blender's stdout goes here
  // The file the script writes (first as OUTPUT.tmp-<Blender's pid>*).
  std::string output;
  // The output did not exist before this run: a stop removes it even when
  // the script had just renamed it into place (a stopped run leaves nothing).
  bool output_is_new = true;
};

struct BlenderRun {
  int exit_code = 0;  // Blender's exit status; 128 + signal when killed
  // batch.py's own error line ("vanelia: error: X" or "vanelia: internal
  // error: X"), without its prefix; such lines are not forwarded, the
  // caller reports the error once.
  std::string error;
  // Its stdout began with Blender's banner ("Blender 3.4.1 ..."): the
  // program really is Blender.
  bool printed_banner = false;
};

// Runs the job. Throws Cancelled once `reporter` says a stop was requested,
// after Blender's process group has stopped and the script's temporary
// output (OUTPUT.tmp-<pid>*, e.g. batch.py's OUTPUT.tmp-<pid>.mp4), and a
// new OUTPUT finished in the meantime, are removed.
BlenderRun RunBlender(const BlenderJob& job, RunReporter* reporter);

// Runs the job (RunBlender) and turns its outcome into errors: not Blender
// (no banner) or exit 2 -> InputError (the script's error line), 130 ->
// Cancelled, any other failure -> InternalError with the log's tail.
void RunBlenderScript(const BlenderJob& job, RunReporter* reporter);

// The last `max_bytes` of a log file, "" when it cannot be read.
std::string LogTail(const std::string& path, size_t max_bytes = 4000);

}  // namespace vanelia
