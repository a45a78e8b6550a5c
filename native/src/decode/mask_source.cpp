// Ignore masks read with VideoReader (see mask_source.hpp).
#include "vanelia/decode/mask_source.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/decode/video_reader.hpp"

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace vanelia {
namespace {

std::string Size(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

}  // namespace

void MaskSourceOptions::Check() const {
  if (width <= 0 || height <= 0) {
    throw InputError("MaskSourceOptions::width x height = " +
                     Size(width, height) + "; must be the clip's frame size");
  }
  if (frame_count < 0) {
    throw InputError(
        "MaskSourceOptions::frame_count = " + std::to_string(frame_count) +
        "; must be >= 0 (0 = not checked)");
  }
  if (output_width < 0 || output_height < 0 ||
      (output_width > 0) != (output_height > 0)) {
    throw InputError("MaskSourceOptions::output_width x output_height = " +
                     Size(output_width, output_height) +
                     "; both must be > 0, or both 0 (the clip's size)");
  }
}

Image ThresholdMask(const Image& image) {
  Image mask = Image::Create(image.width, image.height, 1);
  const int c = image.channels;
  // mean > 127.5  <=>  2 * sum > 255 * c
  const int limit = 255 * c;
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.Row(y);
    uint8_t* dst = mask.Row(y);
    for (int x = 0; x < image.width; ++x) {
      int sum = 0;
      for (int k = 0; k < c; ++k) sum += src[x * c + k];
      dst[x] = 2 * sum > limit ? 255 : 0;
    }
  }
  return mask;
}

std::unique_ptr<MaskSource> MaskSource::Open(const std::string& path,
                                             const MaskSourceOptions& options) {
  options.Check();
  if (path.empty()) {
    throw InputError(
        "mask: path is empty; name a folder of images, an image or a video");
  }
  const int out_width =
      options.output_width > 0 ? options.output_width : options.width;
  const int out_height =
      options.output_height > 0 ? options.output_height : options.height;
  std::error_code error;
  if (path.find('%') == std::string::npos &&
      !std::filesystem::exists(path, error)) {
    throw InputError("mask '" + path +
                     "': no such file or folder (a folder of images, a "
                     "video, or one image for every frame)");
  }
  // Probe first: the size rule is on the source, before any resizing.
  VideoInfo info;
  try {
    info = ProbeVideo(path);
  } catch (const DecodeError& e) {
    throw DecodeError("mask '" + path + "': " + e.what());
  }
  const std::string rule =
      " (white = ignore; a mask has the clip's frame size, upright as "
      "displayed)";
  if (info.width != options.width || info.height != options.height) {
    throw InputError("mask '" + path + "' is " + Size(info.width, info.height) +
                     "; must be the clip's frame size " +
                     Size(options.width, options.height) + rule);
  }
  const int64_t count = info.frame_count;
  if (count != 1 && options.frame_count > 0 && count < options.frame_count) {
    throw InputError(
        "mask '" + path + "' has " + std::to_string(count) +
        " frames; the clip has " + std::to_string(options.frame_count) +
        ": a mask sequence or video needs one mask per frame (the n-th for "
        "frame n), or give one image for every frame");
  }
  ReadOptions read;
  if (out_width != info.width || out_height != info.height) {
    read.target_width = out_width;
    read.target_height = out_height;
  }
  read.threads = 1;
  return std::unique_ptr<MaskSource>(
      new MaskSource(path, VideoReader::Open(path, read), count));
}

MaskSource::MaskSource(std::string path,
                       std::unique_ptr<VideoReader> reader,
                       int64_t frame_count)
    : path_(std::move(path)),
      reader_(std::move(reader)),
      frame_count_(frame_count),
      static_(frame_count == 1) {
  if (static_) {
    static_mask_ = ThresholdMask(reader_->Read(0).rgb);
    reader_.reset();
  }
}

MaskSource::~MaskSource() = default;

Image MaskSource::Read(int64_t index) {
  if (static_) return static_mask_;
  if (index < 0 || index >= frame_count_) {
    throw InputError("mask '" + path_ + "': frame " + std::to_string(index) +
                     " asked; the mask has " + std::to_string(frame_count_) +
                     " frames (0.." + std::to_string(frame_count_ - 1) + ")");
  }
  Frame frame;
  reader_->Seek(index);
  if (!reader_->Next(&frame)) {
    throw InternalError("mask '" + path_ + "': frame " + std::to_string(index) +
                        " did not decode");
  }
  return ThresholdMask(frame.rgb);
}

}  // namespace vanelia
