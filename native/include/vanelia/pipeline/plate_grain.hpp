// The plate's grain for a run (issue 21): the noise of a few frames of the
// clip (core/image_noise.hpp), handed to the render so that the product and
// its shadow get the same (addon/vanelia_blender/render/grain.py).
#pragma once

#include "vanelia/core/image_noise.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"

#include <cstdint>
#include <string>

namespace vanelia {

// The noise of up to `max_frames` frames of `video` spread evenly over the
// decoded frames [start, end) (end -1 = the clip's end), at full resolution
// and upright as the plate is rendered. Throws DecodeError for a clip that
// does not decode; an image without flat areas gives `valid` false.
ImageNoise MeasurePlateGrain(const std::string& video,
                             int64_t start,
                             int64_t end,
                             int max_frames = 8);

// `options` with grain_sigma_px set from the plate when grain is "auto" and
// none is given (the measure is reported), unchanged otherwise.
PipelineOptions WithGrain(const PipelineOptions& options,
                          RunReporter* reporter);

}  // namespace vanelia
