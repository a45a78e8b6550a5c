// Strict state-dict loading (ports torch.nn.Module.load_state_dict with
// strict=True, plus the shape check it does per key).
#include "vanelia/model/checkpoint/state_dict.hpp"

#include "vanelia/core/error.hpp"

#include <sstream>
#include <vector>

namespace vanelia {

std::string ShapeString(const torch::Tensor& t) {
  std::ostringstream os;
  os << "[";
  for (int64_t d = 0; d < t.dim(); ++d) os << (d ? ", " : "") << t.size(d);
  os << "]";
  return os.str();
}

void LoadStateDictStrict(torch::nn::Module& module,
                         const StateDict& sd,
                         const std::string& what) {
  std::map<std::string, torch::Tensor> targets;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) {
    targets.emplace(p.key(), p.value());
  }
  for (const auto& b : module.named_buffers(/*recurse=*/true)) {
    targets.emplace(b.key(), b.value());
  }
  std::vector<std::string> problems;
  for (const auto& [name, target] : targets) {
    const auto it = sd.find(name);
    if (it == sd.end()) {
      problems.push_back("missing key '" + name + "' " + ShapeString(target) +
                         " (in the model, not in the file)");
    } else if (it->second.sizes() != target.sizes()) {
      problems.push_back("key '" + name + "' has shape " +
                         ShapeString(it->second) + " in the file but " +
                         ShapeString(target) + " in the model");
    }
  }
  for (const auto& [name, value] : sd) {
    if (targets.count(name) == 0) {
      problems.push_back("unexpected key '" + name + "' " + ShapeString(value) +
                         " (in the file, not in the model)");
    }
  }
  if (!problems.empty()) {
    std::string msg = what + ": state dict does not match the model (" +
                      std::to_string(problems.size()) + " problem" +
                      (problems.size() > 1 ? "s" : "") + "): ";
    const size_t shown = std::min<size_t>(problems.size(), 20);
    for (size_t i = 0; i < shown; ++i) msg += (i ? "; " : "") + problems[i];
    if (shown < problems.size()) {
      msg += "; ... and " + std::to_string(problems.size() - shown) + " more";
    }
    throw ModelError(msg);
  }
  torch::NoGradGuard no_grad;
  try {
    for (auto& [name, target] : targets) {
      target.copy_(sd.at(name));
    }
  } catch (const c10::Error& e) {
    throw ModelError(what + ": LibTorch error while copying weights: " +
                     e.what_without_backtrace());
  }
}

}  // namespace vanelia
