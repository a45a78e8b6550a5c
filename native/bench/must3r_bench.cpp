// MUSt3R video-mode benchmark: random weights in the real MUSt3R sizes
// (ViT-L encoder 1024/24/16, ViT-B decoder 768/12/12, kv memory, single_mlp
// feedback, linear head), video mode as upstream's must3r_inference_video.
//
//   must3r_bench [--size 224|512] [--frames N] [--device cpu|cuda]
//                [--dtype fp32|bf16|fp16] [--init 8] [--batch 4]
//                [--local-context 25] [--repetitions 1]
//
// Prints one JSON line per run: s/frame and frames/s over the whole loop,
// plus the encoder-only time. Sanity: every output is finite.
#include "vanelia/model/must3r.hpp"
#include "vanelia/model/must3r_video.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <torch/torch.h>

#include "bench_harness.hpp"

namespace {

using vanelia::model::Must3rModel;

struct Args {
  int size = 512;
  int frames = 4;
  std::string device = "cpu";
  std::string dtype = "fp32";
  int init = 8;
  int batch = 4;
  int local_context = 25;
  int repetitions = 1;
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--size")
      a.size = std::stoi(v);
    else if (k == "--frames")
      a.frames = std::stoi(v);
    else if (k == "--device")
      a.device = v;
    else if (k == "--dtype")
      a.dtype = v;
    else if (k == "--init")
      a.init = std::stoi(v);
    else if (k == "--batch")
      a.batch = std::stoi(v);
    else if (k == "--local-context")
      a.local_context = std::stoi(v);
    else if (k == "--repetitions")
      a.repetitions = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  torch::manual_seed(0);
  vanelia::EncoderConfig enc;
  enc.img_size_h = enc.img_size_w = args.size;
  enc.embed_dim = 1024;
  enc.depth = 24;
  enc.num_heads = 16;
  enc.patch_embed = vanelia::PatchEmbedKind::kManyAr;
  vanelia::DecoderConfig dec;
  dec.img_size_h = dec.img_size_w = args.size;
  dec.enc_embed_dim = 1024;
  dec.embed_dim = 768;
  dec.depth = 12;
  dec.num_heads = 12;
  dec.memory_mode = vanelia::MemoryMode::kKv;
  dec.feedback_type = vanelia::FeedbackType::kSingleMlp;
  Must3rModel model = vanelia::model::MakeMust3rModel(enc, dec);
  const torch::Device device(args.device);
  const torch::Dtype dtype = args.dtype == "bf16"   ? torch::kBFloat16
                             : args.dtype == "fp16" ? torch::kFloat16
                                                    : torch::kFloat32;
  model.To(device, torch::kFloat32);
  const int64_t h = args.size == 224 ? 224 : 288;
  const int64_t w = args.size == 224 ? 224 : 512;
  const torch::Tensor images =
      (torch::rand({args.frames, 3, h, w}) * 2 - 1).to(device);
  vanelia::model::Must3rVideoOptions options;
  options.init_num_images = args.init;
  options.batch_num_views = args.batch;
  options.local_context_size = args.local_context;
  options.encoder_batch = 8;
  (void)dtype;  // mixed precision: issue 9

  torch::NoGradGuard no_grad;
  bool sane = true;
  const auto loop = vanelia::bench::Measure(
      [&] {
        const auto r = vanelia::model::RunMust3rVideo(model, images, options);
        sane = sane && torch::isfinite(r.frames.pts3d).all().item<bool>() &&
               torch::isfinite(r.frames.c2w).all().item<bool>();
      },
      args.repetitions,
      0);
  const auto encoder = vanelia::bench::Measure(
      [&] {
        for (int64_t s = 0; s < images.size(0); s += 8) {
          const int64_t e = std::min<int64_t>(images.size(0), s + 8);
          model.encoder->Encode(images.narrow(0, s, e - s));
        }
      },
      1,
      0);
  vanelia::bench::Report(
      "must3r_video_" + std::to_string(args.size) + "_" + args.device,
      loop,
      {{"frames", static_cast<double>(args.frames)},
       {"height", static_cast<double>(h)},
       {"width", static_cast<double>(w)},
       {"s_per_frame", loop.median_s / args.frames},
       {"frames_per_s", args.frames / loop.median_s},
       {"encoder_s_per_frame", encoder.median_s / args.frames},
       {"threads", static_cast<double>(torch::get_num_threads())}},
      sane);
  return sane ? 0 : 1;
}
