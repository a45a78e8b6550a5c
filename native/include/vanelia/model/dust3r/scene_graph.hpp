// Which image pairs DUSt3R runs on a clip (upstream dust3r/image_pairs.py
// make_pairs): bounded graphs whose pair count grows linearly with the
// clip, never the complete graph.
//   swin:   i with i+1 .. i+window (non-cyclic: a walk is not linked back to
//           its first frame; upstream's "swin-N-noncyclic");
//   logwin: i with i +- 2^k, k < window ("logwin-N-noncyclic");
//   oneref: every frame with frame `window` (upstream "oneref-N").
// Pairs are unordered (i < j) and sorted; Symmetrize appends (j, i) after
// all of them, as make_pairs(symmetrize=True) does.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vanelia::model {

enum class SceneGraphKind { kSwin, kLogwin, kOneref };

// "swin", "logwin" or "oneref"; InputError naming `what` otherwise.
SceneGraphKind SceneGraphFromName(const std::string& name,
                                  const std::string& what);

const char* SceneGraphName(SceneGraphKind kind);

// n images; window: swin/logwin size (>= 1), oneref: the reference index.
// InputError for n < 2 or a window out of range.
std::vector<std::pair<int64_t, int64_t>> MakePairs(int64_t n,
                                                   SceneGraphKind kind,
                                                   int64_t window);

std::vector<std::pair<int64_t, int64_t>> Symmetrize(
    const std::vector<std::pair<int64_t, int64_t>>& pairs);

}  // namespace vanelia::model
