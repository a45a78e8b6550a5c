// The track stage of the pipeline: decode + track a clip into a track file,
// the track cache shared with the add-on, and the summaries the CLI prints.
//
// `vanelia track`, `vanelia run` (without --track), the Python module's
// `track_video` and the add-on's track job all track through TrackFrames /
// TrackVideo, so a track is the same whoever asks for it.
#pragma once

#include "vanelia/core/progress.hpp"
#include "vanelia/decode/mask_source.hpp"
#include "vanelia/decode/video_reader.hpp"
#include "vanelia/floor/alignment.hpp"
#include "vanelia/track/tracker_factory.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vanelia {

// Tracks the frames `reader` selects with the tracker `choice` names; the
// result is the tracker's raw world (world "track") with the source (path,
// content hash, frame count) and the tracker (name, version, options, and
// with choice.mask "mask" and "mask_sha256") filled in. Masks are read
// alongside the frames (Frame::mask). `read` is the selection the reader was
// opened with (it is recorded in the tracker options). Throws Cancelled when
// `progress` returns false and InputError (DecodeError) for footage that cannot
// be tracked.
TrackFile TrackFrames(VideoReader* reader,
                      const std::string& video,
                      const ReadOptions& read,
                      const TrackerChoice& choice,
                      const ProgressCallback& progress);

// The ignore masks of choice.mask for the frames `reader` yields (the
// clip's size and frame count checked, resized as the reader resizes), or
// null without a mask. InputError (naming the mask) when they do not fit
// or the tracker takes no masks. TrackFrames calls it; front ends may call
// it first so that a bad mask is reported as such.
std::unique_ptr<MaskSource> OpenClipMasks(const TrackerChoice& choice,
                                          const VideoReader& reader);

// Opens `video` with `read` and tracks it (TrackFrames). InputError when
// read.start is past the last frame.
TrackFile TrackVideo(const std::string& video,
                     const ReadOptions& read,
                     const TrackerChoice& choice,
                     const ProgressCallback& progress);

// The track cache shared with the add-on; addon/vanelia_blender/core/cache.py
// documents the layout:
//   <folder>/<sha256 of the video's bytes>/<tracker>-<first 16 hex of the
//   sha256 of the canonical JSON of the tracker options>.json
// holding the raw (unaligned) track. The canonical JSON has sorted keys, no
// spaces and ASCII only (Python's json.dumps(sort_keys=True,
// separators=(",", ":"))). The folder: the one given, else
// $VANELIA_CACHE_DIR, else $XDG_CACHE_HOME/vanelia/tracks, else
// ~/.cache/vanelia/tracks.
class TrackCache {
 public:
  explicit TrackCache(std::string folder = "");

  // The default folder from the environment; "" when none can be named.
  static std::string DefaultFolder();

  const std::string& Folder() const { return folder_; }

  // The file for a track of the video with this content hash.
  std::string PathFor(const std::string& video_sha256,
                      const std::string& tracker,
                      const nlohmann::json& options) const;

  // Stores `text` at `path` atomically (creating its folder). A cache that
  // cannot be written is not an error: returns false.
  static bool Store(const std::string& path, const std::string& text);

 private:
  std::string folder_;
};

// The classical tracker's cache options of a frame range, as the add-on
// keys them: {"end": E, "every": 1, "start": S, "version": V} (every frame
// of the range is tracked, --every only thins the render; V is this build's
// version, so an upgraded tracker never reuses an older one's tracks).
// With a `mask` (TrackerChoice::mask) the key adds "mask_sha256", the
// SourceContentSha256 of the mask's files, so a masked track never reuses
// an unmasked one (or one of other masks); InputError when it is missing.
nlohmann::json ClassicalCacheOptions(int64_t start,
                                     int64_t end,
                                     const std::string& mask = "");

// The CLI's end-of-track summary: frames registered, reprojection error,
// focal, lens, points, time and warnings; `output` is the file written.
std::string DescribeTrack(const std::string& output,
                          const TrackFile& file,
                          double seconds);

// A plain floor's height sweep (AlignmentOptions::read_floor_views, issue
// 17) reads the tracked frames again: the asked TrackedFrame indices that
// `reader` yields with that index, at its output size.
std::vector<FloorView> ReadFloorViews(VideoReader* reader,
                                      const std::vector<int64_t>& indices);

// AlignTrackFile with the frames of the clip for that sweep: every front end
// (`vanelia track`, `run`, the farm's track step, `vanelia align`, the
// Python module's align_track_file and so the add-on) aligns through it, so
// a floor is the same whoever asks. `video` is the clip the track was made
// from; "" = the track's own source (TrackSource::path), used only when it
// is still there with the recorded content hash. The clip is opened (and
// that hash checked) only when the sweep asks for frames; frames of another
// size than the track's are not used. A clip that cannot be used is named
// in a warning and the points' floor is kept.
Alignment AlignTrackFileWithFrames(AlignmentOptions options,
                                   const std::string& video,
                                   TrackFile* file);

// One line per fact of an alignment (floor, scale, warnings).
std::string DescribeAlignment(const Alignment& alignment,
                              const TrackFile& file);

}  // namespace vanelia
