// DUSt3R preprocessing. Ports dust3r/utils/image.py load_images and
// _resize_pil_image, Pillow's Image.crop box rounding (round half to even)
// and Pillow 9.4 libImaging/Resample.c (8 bits per channel).
#include "vanelia/model/dust3r/dust3r_preprocess.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <torch/torch.h>

namespace vanelia::model {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

// Python's round(): half to even.
int RoundHalfEven(double x) {
  return static_cast<int>(std::nearbyint(x));
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double Lanczos(double x) {
  return (-3.0 <= x && x < 3.0) ? Sinc(x) * Sinc(x / 3.0) : 0.0;
}

double Bicubic(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis.
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // (xmin, count) per output pixel
  std::vector<int32_t> k;   // ksize per output pixel, 22-bit fixed point
};

Coeffs PrecomputeCoeffs(int in_size, int out_size, PillowFilter filter) {
  const double support_1 = filter == PillowFilter::kLanczos ? 3.0 : 2.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = support_1 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax =
        std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double arg = (x + xmin - center + 0.5) * ss;
      w[x] = filter == PillowFilter::kLanczos ? Lanczos(arg) : Bicubic(arg);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits)
                                     : 0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

uint8_t Clip8(int64_t in) {
  if (in >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<uint8_t>(in >> kPrecisionBits);
}

// One separable pass over `in` (rows x cols x 3) along `horizontal`, reading
// input rows from `row_offset` on.
std::vector<uint8_t> Pass(const std::vector<uint8_t>& in,
                          int in_cols,
                          int out_rows,
                          int out_cols,
                          bool horizontal,
                          int row_offset,
                          const Coeffs& c) {
  std::vector<uint8_t> out(static_cast<size_t>(out_rows) * out_cols * 3);
  for (int yy = 0; yy < out_rows; ++yy) {
    for (int xx = 0; xx < out_cols; ++xx) {
      const int o = horizontal ? xx : yy;
      const int lo = c.bounds[2 * o];
      const int n = c.bounds[2 * o + 1];
      const int32_t* k = &c.k[static_cast<size_t>(o) * c.ksize];
      int64_t ss[3] = {1 << (kPrecisionBits - 1),
                       1 << (kPrecisionBits - 1),
                       1 << (kPrecisionBits - 1)};
      for (int t = 0; t < n; ++t) {
        const int row = horizontal ? yy + row_offset : lo + t;
        const int col = horizontal ? lo + t : xx;
        const uint8_t* p = &in[(static_cast<size_t>(row) * in_cols + col) * 3];
        for (int ch = 0; ch < 3; ++ch) ss[ch] += int64_t{p[ch]} * k[t];
      }
      uint8_t* q = &out[(static_cast<size_t>(yy) * out_cols + xx) * 3];
      for (int ch = 0; ch < 3; ++ch) q[ch] = Clip8(ss[ch]);
    }
  }
  return out;
}

// _resize_pil_image: the long side to `long_edge`.
void ResizeLongEdge(Dust3rResizePlan* p, int long_edge) {
  const int s = std::max(p->source_width, p->source_height);
  p->filter = s > long_edge ? PillowFilter::kLanczos : PillowFilter::kBicubic;
  p->resized_width =
      RoundHalfEven(static_cast<double>(p->source_width) * long_edge / s);
  p->resized_height =
      RoundHalfEven(static_cast<double>(p->source_height) * long_edge / s);
}

}  // namespace

Dust3rResizePlan PlanDust3rResize(int source_width,
                                  int source_height,
                                  int size,
                                  bool square_ok,
                                  int patch_size) {
  if (size <= 0 || source_width <= 0 || source_height <= 0 || patch_size <= 0) {
    throw InputError("PlanDust3rResize: size = " + std::to_string(size) +
                     ", image " + std::to_string(source_width) + "x" +
                     std::to_string(source_height) + ", patch " +
                     std::to_string(patch_size) + "; all must be > 0");
  }
  Dust3rResizePlan p;
  p.source_width = source_width;
  p.source_height = source_height;
  const double w1 = source_width;
  const double h1 = source_height;
  if (size == 224) {
    ResizeLongEdge(&p, RoundHalfEven(size * std::max(w1 / h1, h1 / w1)));
  } else {
    ResizeLongEdge(&p, size);
  }
  const int cx = p.resized_width / 2;
  const int cy = p.resized_height / 2;
  double halfw = 0;
  double halfh = 0;
  if (size == 224) {
    halfw = halfh = std::min(cx, cy);
  } else {
    halfw = ((2 * cx) / patch_size) * patch_size / 2.0;
    halfh = ((2 * cy) / patch_size) * patch_size / 2.0;
    if (!square_ok && p.resized_width == p.resized_height) {
      halfh = 3.0 * halfw / 4.0;
    }
  }
  p.crop_left = RoundHalfEven(cx - halfw);
  p.crop_top = RoundHalfEven(cy - halfh);
  p.crop_right = RoundHalfEven(cx + halfw);
  p.crop_bottom = RoundHalfEven(cy + halfh);
  if (p.OutputWidth() < patch_size || p.OutputHeight() < patch_size) {
    throw InputError(
        "PlanDust3rResize: image " + std::to_string(source_width) + "x" +
        std::to_string(source_height) + " at size " + std::to_string(size) +
        " crops to " + std::to_string(p.OutputWidth()) + "x" +
        std::to_string(p.OutputHeight()) + "; must be at least one patch (" +
        std::to_string(patch_size) + ") each way");
  }
  return p;
}

std::vector<uint8_t> PillowResize(const std::vector<uint8_t>& rgb,
                                  int width,
                                  int height,
                                  int out_width,
                                  int out_height,
                                  PillowFilter filter) {
  VANELIA_CHECK(rgb.size() == static_cast<size_t>(width) * height * 3);
  VANELIA_CHECK(out_width > 0 && out_height > 0);
  const Coeffs horiz = PrecomputeCoeffs(width, out_width, filter);
  Coeffs vert = PrecomputeCoeffs(height, out_height, filter);
  const bool need_h = out_width != width;
  const bool need_v = out_height != height;
  std::vector<uint8_t> cur = rgb;
  int rows = height;
  if (need_h) {
    // Only the rows the vertical pass reads (ImagingResampleInner).
    const int first = vert.bounds[0];
    const int last =
        vert.bounds[2 * out_height - 2] + vert.bounds[2 * out_height - 1];
    for (int i = 0; i < out_height; ++i) vert.bounds[2 * i] -= first;
    rows = last - first;
    cur = Pass(cur, width, rows, out_width, true, first, horiz);
  }
  if (need_v) {
    cur = Pass(cur, out_width, out_height, out_width, false, 0, vert);
  }
  return cur;
}

torch::Tensor ApplyDust3rResize(const torch::Tensor& rgb,
                                const Dust3rResizePlan& plan) {
  if (rgb.dim() != 3 || rgb.size(2) != 3 ||
      rgb.scalar_type() != torch::kUInt8 || rgb.size(0) != plan.source_height ||
      rgb.size(1) != plan.source_width) {
    throw InputError("ApplyDust3rResize: image must be [" +
                     std::to_string(plan.source_height) + ", " +
                     std::to_string(plan.source_width) + ", 3] uint8");
  }
  const torch::Tensor src = rgb.to(torch::kCPU).contiguous();
  std::vector<uint8_t> pixels(src.data_ptr<uint8_t>(),
                              src.data_ptr<uint8_t>() + src.numel());
  const std::vector<uint8_t> resized = PillowResize(pixels,
                                                    plan.source_width,
                                                    plan.source_height,
                                                    plan.resized_width,
                                                    plan.resized_height,
                                                    plan.filter);
  const torch::Tensor full =
      torch::from_blob(const_cast<uint8_t*>(resized.data()),
                       {plan.resized_height, plan.resized_width, 3},
                       torch::kUInt8);
  return full.slice(0, plan.crop_top, plan.crop_bottom)
      .slice(1, plan.crop_left, plan.crop_right)
      .clone();
}

Intrinsics Dust3rSourceIntrinsics(double focal_px,
                                  const Dust3rResizePlan& plan) {
  const double sx = static_cast<double>(plan.source_width) / plan.resized_width;
  const double sy =
      static_cast<double>(plan.source_height) / plan.resized_height;
  Intrinsics k;
  k.fx = focal_px * sx;
  k.fy = focal_px * sy;
  k.cx = (plan.OutputWidth() / 2.0 + plan.crop_left + 0.5) * sx - 0.5;
  k.cy = (plan.OutputHeight() / 2.0 + plan.crop_top + 0.5) * sy - 0.5;
  k.width = plan.source_width;
  k.height = plan.source_height;
  return k;
}

}  // namespace vanelia::model
