// Private: the interface VideoReader drives. One implementation decodes video
// files with libav (libav_source.cpp), one reads image sequences
// (image_sequence.cpp). Sources know the whole clip (Info, Mapping) and can
// produce any output frame; VideoReader applies start/end/every on top.
#pragma once

#include "vanelia/decode/video_reader.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vanelia::internal {

class FrameSource {
 public:
  virtual ~FrameSource() = default;

  virtual const VideoInfo& Info() const = 0;
  virtual const std::vector<FrameMapping>& Mapping() const = 0;
  virtual const CfrReport& Cfr() const = 0;

  // Decodes output frame `index` into `frame` (upright RGB at the output
  // size). Calls with increasing indices decode forward; others seek.
  virtual void Read(int64_t index, Frame* frame) = 0;
};

// The upright output size for a clip of upright size width x height.
struct OutputSize {
  int width = 0;
  int height = 0;
};

OutputSize ComputeOutputSize(int width, int height, const ReadOptions& options);

// Rotates an RGB image clockwise by 0, 90, 180 or 270 degrees.
Image RotateClockwise(const Image& image, int degrees);

// Bilinear resize of an interleaved 8-bit image (pixel centres aligned), for
// sources that do not go through swscale.
Image ResizeBilinear(const Image& image, int width, int height);

// The CFR mapping of a clip whose frames have the sorted presentation
// timestamps `sorted_pts` (see the policy in video_reader.hpp).
struct CfrMappingResult {
  bool is_vfr = false;
  Rational fps;
  double duration_s = 0.0;  // source span: last pts - first pts + last frame
  std::vector<FrameMapping> mapping;
  CfrReport report;
};

// `fps_hint`: the container's frame rate (ignored for VFR; 0/1 when
// unknown). `last_duration`: the last frame's duration in time-base ticks
// (0 = unknown: the median frame duration is used).
CfrMappingResult BuildCfrMapping(const std::vector<int64_t>& sorted_pts,
                                 Rational time_base,
                                 Rational fps_hint,
                                 int64_t last_duration);

// The CFR rule: output frame k (0 <= k < outputs) at time k / fps shows the
// source frame whose time (`times`: seconds from the first frame, sorted) is
// nearest, ties going to the earlier; its source index for each k.
std::vector<int64_t> NearestFrames(const std::vector<double>& times,
                                   Rational fps,
                                   int64_t outputs);

// Reduces a rational to lowest terms with a positive denominator.
Rational Reduce(Rational value);

#ifdef VANELIA_HAVE_FFMPEG
// av_log_set_level: AV_LOG_QUIET when quiet, else libav's default.
void SetLibavLogLevel(bool quiet);

std::unique_ptr<FrameSource> OpenLibavSource(const std::string& path,
                                             const ReadOptions& options);
#endif

// Whether `path` names an image sequence: a directory, or a printf pattern.
bool IsImageSequencePath(const std::string& path);

// The files of an image sequence (a folder, sorted naturally; a printf
// pattern, expanded; or one file), in frame order. Throws like opening it.
std::vector<std::string> ImageSequenceFiles(const std::string& path);

// Whether `path` ends in an image extension this build can read alone.
bool IsImageFile(const std::string& path);

std::unique_ptr<FrameSource> OpenImageSequence(const std::string& path,
                                               const ReadOptions& options);

}  // namespace vanelia::internal
