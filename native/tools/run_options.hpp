// The render options `vanelia run` and `vanelia farm submit` share: samples,
// frame range, scale, placement, seed, threads, Blender, output codec.
#pragma once

#include "vanelia/pipeline/pipeline.hpp"

#include <string>

#include "cli.hpp"

namespace vanelia::cli {

void AddRenderOptions(ArgParser* args);

// Fills the render fields of `options` from parsed `args`.
void ReadRenderOptions(const ArgParser& args, PipelineOptions* options);

// --passes DIR and --passes-format FMT; `where` says which folder holds a
// clip's passes (run: DIR itself; farm: DIR/<clip name>).
void AddPassesOptions(ArgParser* args, const std::string& where);

// --passes-format, and `passes` as the folder (empty = no passes).
void ReadPassesOptions(const ArgParser& args,
                       const std::string& passes,
                       PipelineOptions* options);

}  // namespace vanelia::cli
