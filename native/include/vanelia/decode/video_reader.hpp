// VideoReader: the one way footage enters Vanelia. It reads a video file
// (FFmpeg's libav*, when built with VANELIA_WITH_FFMPEG) or an image sequence
// (a folder of images sorted by name, or a printf pattern such as
// "frames/%04d.png") and yields upright RGB frames in presentation order.
//
// Frames and indices.
// - Frame::index is the 0-based decoded frame number in presentation order
//   (B-frames reordered), after the CFR mapping below; Blender frame =
//   index + 1. Frame::timestamp_s is the exact presentation time of the
//   source frame it shows, relative to the first frame (first frame = 0):
//   pts * time_base for a constant-rate clip, so frame k of a 24 fps clip is
//   at k / 24 exactly.
// - Display rotation (a phone's rotation matrix) is applied: frames come out
//   upright and VideoInfo::width/height are the upright size.
// - Frame count policy: exact. On Open the reader demuxes (reads, does not
//   decode) every packet of the video stream and counts them; the container's
//   nb_frames is only cross-checked. The timestamps of those packets give the
//   frame rate check and VFR detection.
// - Variable frame rate: a clip is VFR when a frame's duration differs from
//   the median duration by more than max(1 time-base tick, 2 %). A VFR clip of
//   n frames has the average rate (n - 1) / (t_last - t_first) (exact, from
//   the pts; packet durations are not trusted: muxers write 1 tick for VFR),
//   snapped to the nearest standard rate (23.976, 24, 25, 29.97, 30, 48, 50,
//   59.94, 60, 90, 120, 240) when within 1 %; that is VideoInfo::fps. It is
//   mapped to round(n * fps / average) constant frames: output frame k has
//   timestamp_s = k / fps and shows the source frame whose time is nearest to
//   it (ties go to the earlier one). Mapping() lists the source frame of every
//   output frame; Cfr() counts duplicated and dropped source frames;
//   duration_s is frame_count / fps. A constant-rate clip maps 1:1 and its
//   fps is the container's rate (checked against the pts).
// - Image sequences have the rate ReadOptions::sequence_fps; frame k is at
//   k / fps. A folder is read in natural name order; a printf pattern reads
//   every file it matches in numeric order, gaps included (frame k is the
//   k-th file; Mapping() gives its number as source_index, and VideoInfo
//   lists the missing numbers). With FFmpeg they are decoded by libav (PNG,
//   JPEG, BMP, TIFF, PPM, ...). Without FFmpeg only binary PPM/PGM (P6/P5,
//   8-bit) is read.
//
// Bad input (missing file, a directory without images, a text file named
// .mp4, a truncated or empty file, a file without a video stream) throws
// DecodeError naming the file and giving libav's av_strerror text. No libav
// type appears in this header.
#pragma once

#include "vanelia/decode/frame.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vanelia {

struct ReadOptions {
  // Frame selection (the CLI's --start/--end/--every): decoded indices
  // start <= index < end, keeping every `every`-th from start.
  int64_t start = 0;  // first output index, inclusive, >= 0
  int64_t end = -1;   // exclusive; -1 = to the end of the clip
  int64_t every = 1;  // keep every K-th frame, >= 1

  // Resizing on the way out (swscale, bilinear). At most one of the two:
  // max_width > 0 downscales (never upscales) to that width, keeping the
  // aspect ratio (height rounded to the nearest pixel); target_width and
  // target_height > 0 give an exact output size. Sizes are upright.
  int max_width = 0;      // pixels, 0 = off
  int target_width = 0;   // pixels, 0 = off
  int target_height = 0;  // pixels, 0 = off

  // Decoder threads (frame + slice threading); 0 = one per core.
  int threads = 0;

  // Frame rate given to image sequences (they carry none), frames/s.
  Rational sequence_fps{24, 1};

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

// Which source frame an output frame shows (see the CFR policy above).
struct FrameMapping {
  int64_t index = 0;           // output frame index
  int64_t source_index = 0;    // source frame in presentation order
  int64_t source_pts = 0;      // its pts in the stream's time base
  double source_time_s = 0.0;  // its time relative to the first frame
  double timestamp_s = 0.0;    // the output frame's timestamp
};

// Summary of the CFR mapping. For a constant-rate clip both counts are 0.
struct CfrReport {
  int64_t source_frames = 0;  // frames in the source
  int64_t output_frames = 0;  // frames after the mapping
  int64_t duplicated = 0;     // output frames repeating the previous source
  int64_t dropped = 0;        // source frames no output frame shows
  Rational time_base{1, 1};   // of the source pts
};

namespace internal {
class FrameSource;
}  // namespace internal

class VideoReader {
 public:
  // Opens a video file or an image sequence (a directory, or a path with a
  // printf pattern such as "%04d"). Throws DecodeError on unreadable input and
  // InputError on bad options.
  static std::unique_ptr<VideoReader> Open(const std::string& path,
                                           const ReadOptions& options = {});

  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  // The whole clip's description (independent of start/end/every/resizing).
  const VideoInfo& Info() const;

  // The output size frames have (upright, after resizing).
  int OutputWidth() const;
  int OutputHeight() const;

  // The next selected frame, or nullopt at the end of the selection. Throws
  // DecodeError if the stream is corrupt mid-way.
  std::optional<Frame> Next();
  bool Next(Frame* frame);

  // Accurate seek: the next Next() returns output frame `index` (it seeks to
  // the keyframe before, then decodes forward), then continues with `every`
  // from there up to `end`. Throws InputError if index is out of range.
  void Seek(int64_t index);

  // Decodes output frame `index` (a Seek + Next).
  Frame Read(int64_t index);

  // The mapping of every output frame to its source frame.
  const std::vector<FrameMapping>& Mapping() const;
  const CfrReport& Cfr() const;

  // The indices Next() yields, in order, given start/end/every.
  std::vector<int64_t> SelectedIndices() const;

 private:
  VideoReader(std::unique_ptr<internal::FrameSource> source,
              const ReadOptions& options);

  std::unique_ptr<internal::FrameSource> source_;
  ReadOptions options_;
  int64_t next_index_ = 0;  // next output index to return
  int64_t end_ = 0;         // resolved exclusive end
};

// Opens `path` and returns its description (what `vanelia info` prints).
VideoInfo ProbeVideo(const std::string& path);

// Hex SHA-256 identifying the footage's content (the key of track caches and
// the track file's source.sha256): of the file's bytes for a video or one
// image; for an image sequence (a folder or a printf pattern), of the
// per-file digests in frame order. Throws InputError when a file is missing.
std::string SourceContentSha256(const std::string& path);

// Silences (true) or restores (false) libav's own log lines on stderr; the
// errors still reach callers as DecodeError. Process-wide: the CLI calls it,
// the library never does on its own.
void SetLibavLogQuiet(bool quiet);

// Whether this build decodes video files (FFmpeg); image sequences of
// PPM/PGM are read either way.
bool HaveFfmpeg();

}  // namespace vanelia
