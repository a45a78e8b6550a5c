// The proxies of a run (proxy_stage.hpp).
#include "vanelia/pipeline/proxy_stage.hpp"

#include "vanelia/pipeline/product_placement.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cmath>
#include <optional>
#include <string>

namespace vanelia {

std::optional<ProxySet> BuildRunProxies(const PipelineOptions& options,
                                        const std::string& track_path) {
  const std::optional<TrackFile> file = ReadRunTrack(options, track_path);
  if (!file) return std::nullopt;
  const Eigen::Matrix3Xf points =
      file->points ? file->points->xyz : Eigen::Matrix3Xf(3, 0);
  return BuildProxies(points, ProxyOptions());
}

PipelineOptions WithProxies(const PipelineOptions& options,
                            const std::string& track_path,
                            RunReporter* reporter) {
  if (options.proxies != "auto" || !options.proxies_json.empty()) {
    return options;
  }
  const std::optional<ProxySet> set = BuildRunProxies(options, track_path);
  if (!set) return options;
  PipelineOptions with = options;
  with.proxies_json = ProxySetToJson(*set).dump();
  reporter->Log("proxies: " + DescribeProxies(*set));
  return with;
}

}  // namespace vanelia
