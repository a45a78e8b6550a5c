// The overlay stage's linear-light composite: transfer functions (IEC
// 61966-2-1 sRGB, ITU-R BT.2100 HLG, SMPTE ST 2084 PQ), BT.2087's Rec.709 ->
// BT.2020 matrix, BT.2408's reference whites, and the YUV <-> R'G'B'
// equations of ITU-R BT.601/709/2020 (non-constant luminance).
#include "linear_light.hpp"

#include "vanelia/core/check.hpp"
#include "vanelia/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace vanelia::internal {
namespace {

// BT.2100 HLG constants.
constexpr double kHlgA = 0.17883277;
constexpr double kHlgB = 0.28466892;
constexpr double kHlgC = 0.55991073;
// SMPTE ST 2084 constants.
constexpr double kPqM1 = 2610.0 / 16384.0;
constexpr double kPqM2 = 2523.0 / 4096.0 * 128.0;
constexpr double kPqC1 = 3424.0 / 4096.0;
constexpr double kPqC2 = 2413.0 / 4096.0 * 32.0;
constexpr double kPqC3 = 2392.0 / 4096.0 * 32.0;
// BT.2408: HDR reference white, HLG signal and PQ display light.
constexpr double kHlgReferenceSignal = 0.75;
constexpr double kPqReferenceNits = 203.0;
// BT.2087: linear Rec.709 RGB -> linear BT.2020 RGB.
constexpr double kBt709ToBt2020[3][3] = {
    {0.627403914928436, 0.329283038616180, 0.043313046455383},
    {0.069097289228439, 0.919540429115295, 0.011362281488180},
    {0.016391439363360, 0.088013307750225, 0.895595252513886},
};

double Clamp01(double v) {
  return std::clamp(v, 0.0, 1.0);
}

// (Kr, Kb) of a YUV matrix name (overlay_frames.hpp's SwsMatrixOf names).
void MatrixCoefficients(const std::string& matrix, double* kr, double* kb) {
  if (matrix == "bt709") {
    *kr = 0.2126, *kb = 0.0722;
  } else if (matrix == "bt2020") {
    *kr = 0.2627, *kb = 0.0593;
  } else if (matrix == "smpte240m") {
    *kr = 0.212, *kb = 0.087;
  } else if (matrix == "fcc") {
    *kr = 0.30, *kb = 0.11;
  } else if (matrix == "bt601") {
    *kr = 0.299, *kb = 0.114;
  } else {
    throw InputError("matrix '" + matrix +
                     "': must be bt601, bt709, bt2020, smpte240m or fcc");
  }
}

// A plane's code <-> normalised value: v = (code - offset) / scale.
struct Codes {
  double offset = 0.0;
  double scale = 1.0;
  int max = 255;
};

Codes LumaCodes(int depth, bool full) {
  const int max = (1 << depth) - 1;
  if (full) return {0.0, static_cast<double>(max), max};
  return {16.0 * (1 << (depth - 8)), 219.0 * (1 << (depth - 8)), max};
}

Codes ChromaCodes(int depth, bool full) {
  const int max = (1 << depth) - 1;
  if (full) return {static_cast<double>(1 << (depth - 1)), 1.0 * max, max};
  return {128.0 * (1 << (depth - 8)), 224.0 * (1 << (depth - 8)), max};
}

template <typename T>
T* Sample(AVFrame* frame, int plane, int x, int y) {
  return reinterpret_cast<T*>(frame->data[plane] + static_cast<ptrdiff_t>(y) *
                                                       frame->linesize[plane]) +
         x;
}

template <typename T>
T AddDelta(T code, double delta, const Codes& codes) {
  const double v = std::round(code + delta * codes.scale);
  return static_cast<T>(std::clamp(v, 0.0, static_cast<double>(codes.max)));
}

}  // namespace

double SrgbToLinear(double signal) {
  const double s = Clamp01(signal);
  return s <= 0.04045 ? s / 12.92 : std::pow((s + 0.055) / 1.055, 2.4);
}

double LinearToSrgb(double linear) {
  const double l = Clamp01(linear);
  return l <= 0.0031308 ? 12.92 * l : 1.055 * std::pow(l, 1.0 / 2.4) - 0.055;
}

double HlgOetf(double scene) {
  const double e = Clamp01(scene);
  return e <= 1.0 / 12.0 ? std::sqrt(3.0 * e)
                         : kHlgA * std::log(12.0 * e - kHlgB) + kHlgC;
}

