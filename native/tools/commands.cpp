#include "commands.hpp"

namespace vanelia::cli {

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
#ifdef VANELIA_HAVE_FFMPEG
    {"info", "describe a video: size, rotation, rate, frames, audio", &RunInfo},
#endif
#ifdef VANELIA_HAVE_ENCODE
    {"encode",
     "lay rendered frames over a video and encode it, audio copied",
     &RunEncode},
    {"proxy",
     "write an upright, constant-rate, lossless copy of a phone clip",
     &RunProxy},
#endif
#ifdef VANELIA_HAVE_TRACK
    {"import-track",
     "convert a gt.json or a COLMAP model into a track file",
     &RunImportTrack},
#endif
#if defined(VANELIA_HAVE_TRACK) && defined(VANELIA_HAVE_FFMPEG) && \
    (defined(VANELIA_HAVE_CLASSICAL_TRACKER) ||                    \
     defined(VANELIA_HAVE_MUST3R_TRACKER))
    {"track", "solve the camera of a video into a track file", &RunTrack},
#endif
#ifdef VANELIA_HAVE_FLOOR
    {"align",
     "put a track's floor at z = 0 (Z up, metres) without tracking again",
     &RunAlign},
#endif
#ifdef VANELIA_HAVE_RUN
    {"run",
     "render a product into a video with Blender, write the MP4",
     &RunRun},
    {"farm",
     "many clips on a render farm: submit (Slurm or local processes), "
     "status, and the steps the scheduler runs",
     &RunFarm},
    {"export",
     "the solved camera and points as FBX, Alembic, USD (Blender's "
     "exporters) or a Nuke .chan file",
     &RunExport},
#endif
#ifdef VANELIA_HAVE_CALL
    {"call",
     "run one native function on JSON arguments (the add-on's worker mode)",
     &RunCall},
#endif
  };
  return kCommands;
}

}  // namespace vanelia::cli
