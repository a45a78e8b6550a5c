#include "vanelia/decode/video_reader.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "frame_source.hpp"

namespace vanelia {
namespace {

std::string Str(int64_t value) {
  return std::to_string(value);
}

}  // namespace

void ReadOptions::Check() const {
  if (start < 0) {
    throw InputError("ReadOptions::start = " + Str(start) + "; must be >= 0");
  }
  if (end != -1 && end <= start) {
    throw InputError("ReadOptions::end = " + Str(end) +
                     "; must be -1 (to the end) or > start (" + Str(start) +
                     ")");
  }
  if (every < 1) {
    throw InputError("ReadOptions::every = " + Str(every) + "; must be >= 1");
  }
  if (max_width < 0) {
    throw InputError("ReadOptions::max_width = " + Str(max_width) +
                     "; must be >= 0 (0 = no limit)");
  }
  if (target_width < 0 || target_height < 0 ||
      (target_width > 0) != (target_height > 0)) {
    throw InputError(
        "ReadOptions::target_width x target_height = " + Str(target_width) +
        "x" + Str(target_height) + "; both must be > 0, or both 0 (off)");
  }
  if (max_width > 0 && target_width > 0) {
    throw InputError("ReadOptions::max_width = " + Str(max_width) +
                     " and target_width = " + Str(target_width) +
                     "; set at most one of them");
  }
  if (threads < 0) {
    throw InputError("ReadOptions::threads = " + Str(threads) +
                     "; must be >= 0 (0 = one per core)");
  }
  if (sequence_fps.num <= 0 || sequence_fps.den <= 0) {
    throw InputError("ReadOptions::sequence_fps = " + Str(sequence_fps.num) +
                     "/" + Str(sequence_fps.den) + "; must be positive");
  }
}

void SetLibavLogQuiet(bool quiet) {
#ifdef VANELIA_HAVE_FFMPEG
  internal::SetLibavLogLevel(quiet);
#else
  static_cast<void>(quiet);
#endif
}

bool HaveFfmpeg() {
#ifdef VANELIA_HAVE_FFMPEG
  return true;
#else
  return false;
#endif
}

std::unique_ptr<VideoReader> VideoReader::Open(const std::string& path,
                                               const ReadOptions& options) {
  options.Check();
  if (path.empty()) {
    throw InputError(
        "VideoReader::Open: path is empty; name a video file or "
        "an image sequence");
  }
  std::unique_ptr<internal::FrameSource> source;
  if (internal::IsImageSequencePath(path) || internal::IsImageFile(path)) {
    source = internal::OpenImageSequence(path, options);
  } else {
#ifdef VANELIA_HAVE_FFMPEG
    source = internal::OpenLibavSource(path, options);
#else
    if (!std::filesystem::exists(path)) {
      throw DecodeError(
          "video '" + path + "': cannot open: " +
          std::make_error_code(std::errc::no_such_file_or_directory).message());
    }
    throw DecodeError("video '" + path +
                      "': this build has no FFmpeg; it reads image sequences "
                      "of PPM/PGM only (a folder or a pattern like "
                      "frames/%04d.ppm)");
#endif
  }
  const int64_t count = source->Info().frame_count;
  if (options.start >= count) {
    throw InputError("start = " + Str(options.start) +
                     " (--start) is past the last frame of '" + path + "' (" +
                     Str(count) + " frames, 0.." + Str(count - 1) + ")");
  }
  return std::unique_ptr<VideoReader>(
      new VideoReader(std::move(source), options));
}

VideoReader::VideoReader(std::unique_ptr<internal::FrameSource> source,
                         const ReadOptions& options)
    : source_(std::move(source)), options_(options) {
  const int64_t count = source_->Info().frame_count;
  end_ = options_.end < 0 ? count : std::min(options_.end, count);
  next_index_ = options_.start;
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::Info() const {
  return source_->Info();
}

int VideoReader::OutputWidth() const {
  return internal::ComputeOutputSize(Info().width, Info().height, options_)
      .width;
}

int VideoReader::OutputHeight() const {
  return internal::ComputeOutputSize(Info().width, Info().height, options_)
      .height;
}

bool VideoReader::Next(Frame* frame) {
  if (next_index_ >= end_) return false;
  source_->Read(next_index_, frame);
  next_index_ += options_.every;
  return true;
}

std::optional<Frame> VideoReader::Next() {
  Frame frame;
  if (!Next(&frame)) return std::nullopt;
  return frame;
}

void VideoReader::Seek(int64_t index) {
  const int64_t count = Info().frame_count;
  if (index < 0 || index >= count) {
    throw InputError("VideoReader::Seek: index = " + Str(index) +
                     "; must be in [0, " + Str(count) + ") for '" +
                     Info().path + "'");
  }
  next_index_ = index;
}

Frame VideoReader::Read(int64_t index) {
  Seek(index);
  Frame frame;
  source_->Read(index, &frame);
  next_index_ = index + options_.every;
  return frame;
}

const std::vector<FrameMapping>& VideoReader::Mapping() const {
  return source_->Mapping();
}

const CfrReport& VideoReader::Cfr() const {
  return source_->Cfr();
}

std::vector<int64_t> VideoReader::SelectedIndices() const {
  std::vector<int64_t> indices;
  for (int64_t i = options_.start; i < end_; i += options_.every) {
    indices.push_back(i);
  }
  return indices;
}

VideoInfo ProbeVideo(const std::string& path) {
  return VideoReader::Open(path)->Info();
}

std::string SourceContentSha256(const std::string& path) {
  if (!internal::IsImageSequencePath(path)) return Sha256OfFile(path);
  std::string digests;
  for (const std::string& file : internal::ImageSequenceFiles(path)) {
    digests += Sha256OfFile(file) + "\n";
  }
  return Sha256(digests);
}

}  // namespace vanelia
