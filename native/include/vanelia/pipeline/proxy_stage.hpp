// The proxies of a run (issue 20): the holdout / shadow-catcher boxes of
// the real objects, built natively (floor/proxies.hpp) from the points of
// the run's aligned track before Blender starts, and handed to batch.py as
// JSON (`--proxies-json`), as placement and light are: a batch Blender has
// no _vanelia module, and the farm's build step gets the same boxes as the
// one-process run and the add-on's "Build scene".
#pragma once

#include "vanelia/floor/proxies.hpp"
#include "vanelia/pipeline/pipeline.hpp"
#include "vanelia/pipeline/run_events.hpp"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vanelia {

// The proxies of the run's track `track_path` (Blender world; a given track
// scaled to options.camera_height_m first, as batch.py does: ReadRunTrack);
// a track without points gives an empty set. nullopt when the track cannot
// be read or is not in Blender's world (batch.py refuses it with its own
// message).
std::optional<ProxySet> BuildRunProxies(const PipelineOptions& options,
                                        const std::string& track_path);

// The options Blender gets: with proxies "auto" (and none computed yet) the
// proxies of `track_path` in proxies_json, their summary logged through
// `reporter` ("proxies: N proxies (...)"). A track that cannot give them
// leaves proxies_json empty (batch.py then builds them itself when it can,
// and says so).
PipelineOptions WithProxies(const PipelineOptions& options,
                            const std::string& track_path,
                            RunReporter* reporter);

}  // namespace vanelia
