// `vanelia align TRACK.json -o OUT.json`: puts an existing track into
// Blender's world (floor z = 0, Z up, metres) from its stored points,
// without tracking again.
#include "vanelia/core/file_io.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdio>

#include "align_options.hpp"
#include "cli.hpp"
#include "commands.hpp"

namespace vanelia::cli {

int RunAlign(const Args& argv) {
  ArgParser args("vanelia align",
                 "Re-align a track file to the floor (z = 0, Z up, metres) "
                 "from its stored 3-D points, without tracking again.");
  args.AddPositional("TRACK", "track file (vanelia-track JSON)");
  args.AddOutputOptions("aligned track file to write");
  AddAlignmentOptions(&args);
  if (!args.Parse(argv)) return 0;
  const std::string output = args.Get("--output");
  CheckCanWrite(
      output, args.Flag("--overwrite"), "output", {args.Get("TRACK")});
  TrackFile file = ReadTrackFile(args.Get("TRACK"));
  const AlignmentOptions options = AlignmentOptionsFromArgs(args, file);
  const Alignment alignment = AlignTrackFile(options, &file);
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
