// The alignment options shared by `vanelia align`, `vanelia track` and
// `vanelia run`: --camera-height, --distance, --plane, --no-scale.
#pragma once

#include "vanelia/scene/alignment.hpp"
#include "vanelia/track/track_file.hpp"

#include "cli.hpp"

namespace vanelia::cli {

void AddAlignmentOptions(ArgParser* parser);

// Reads the options; --distance I J refers to entries of the track file's
// stored points, --plane takes three 3-D points (9 numbers) in the file's
// world. Throws UsageError naming the option.
AlignmentOptions AlignmentOptionsFromArgs(const ArgParser& args,
                                          const TrackFile& file);

// One line per fact of the alignment for the end-of-run summary.
std::string DescribeAlignment(const Alignment& alignment,
                              const TrackFile& file);

}  // namespace vanelia::cli
