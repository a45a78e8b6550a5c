// The alignment options shared by `vanelia align`, `vanelia track` and
// `vanelia run`: --camera-height, --distance, --plane, --no-scale.
#pragma once

#include "vanelia/floor/alignment.hpp"
#include "vanelia/pipeline/track_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include "cli.hpp"

namespace vanelia::cli {

void AddAlignmentOptions(ArgParser* parser);

// Reads the options; --distance I J refers to entries of the track file's
// stored points, --plane takes three 3-D points (9 numbers) in the file's
// world. Throws UsageError naming the option.
AlignmentOptions AlignmentOptionsFromArgs(const ArgParser& args,
                                          const TrackFile& file);

}  // namespace vanelia::cli
