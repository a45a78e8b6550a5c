// `vanelia align TRACK.json -o OUT.json`: puts an existing track into
// Blender's world (floor z = 0, Z up, metres) from its stored points,
// without tracking again. A plain floor's height is swept from the frames of
// the video (--video, or the track's own source when it is still there
// unchanged), as `vanelia track` does (AlignTrackFileWithFrames).
#include "vanelia/core/file_io.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/pipeline/track_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdio>

#include "align_options.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace vanelia::cli {

int RunAlign(const Args& argv) {
  ArgParser args("vanelia align",
                 "Re-align a track file to the floor (z = 0, Z up, metres) "
                 "from its stored 3-D points, without tracking again; a "
                 "plain floor's height from the video's frames (--video).");
  args.AddPositional("TRACK", "track file (vanelia-track JSON)");
  args.AddOutputOptions("aligned track file to write");
  AddAlignmentOptions(&args);
  args.AddOption("--video",
                 "VIDEO",
                 "the clip the track was made from, for a plain floor's "
                 "height sweep (default: the track's source when it is "
                 "still there with the recorded content hash; without "
                 "either the floor's height comes from the points alone)");
  if (!args.Parse(argv)) return 0;
  const std::string output = args.Get("--output");
  CheckCanWrite(
      output, args.Flag("--overwrite"), "output", {args.Get("TRACK")});
  TrackFile file = ReadTrackFile(args.Get("TRACK"));
  const Alignment alignment =
      AlignTrackFileWithFrames(AlignmentOptionsFromArgs(args, file),
                               args.Has("--video") ? args.Get("--video") : "",
                               &file);
  WriteTrackFile(output, file, args.Flag("--overwrite"));
  if (!args.Flag("--quiet")) {
    std::fprintf(stderr,
                 "vanelia align: wrote %s\n%s",
                 output.c_str(),
                 DescribeAlignment(alignment, file).c_str());
  }
  return 0;
}

}  // namespace vanelia::cli
