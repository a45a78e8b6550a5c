// The stages of a run as functions, for RunPipeline (pipeline.cpp) and the
// farm's steps (farm.cpp), so that both run the same code. Private to the
// pipeline module.
#pragma once

#include "vanelia/decode/video_reader.hpp"
#include "vanelia/pipeline/blender_stage.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <string>
#include <vector>

namespace vanelia::internal {

// Tracks options.video with the classical tracker (stage "track"), or
// reuses the cached raw track; writes DIR/track.json and returns the raw
// track as read back from its text.
TrackFile TrackOrReuse(const PipelineOptions& options,
                       const std::string& dir,
                       RunReporter* reporter,
                       bool* from_cache);

// Puts the raw track on the floor (stage "align"); writes and returns
// DIR/aligned.json.
std::string AlignToFloor(const PipelineOptions& options,
                         TrackFile track,
                         const std::string& dir,
                         RunReporter* reporter);

// --start/--end against the clip: InputError past its end.
void CheckFrameRange(const PipelineOptions& options, const VideoReader& probe);

// batch.py's arguments for the one-process render of `options` with the
// aligned track `track`, scratch folder `dir`.
std::vector<std::string> BatchArgs(const PipelineOptions& options,
                                   const std::string& track,
                                   const std::string& dir);

// A double as batch.py reads it back exactly ("%.17g").
std::string FormatNumber(double value);

}  // namespace vanelia::internal
