// The render options `vanelia run` and `vanelia farm submit` share: samples,
// frame range, scale, placement, seed, threads, Blender, output codec.
#pragma once

#include "vanelia/pipeline/pipeline.hpp"

#include "cli.hpp"

namespace vanelia::cli {

void AddRenderOptions(ArgParser* args);

// Fills the render fields of `options` from parsed `args`.
void ReadRenderOptions(const ArgParser& args, PipelineOptions* options);

}  // namespace vanelia::cli