double HlgInverseOetf(double signal) {
  const double s = Clamp01(signal);
  return s <= 0.5 ? s * s / 3.0
                  : (std::exp((s - kHlgC) / kHlgA) + kHlgB) / 12.0;
}

double PqEotf(double signal) {
  const double p = std::pow(Clamp01(signal), 1.0 / kPqM2);
  return std::pow(std::max(p - kPqC1, 0.0) / (kPqC2 - kPqC3 * p), 1.0 / kPqM1);
}

double PqInverseEotf(double display) {
  const double y = std::pow(Clamp01(display), kPqM1);
  return std::pow((kPqC1 + kPqC2 * y) / (1.0 + kPqC3 * y), kPqM2);
}

PlateLight PlateLight::FromTags(const std::string& transfer,
                                const std::string& primaries) {
  PlateLight light;
  light.bt2020 = primaries == "bt2020";
  if (transfer == "arib-std-b67") {
    light.transfer = Transfer::kHlg;
    light.render_white = HlgInverseOetf(kHlgReferenceSignal);
  } else if (transfer == "smpte2084") {
    light.transfer = Transfer::kPq;
    light.render_white = kPqReferenceNits / 10000.0;
  }
  return light;
}

double PlateLight::ToLinear(double signal) const {
  switch (transfer) {
    case Transfer::kHlg:
      return HlgInverseOetf(signal);
    case Transfer::kPq:
      return PqEotf(signal);
    case Transfer::kSrgb:
      break;
  }
  return SrgbToLinear(signal);
}

double PlateLight::ToSignal(double linear) const {
  switch (transfer) {
    case Transfer::kHlg:
      return HlgOetf(linear);
    case Transfer::kPq:
      return PqInverseEotf(linear);
    case Transfer::kSrgb:
      break;
  }
  return LinearToSrgb(linear);
}

LinearCompositor::LinearCompositor(const PlateLight& light,
                                   const std::string& matrix,
                                   bool full_range)
    : light_(light), full_range_(full_range) {
  MatrixCoefficients(matrix, &kr_, &kb_);
  SrgbTable(8);
}

const std::vector<double>& LinearCompositor::SrgbTable(int bits) {
  std::vector<double>& table = bits == 8 ? srgb8_ : srgb16_;
  if (table.empty()) {
    const int size = 1 << bits;
    table.resize(size);
    for (int i = 0; i < size; ++i) {
      table[i] = SrgbToLinear(static_cast<double>(i) / (size - 1));
    }
  }
  return table;
}

