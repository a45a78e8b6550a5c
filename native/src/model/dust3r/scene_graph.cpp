// Scene graphs. Ports dust3r/image_pairs.py make_pairs (swin, logwin,
// oneref, symmetrize) for the non-cyclic walks of a video.
#include "vanelia/model/dust3r/scene_graph.hpp"

#include "vanelia/core/error.hpp"

#include <algorithm>
#include <set>

namespace vanelia::model {

SceneGraphKind SceneGraphFromName(const std::string& name,
                                  const std::string& what) {
  if (name == "swin") return SceneGraphKind::kSwin;
  if (name == "logwin") return SceneGraphKind::kLogwin;
  if (name == "oneref") return SceneGraphKind::kOneref;
  throw InputError(what + " '" + name + "': must be swin, logwin or oneref");
}

const char* SceneGraphName(SceneGraphKind kind) {
  switch (kind) {
    case SceneGraphKind::kSwin:
      return "swin";
    case SceneGraphKind::kLogwin:
      return "logwin";
    case SceneGraphKind::kOneref:
      return "oneref";
  }
  return "swin";
}

std::vector<std::pair<int64_t, int64_t>> MakePairs(int64_t n,
                                                   SceneGraphKind kind,
                                                   int64_t window) {
  if (n < 2) {
    throw InputError("scene graph: " + std::to_string(n) +
                     " images; needs at least 2");
  }
  const bool oneref = kind == SceneGraphKind::kOneref;
  if (oneref ? (window < 0 || window >= n) : (window < 1 || window > 30)) {
    throw InputError(std::string("scene graph ") + SceneGraphName(kind) +
                     ": window " + std::to_string(window) + "; must be " +
                     (oneref ? "a frame index in [0, " + std::to_string(n) + ")"
                             : std::string("in [1, 30]")));
  }
  std::set<std::pair<int64_t, int64_t>> ids;
  for (int64_t i = 0; i < n; ++i) {
    if (kind == SceneGraphKind::kSwin) {
      for (int64_t k = 1; k <= window && i + k < n; ++k) ids.insert({i, i + k});
    } else if (kind == SceneGraphKind::kLogwin) {
      for (int64_t k = 0; k < window; ++k) {
        const int64_t off = int64_t{1} << k;
        for (int64_t j : {i - off, i + off}) {
          if (j >= 0 && j < n) ids.insert({std::min(i, j), std::max(i, j)});
        }
      }
    } else if (i != window) {
      ids.insert({window, i});
    }
  }
  return {ids.begin(), ids.end()};
}

std::vector<std::pair<int64_t, int64_t>> Symmetrize(
    const std::vector<std::pair<int64_t, int64_t>>& pairs) {
  std::vector<std::pair<int64_t, int64_t>> out = pairs;
  for (const auto& [i, j] : pairs) out.emplace_back(j, i);
  return out;
}

}  // namespace vanelia::model
