// Private: the overlay stage's composite in linear light. The plate's YUV is
// decoded to its R'G'B' signal and linearised with its transfer; the render
// (straight-alpha RGBA, sRGB-encoded Rec.709: Blender's Standard view) is
// linearised, converted to the plate's primaries and placed at the plate's
// reference white; the two are mixed, out = render * a + plate * (1 - a)
// (a black render with alpha a is the shadow: the plate's light multiplied
// by 1 - a), and the result is encoded back in the plate's transfer, matrix
// and range. Only samples the render covers change: the composite is added
// to the plate's own samples as a delta, so where a = 0 the plate stays as
// decoded, to the bit.
//
// Transfers (the plate's colour tags, FFmpeg's names):
// - SDR (anything but the two below): the sRGB curve (IEC 61966-2-1), both
//   ways, as Blender's Standard view shows the plate and the render, so the
//   encode equals Blender's own compositor's Alpha Over (the passes'
//   composite). Render white = plate white.
// - HLG (arib-std-b67): BT.2100's inverse OETF and OETF; the mix is in scene
//   light, before the OOTF (the OOTF is the display's rendering and is not
//   applied: scene light is where the camera's light, and a shadow's
//   multiplication of it, are linear). Render white at HDR reference white,
//   75 % signal (BT.2408): scene light 0.2650.
// - PQ (smpte2084): SMPTE ST 2084's EOTF and inverse; the mix is in display
//   light (PQ is display-referred), 1.0 = 10000 cd/m2. Render white at
//   203 cd/m2 (BT.2408).
// Primaries: bt2020 plates get the render through BT.2087's Rec.709 ->
// BT.2020 matrix; other plates take the render's Rec.709 as it is.
#pragma once

#include <string>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
}

namespace vanelia::internal {

enum class Transfer { kSrgb, kHlg, kPq };

// IEC 61966-2-1: signal [0, 1] <-> linear [0, 1].
double SrgbToLinear(double signal);
double LinearToSrgb(double linear);
// BT.2100 HLG: scene light [0, 1] <-> signal [0, 1].
double HlgOetf(double scene);
double HlgInverseOetf(double signal);
// SMPTE ST 2084: signal [0, 1] <-> display light / 10000 cd/m2.
double PqEotf(double signal);
double PqInverseEotf(double display);

// The plate's light: its transfer, primaries and the render's white in it.
struct PlateLight {
  Transfer transfer = Transfer::kSrgb;
  bool bt2020 = false;        // BT.2020 primaries: the render is converted
  double render_white = 1.0;  // the render's linear 1.0 in the plate's light

  // From FFmpeg's names of the plate's transfer and primaries.
  static PlateLight FromTags(const std::string& transfer,
                             const std::string& primaries);

  double ToLinear(double signal) const;
  double ToSignal(double linear) const;
};

// Composites straight-alpha renders over planar YUV plates (8-bit, or 9 to
// 16 bits in 16-bit samples; any chroma subsampling) in `light`, with the
// YUV matrix `matrix` (bt601, bt709, bt2020, smpte240m, fcc) and range.
class LinearCompositor {
 public:
  LinearCompositor(const PlateLight& light,
                   const std::string& matrix,
                   bool full_range);

  // `render`: AV_PIX_FMT_RGBA or AV_PIX_FMT_RGBA64LE, the plate's size.
  // Each chroma sample gets the mean of its luma pixels' chroma deltas.
  void Composite(const AVFrame& render, AVFrame* plate);

 private:
  // sRGB code -> linear, for 8- or 16-bit renders (built on first use).
  const std::vector<double>& SrgbTable(int bits);

  PlateLight light_;
  double kr_ = 0.0;
  double kb_ = 0.0;
  bool full_range_ = false;
  std::vector<double> srgb8_;   // 256 entries
  std::vector<double> srgb16_;  // 65536 entries
};

}  // namespace vanelia::internal