namespace {

// The render's pixel (x, y): sRGB codes through `table`, alpha in [0, 1].
template <typename R>
double ReadRender(const AVFrame& render,
                  const std::vector<double>& table,
                  int x,
                  int y,
                  double* rgb) {
  const R* px =
      reinterpret_cast<const R*>(render.data[0] + static_cast<ptrdiff_t>(y) *
                                                      render.linesize[0]) +
      4 * x;
  rgb[0] = table[px[0]];
  rgb[1] = table[px[1]];
  rgb[2] = table[px[2]];
  return static_cast<double>(px[3]) / static_cast<double>(table.size() - 1);
}

// The plate's YUV equations and the render's linear light in the plate's.
struct Setup {
  double kr, kb, kg;
  Codes luma, chroma;
  double render[3][3];  // linear Rec.709 -> the plate's primaries and white
};

// One plate of samples T under a render of samples R.
template <typename T, typename R>
void CompositePlanes(const AVFrame& render,
                     const std::vector<double>& table,
                     const PlateLight& light,
                     const Setup& setup,
                     int sx,
                     int sy,
                     AVFrame* plate) {
  const int width = plate->width;
  const int height = plate->height;
  const int chroma_w = AV_CEIL_RSHIFT(width, sx);
  const int chroma_h = AV_CEIL_RSHIFT(height, sy);
  const double cb_scale = 2.0 * (1.0 - setup.kb);
  const double cr_scale = 2.0 * (1.0 - setup.kr);
  for (int cy = 0; cy < chroma_h; ++cy) {
    const int y0 = cy << sy;
    const int y1 = std::min(y0 + (1 << sy), height);
    for (int cx = 0; cx < chroma_w; ++cx) {
      const int x0 = cx << sx;
      const int x1 = std::min(x0 + (1 << sx), width);
      T* cb_code = Sample<T>(plate, 1, cx, cy);
      T* cr_code = Sample<T>(plate, 2, cx, cy);
      const double cb = (*cb_code - setup.chroma.offset) / setup.chroma.scale;
      const double cr = (*cr_code - setup.chroma.offset) / setup.chroma.scale;
      double sum_cb = 0.0;
      double sum_cr = 0.0;
      int n = 0;
      bool covered = false;
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x, ++n) {
          double srgb_linear[3];
          const double a = ReadRender<R>(render, table, x, y, srgb_linear);
          if (a <= 0.0) continue;
          covered = true;
          T* y_code = Sample<T>(plate, 0, x, y);
          const double luma = (*y_code - setup.luma.offset) / setup.luma.scale;
          // The plate's R'G'B' signal (clipped to the signal range).
          const double r = Clamp01(luma + cr_scale * cr);
          const double b = Clamp01(luma + cb_scale * cb);
          const double g =
              Clamp01((luma - setup.kr * r - setup.kb * b) / setup.kg);
          const double signal[3] = {r, g, b};
          double delta[3];
          for (int c = 0; c < 3; ++c) {
            const double* m = setup.render[c];
            double mix = (m[0] * srgb_linear[0] + m[1] * srgb_linear[1] +
                          m[2] * srgb_linear[2]) *
                         a;
            if (a < 1.0) mix += light.ToLinear(signal[c]) * (1.0 - a);
            delta[c] = light.ToSignal(mix) - signal[c];
          }
          const double d_luma =
              setup.kr * delta[0] + setup.kg * delta[1] + setup.kb * delta[2];
          *y_code = AddDelta(*y_code, d_luma, setup.luma);
          sum_cb += (delta[2] - d_luma) / cb_scale;
          sum_cr += (delta[0] - d_luma) / cr_scale;
        }
      }
      if (!covered) continue;
      *cb_code = AddDelta(*cb_code, sum_cb / n, setup.chroma);
      *cr_code = AddDelta(*cr_code, sum_cr / n, setup.chroma);
    }
  }
}

}  // namespace

void LinearCompositor::Composite(const AVFrame& render, AVFrame* plate) {
  VANELIA_CHECK(render.width == plate->width && render.height == plate->height)
      << "render and plate sizes differ";
  VANELIA_CHECK(render.format == AV_PIX_FMT_RGBA ||
                render.format == AV_PIX_FMT_RGBA64LE)
      << "render format must be RGBA or RGBA64LE";
  const AVPixFmtDescriptor* desc =
      av_pix_fmt_desc_get(static_cast<AVPixelFormat>(plate->format));
  VANELIA_CHECK(desc != nullptr && (desc->flags & AV_PIX_FMT_FLAG_PLANAR) &&
                !(desc->flags & AV_PIX_FMT_FLAG_RGB) &&
                desc->nb_components >= 3 && desc->comp[0].plane == 0 &&
                desc->comp[1].plane == 1 && desc->comp[2].plane == 2)
      << "plate format must be planar YUV";
  const int depth = desc->comp[0].depth;
  const int error = av_frame_make_writable(plate);
  if (error < 0) throw Error("frame: out of memory");
  Setup setup{kr_,
              kb_,
              1.0 - kr_ - kb_,
              LumaCodes(depth, full_range_),
              ChromaCodes(depth, full_range_),
              {}};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      const double primaries =
          light_.bt2020 ? kBt709ToBt2020[r][c] : (r == c ? 1.0 : 0.0);
      setup.render[r][c] = primaries * light_.render_white;
    }
  }
  const int sx = desc->log2_chroma_w;
  const int sy = desc->log2_chroma_h;
  const bool wide_render = render.format == AV_PIX_FMT_RGBA64LE;
  const std::vector<double>& table = SrgbTable(wide_render ? 16 : 8);
  if (depth > 8) {
    if (wide_render) {
      CompositePlanes<uint16_t, uint16_t>(
          render, table, light_, setup, sx, sy, plate);
    } else {
      CompositePlanes<uint16_t, uint8_t>(
          render, table, light_, setup, sx, sy, plate);
    }
  } else if (wide_render) {
    CompositePlanes<uint8_t, uint16_t>(
        render, table, light_, setup, sx, sy, plate);
  } else {
    CompositePlanes<uint8_t, uint8_t>(
        render, table, light_, setup, sx, sy, plate);
  }
}

}  // namespace vanelia::internal
