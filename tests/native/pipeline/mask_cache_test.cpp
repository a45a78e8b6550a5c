// The track cache key of a masked track (issue 17): ClassicalCacheOptions
// adds the masks' content digest, so `vanelia run --mask` never reuses an
// unmasked track (or one of other masks), and the key is the one the
// add-on's core/cache.py computes for the same request.
#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/pipeline/track_stage.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include <unistd.h>

namespace vanelia {
namespace {

namespace fs = std::filesystem;

// A folder of `count` 4x2 PGM masks; mask k has k white pixels.
std::string MaskFolder(const std::string& name, int count) {
  const std::string dir = std::string(VANELIA_BINARY_DIR) + "/test_tmp/mask_" +
                          name + "_" + std::to_string(::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int k = 0; k < count; ++k) {
    std::ofstream file(dir + "/m" + std::to_string(k) + ".pgm",
                       std::ios::binary);
    file << "P5\n4 2\n255\n";
    for (int i = 0; i < 8; ++i) file.put(static_cast<char>(i < k ? 255 : 0));
  }
  return dir;
}

TEST(TrackCache, MaskedKeyAddsTheMasksDigest) {
  const std::string masks = MaskFolder("a", 3);
  const nlohmann::json options = ClassicalCacheOptions(0, -1, masks);
  const std::string digest = SourceContentSha256(masks);
  EXPECT_EQ(options["mask_sha256"], digest);
  const std::string version = options["version"];
  const std::string canonical = "{\"end\":-1,\"every\":1,\"mask_sha256\":\"" +
                                digest + "\",\"start\":0,\"version\":\"" +
                                version + "\"}";
  const TrackCache cache("/cache");
  const std::string path = cache.PathFor("abc", "classical", options);
  EXPECT_EQ(
      path,
      "/cache/abc/classical-" + Sha256(canonical).substr(0, 16) + ".json");
  EXPECT_NE(path,
            cache.PathFor("abc", "classical", ClassicalCacheOptions(0, -1)));
  const std::string other = MaskFolder("b", 4);
  EXPECT_NE(
      path,
      cache.PathFor("abc", "classical", ClassicalCacheOptions(0, -1, other)));
  EXPECT_THROW(ClassicalCacheOptions(0, -1, masks + "/nope.png"), InputError);
}

}  // namespace
}  // namespace vanelia
