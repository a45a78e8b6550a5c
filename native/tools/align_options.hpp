// The alignment options shared by `vanelia align`, `vanelia track` and
// `vanelia run`: --camera-height, --distance, --plane, --no-scale.
#pragma once

#include "vanelia/floor/alignment.hpp"
#include "vanelia/pipeline/track_stage.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include "cli.hpp"

namespace vanelia::cli {

void AddAlignmentOptions(ArgParser* parser);

// Checks what can be checked before a track exists: --camera-height > 0 and
// no two ways of setting the scale at once (--camera-height given with
// --no-scale or --distance). Throws UsageError naming the options.
void CheckAlignmentArgs(const ArgParser& args);

// Reads the options (CheckAlignmentArgs first); --distance I J refers to
// entries of the track file's stored points, --plane takes three 3-D points (9
// numbers) in the file's world. Throws UsageError naming the option.
AlignmentOptions AlignmentOptionsFromArgs(const ArgParser& args,
                                          const TrackFile& file);

}  // namespace vanelia::cli
