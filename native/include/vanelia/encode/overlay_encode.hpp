// The overlay + encode stage: the rendered product (straight-alpha RGBA
// PNGs, one per output frame) laid over the plate and encoded, with the
// source's audio copied, through FFmpeg's libraries (libavformat, libavcodec,
// libswscale) in this process: no `ffmpeg` executable. It is what
// encode/encode.py ran `ffmpeg -filter_complex ...overlay...` for.
//
// Frames. Output frame k shows plate frame first + k * every (decoded order
// = presentation order; the plate is upright and constant-rate: the source,
// or its proxy) under render k. The output rate is fps / every.
// Colour. The plate's YUV is converted only where the output's depth, chroma
// subsampling or range differ (swscale). The render (straight alpha, sRGB:
// Blender's Standard view, Rec.709) is composited in linear light
// (src/encode/linear_light.hpp): where it covers, the plate's YUV is decoded
// to R'G'B' (`matrix`, `output_range`) and linearised with the plate's
// transfer (`color_transfer`: HLG in scene light, PQ in display light, any
// other the sRGB curve as Blender shows it), the render is linearised,
// converted to the plate's primaries (`color_primaries` bt2020: BT.2087)
// and put at the plate's reference white (BT.2408: HLG 75 %, PQ 203 cd/m2),
// out = render * a + plate * (1 - a) (a black render with alpha a darkens
// the plate's light by 1 - a: the shadow), encoded back in the plate's
// transfer. Where the render is transparent the plate's samples are kept as
// they are (each chroma sample changes when one of its luma pixels is
// covered). So an HDR plate goes out HDR with its tags.
// Codecs (encode.py's CODECS): h264 (libx264 High 8-bit 4:2:0, CRF 10,
// preset medium, MP4), h264_preview (libx264 veryfast CRF 12), hevc (libx265
// Main 10, CRF 10, MP4 tagged hvc1), prores (prores_ks 422 HQ 10-bit,
// QuickTime), dnxhr (DNxHR HQX 10-bit 4:2:2, QuickTime).
// Audio. The first audio stream of `audio_path` from the time of plate frame
// `first` for the output's duration, packets copied (no re-encode), as
// `ffmpeg -ss S -t D -i SOURCE -c:a copy` does.
//
// Errors: bad options InputError naming the field; unreadable plate or
// render DecodeError naming the file; a missing encoder InputError naming
// the codec. A cancel (the progress callback returned false) throws
// Cancelled. On any failure the partial output file is removed.
#pragma once

#include "vanelia/core/progress.hpp"
#include "vanelia/decode/frame.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vanelia {

struct OverlayEncodeOptions {
  std::string plate_path;      // video; decoded frame n is plate frame n
  std::string output_path;     // the file written (callers rename into place)
  std::string codec = "h264";  // h264, h264_preview, hevc, prores, dnxhr
  int64_t first = 0;           // plate frame of output frame 0, >= 0
  int64_t every = 1;           // plate frames per output frame, >= 1
  int64_t count = 0;           // output frames, >= 1
  Rational fps{24, 1};         // the plate's rate, frames/s (> 0)
  int width = 0;               // output size, pixels (even); 0 = the plate's
  int height = 0;  // (the plate is scaled bilinearly when it differs)
  std::string plate_range = "tv";   // the plate's YUV range: tv or pc
  std::string output_range = "tv";  // the output's YUV range: tv or pc
  // The render's RGB -> YUV matrix (the plate's): bt601, bt709, bt2020,
  // smpte240m or fcc.
  std::string matrix = "bt601";
  // Colour tags written on the output stream, FFmpeg's names ("" = none);
  // `tag_range` also writes output_range. The plate's: color_transfer and
  // color_primaries also choose the composite's light (see Colour above).
  std::string color_primaries;
  std::string color_transfer;
  std::string color_space;
  bool tag_range = false;
  std::string audio_path;  // the source whose audio is copied; "" = none
  int threads = 0;         // encoder/decoder threads; 0 = libav's choice

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

// The encoders `codec` names exist in this FFmpeg (libx265 may be absent).
bool HaveOverlayEncoder(const std::string& codec);

// The codecs OverlayEncodeOptions::codec takes.
std::vector<std::string> OverlayCodecs();

// Streams renders into the output one frame at a time (the render and the
// encode overlap: the preview's PipedEncode). The constructor opens the plate,
// the encoder and the output; Add() overlays and encodes the next frame;
// Finish() flushes and closes the file. Destroyed unfinished, it removes the
// partial output.
class OverlayEncoder {
 public:
  explicit OverlayEncoder(const OverlayEncodeOptions& options);
  ~OverlayEncoder();
  OverlayEncoder(const OverlayEncoder&) = delete;
  OverlayEncoder& operator=(const OverlayEncoder&) = delete;

  // The next output frame's render: a PNG file of the output size (RGBA,
  // or RGB = opaque). Throws InputError after `count` frames.
  void AddPng(const std::string& png_path);

  // Frames added so far.
  int64_t FramesAdded() const;

  // Writes the rest and closes the file; needs `count` frames added.
  void Finish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole stage: renders `frames_dir`/000000.png.. (count of them) over the
// plate into output_path, reporting "encode" progress per frame.
void EncodeOverlay(const OverlayEncodeOptions& options,
                   const std::string& frames_dir,
                   const ProgressCallback& progress = nullptr);

}  // namespace vanelia
