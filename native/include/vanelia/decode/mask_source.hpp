// MaskSource: the "ignore" masks that keep moving things (people, cars, sky,
// a screen) out of a camera solve, read alongside the footage.
//
// A mask source is any path VideoReader opens, read with the same decoder:
// - a folder of images (natural name order) or a printf pattern
//   ("masks/%04d.png"): the n-th image is the mask of decoded frame n;
// - a video file: its n-th decoded frame is the mask of frame n;
// - a single image (or any source of exactly one frame): one static mask
//   for every frame (a logo, a screen, a car's bonnet).
// A pixel is ignored where the mask is white: the mean of its channels
// above 50 % (> 127.5 of 255); black (and anything darker than mid grey)
// is used. Masks are in the displayed orientation, as the frames the
// trackers get: a phone clip's rotation is applied to the footage, so a
// portrait clip takes portrait masks (a mask video's own rotation tag is
// applied too). A mask must have the clip's upright frame size; a source of
// more than one frame must have at least as many frames as the clip.
#pragma once

#include "vanelia/core/image.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace vanelia {

class VideoReader;

struct MaskSourceOptions {
  // The clip's upright frame size (VideoInfo::width/height), pixels: the
  // size every mask must have.
  int width = 0;
  int height = 0;
  // The clip's decoded frame count (VideoInfo::frame_count): the fewest
  // frames a mask sequence or video may have (a one-frame source is static
  // and always fits); 0 = not checked.
  int64_t frame_count = 0;
  // The size of the masks Read returns (the frames' size after the
  // reader's resizing), pixels; 0 = width x height. Resized bilinearly,
  // then thresholded at 50 %.
  int output_width = 0;
  int output_height = 0;

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

class MaskSource {
 public:
  // Opens `path` (see above). Throws DecodeError when it cannot be read,
  // InputError (naming the path, its size or frame count and the rule) when
  // it does not fit the clip.
  static std::unique_ptr<MaskSource> Open(const std::string& path,
                                          const MaskSourceOptions& options);

  ~MaskSource();
  MaskSource(const MaskSource&) = delete;
  MaskSource& operator=(const MaskSource&) = delete;

  // The ignore mask of decoded frame `index`: one channel at the output
  // size, 255 = ignore, 0 = use. Throws InputError when index is past the
  // source's frames (a static mask answers every index).
  Image Read(int64_t index);

  // One image for every frame.
  bool IsStatic() const { return static_; }

  int64_t FrameCount() const { return frame_count_; }

  const std::string& Path() const { return path_; }

 private:
  MaskSource(std::string path,
             std::unique_ptr<VideoReader> reader,
             int64_t frame_count);

  std::string path_;
  std::unique_ptr<VideoReader> reader_;
  int64_t frame_count_ = 0;
  bool static_ = false;
  Image static_mask_;  // the one mask of a static source
};

// The ignore mask of an RGB or grey image: 255 where the mean of the
// channels is above 127.5, else 0 (one channel, same size).
Image ThresholdMask(const Image& image);

}  // namespace vanelia
