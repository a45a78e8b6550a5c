// DUSt3R preprocessing (load_images) against upstream's fixture folder
// `preprocessing/` under the DUSt3R root (VANELIA_DUST3R_FIXTURES or
// tests/data/dust3r). Every case of the manifest: the plan (resized size,
// filter, crop box, true_shape) exactly, and with libpng the pixels
// exactly (Pillow's resampler ported) and, where the folder holds it, the
// float tensor. The committed copy leaves out the two `_tensor.npy` files
// (3.5 MB, (u8/255 - 0.5)/0.5 of the `_uint8.npy` pixels); the shared
// folder has them and they are then compared bit for bit.
#include "vanelia/model/dust3r/dust3r_preprocess.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/model/blocks/preprocess.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#ifdef VANELIA_HAVE_PNG
#include <png.h>
#endif

#include "testing/npy_tensor.hpp"
#include <nlohmann/json.hpp>

namespace vanelia::model {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path Folder() {
  const char* env = std::getenv("VANELIA_DUST3R_FIXTURES");
  const fs::path root =
      env ? fs::path(env) : fs::path(VANELIA_SOURCE_DIR) / "tests/data/dust3r";
  return root / "preprocessing";
}

#ifdef VANELIA_HAVE_PNG
torch::Tensor ReadPngRgb(const fs::path& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&image, path.string().c_str()) == 0) {
    throw std::runtime_error("cannot read PNG " + path.string());
  }
  image.format = PNG_FORMAT_RGB;
  torch::Tensor rgb = torch::empty({static_cast<int64_t>(image.height),
                                    static_cast<int64_t>(image.width),
                                    3},
                                   torch::kUInt8);
  if (png_image_finish_read(
          &image, nullptr, rgb.data_ptr<uint8_t>(), 0, nullptr) == 0) {
    throw std::runtime_error("cannot decode PNG " + path.string());
  }
  return rgb;
}
#endif

// The input PNG of a case: the listed PNG whose stem starts the case name.
std::string InputPng(const json& m, const std::string& case_name) {
  std::string best;
  for (const auto& f : m.at("files")) {
    const std::string file = f.at("file").get<std::string>();
    const std::string stem = fs::path(file).stem().string();
    if (fs::path(file).extension() == ".png" && case_name.rfind(stem, 0) == 0 &&
        stem.size() > best.size()) {
      best = file;
    }
  }
  return best;
}

TEST(Dust3rPreprocess, LoadImagesCasesMatchUpstream) {
  std::ifstream in(Folder() / "manifest.json");
  ASSERT_TRUE(in.good()) << Folder();
  const json m = json::parse(in);
  int cases = 0;
  for (const auto& [name, c] : m.at("cases").items()) {
    SCOPED_TRACE(name);
    const int w = c.at("input_wh")[0].get<int>();
    const int h = c.at("input_wh")[1].get<int>();
    const Dust3rResizePlan plan =
        PlanDust3rResize(w, h, c.at("size").get<int>());
    EXPECT_EQ(plan.resized_width, c.at("resized_wh")[0].get<int>());
    EXPECT_EQ(plan.resized_height, c.at("resized_wh")[1].get<int>());
    EXPECT_EQ(plan.filter == PillowFilter::kLanczos ? "LANCZOS" : "BICUBIC",
              c.at("interp").get<std::string>());
    const auto& box = c.at("crop_box_ltrb");
    EXPECT_EQ(plan.crop_left, box[0].get<int>());
    EXPECT_EQ(plan.crop_top, box[1].get<int>());
    EXPECT_EQ(plan.crop_right, box[2].get<int>());
    EXPECT_EQ(plan.crop_bottom, box[3].get<int>());
    const torch::Tensor shape = testing::LoadNpyTensor(
        (Folder() / (name + "_true_shape.npy")).string());
    EXPECT_EQ(shape[0][0].item<int>(), plan.OutputHeight());
    EXPECT_EQ(shape[0][1].item<int>(), plan.OutputWidth());
#ifdef VANELIA_HAVE_PNG
    const std::string png = InputPng(m, name);
    ASSERT_FALSE(png.empty()) << "no input PNG for " << name;
    const torch::Tensor rgb = ReadPngRgb(Folder() / png);
    const torch::Tensor got = ApplyDust3rResize(rgb, plan);
    const torch::Tensor ref =
        testing::LoadNpyTensor((Folder() / (name + "_uint8.npy")).string());
    ASSERT_EQ(got.sizes(), ref.sizes());
    const int64_t diff = (got.to(torch::kInt32) - ref.to(torch::kInt32))
                             .abs()
                             .max()
                             .item<int64_t>();
    std::cout << "PARITY preprocessing " << name << "_uint8 max_abs " << diff
              << "\n";
    EXPECT_EQ(diff, 0);
    const fs::path tensor_file = Folder() / (name + "_tensor.npy");
    if (fs::exists(tensor_file)) {
      const torch::Tensor t = NormalizeImage(got).unsqueeze(0);
      EXPECT_TRUE(torch::equal(t, testing::LoadNpyTensor(tensor_file.string())))
          << tensor_file;
    }
#endif
    ++cases;
  }
  EXPECT_EQ(cases, 6);
}

TEST(Dust3rPreprocess, SourceIntrinsicsInvertThePlan) {
  // 1280x720 -> 512x288 (no crop): network pixel (x, y) covers source
  // pixels [2.5 x, 2.5 (x + 1)), so its centre is at 2.5 x + 0.75.
  const Dust3rResizePlan p = PlanDust3rResize(1280, 720, 512);
  const Intrinsics k = Dust3rSourceIntrinsics(400.0, p);
  EXPECT_DOUBLE_EQ(k.fx, 1000.0);
  EXPECT_DOUBLE_EQ(k.fy, 1000.0);
  EXPECT_DOUBLE_EQ(k.cx, 2.5 * 256 + 0.75);
  EXPECT_DOUBLE_EQ(k.cy, 2.5 * 144 + 0.75);
  EXPECT_EQ(k.width, 1280);
  // A crop shifts the principal point by the crop offset (square case).
  const Dust3rResizePlan sq = PlanDust3rResize(512, 512, 512);
  EXPECT_EQ(sq.crop_top, 64);
  EXPECT_DOUBLE_EQ(Dust3rSourceIntrinsics(100.0, sq).cy, 192.0 + 64.0);
  EXPECT_THROW(PlanDust3rResize(0, 10, 512), InputError);
  EXPECT_THROW(PlanDust3rResize(640, 360, -1), InputError);
}

}  // namespace
}  // namespace vanelia::model
