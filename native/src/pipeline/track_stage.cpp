#include "vanelia/pipeline/track_stage.hpp"

#include "vanelia/core/error.hpp"
#include "vanelia/core/file_io.hpp"
#include "vanelia/decode/mask_source.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

namespace vanelia {

TrackFile TrackFrames(VideoReader* reader,
                      const std::string& video,
                      const ReadOptions& read,
                      const TrackerChoice& choice,
                      const ProgressCallback& progress) {
  const VideoInfo& info = reader->Info();
  if (read.start >= info.frame_count) {
    std::ostringstream msg;
    msg << "--start " << read.start << ": past the end of '" << video << "' ("
        << info.frame_count << " frames)";
    throw InputError(msg.str());
  }
  if (const auto& f = choice.common.focal_px;
      f && !(*f >= 0.05 * info.width && *f <= 20.0 * info.width)) {
    // The CLI's --focal-px rule (cmd_track checks it first, naming its flag).
    std::ostringstream msg;
    msg << "focal_px " << *f << ": must be between 0.05 and 20 times the "
        << info.width << " px width of '" << video << "'";
    throw InputError(msg.str());
  }
  std::unique_ptr<MaskSource> masks = OpenClipMasks(choice, *reader);
  const std::unique_ptr<Tracker> tracker = MakeTracker(choice);
  FrameFeedInfo feed_info;
  feed_info.width = reader->OutputWidth();
  feed_info.height = reader->OutputHeight();
  feed_info.expected_frames =
      static_cast<int64_t>(reader->SelectedIndices().size());
  feed_info.fps = info.fps;
  const FrameFeed feed = [reader, &masks](Frame* frame) {
    if (!reader->Next(frame)) return false;
    frame->mask = masks ? masks->Read(frame->index) : Image();
    return true;
  };
  const TrackResult result = tracker->Track(feed, feed_info, progress);
  TrackSource source;
  source.path = video;
  source.sha256 = SourceContentSha256(video);
  source.frame_count = info.frame_count;
  TrackerInfo tracker_info;
  tracker_info.name = tracker->Name();
  tracker_info.version = VANELIA_VERSION;
  tracker_info.options =
      TrackerOptionsJson(choice, read.start, read.end, read.every);
  if (masks) {
    tracker_info.options["mask"] = choice.mask;
    tracker_info.options["mask_sha256"] = SourceContentSha256(choice.mask);
  }
  return ToTrackFile(result, source, tracker_info);
}

std::unique_ptr<MaskSource> OpenClipMasks(const TrackerChoice& choice,
                                          const VideoReader& reader) {
  if (choice.mask.empty()) return nullptr;
  if (choice.name != "classical") {
    throw InputError("mask '" + choice.mask +
                     "': only the classical tracker uses masks, not '" +
                     choice.name + "'");
  }
  const VideoInfo& info = reader.Info();
  MaskSourceOptions options;
  options.width = info.width;
  options.height = info.height;
  options.frame_count = info.frame_count;
  options.output_width = reader.OutputWidth();
  options.output_height = reader.OutputHeight();
  return MaskSource::Open(choice.mask, options);
}

TrackFile TrackVideo(const std::string& video,
                     const ReadOptions& read,
                     const TrackerChoice& choice,
                     const ProgressCallback& progress) {
  std::unique_ptr<VideoReader> reader = VideoReader::Open(video, read);
  return TrackFrames(reader.get(), video, read, choice, progress);
}

TrackCache::TrackCache(std::string folder)
    : folder_(folder.empty() ? DefaultFolder() : std::move(folder)) {}

std::string TrackCache::DefaultFolder() {
  if (const char* env = std::getenv("VANELIA_CACHE_DIR"); env && *env) {
    return env;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/vanelia/tracks";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.cache/vanelia/tracks";
  }
  return "";
}

std::string TrackCache::PathFor(const std::string& video_sha256,
                                const std::string& tracker,
                                const nlohmann::json& options) const {
  VANELIA_CHECK(!folder_.empty()) << "no cache folder";
  // nlohmann::json keeps its keys sorted; dump() writes no spaces.
  const std::string canonical = options.dump(-1, ' ', true);
  return folder_ + "/" + video_sha256 + "/" + tracker + "-" +
         Sha256(canonical).substr(0, 16) + ".json";
}

bool TrackCache::Store(const std::string& path, const std::string& text) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      error);
  if (error) return false;
  try {
    WriteFileAtomic(path, text, true);
  } catch (const Error&) {
    return false;
  }
  return true;
}

nlohmann::json ClassicalCacheOptions(int64_t start,
                                     int64_t end,
                                     const std::string& mask) {
  nlohmann::json options{{"start", start},
                         {"end", end},
                         {"every", 1},
                         {"version", VANELIA_VERSION}};
  if (!mask.empty()) options["mask_sha256"] = SourceContentSha256(mask);
  return options;
}

std::string DescribeTrack(const std::string& output,
                          const TrackFile& file,
                          double seconds) {
  const TrackSummary& s = file.summary;
  std::string text;
  char line[512];
  std::snprintf(line,
                sizeof(line),
                "track: wrote %s (world \"%s\")\n"
                "  frames registered   %lld / %lld\n",
                output.c_str(),
                ToString(file.world),
                static_cast<long long>(s.registered),
                static_cast<long long>(s.total));
  text += line;
  if (s.reproj_err_px) {
    std::snprintf(line,
                  sizeof(line),
                  "  reprojection error  %.3f px (mean)\n",
                  *s.reproj_err_px);
    text += line;
  }
  if (s.focal_px) {
    std::snprintf(line,
                  sizeof(line),
                  "  focal               %.2f px (%.2f mm on a 36 mm sensor)\n",
                  *s.focal_px,
                  *s.focal_px / file.width * 36.0);
    text += line;
  }
  if (file.lens.model == LensDistortion::Model::kRadialK1K2) {
    std::snprintf(line,
                  sizeof(line),
                  "  lens                radial k1 %.5f k2 %.5f\n",
                  file.lens.k1,
                  file.lens.k2);
  } else {
    std::snprintf(line, sizeof(line), "  lens                pinhole\n");
  }
  text += line;
  std::snprintf(line,
                sizeof(line),
                "  points              %lld\n"
                "  time                %.2f s (%.1f frames/s)\n",
                static_cast<long long>(file.points ? file.points->Size() : 0),
                seconds,
                seconds > 0.0 ? static_cast<double>(s.total) / seconds : 0.0);
  text += line;
  for (const std::string& w : s.warnings) text += "  warning: " + w + "\n";
  return text;
}

std::vector<FloorView> ReadFloorViews(VideoReader* reader,
                                      const std::vector<int64_t>& indices) {
  std::vector<FloorView> views;
  for (const int64_t index : indices) {
    Frame frame;
    try {
      frame = reader->Read(index);
    } catch (const InputError&) {
      continue;  // outside the reader's start/end/every selection
    }
    if (frame.index != index) continue;
    views.push_back(FloorView{index, std::move(frame.rgb)});
  }
  return views;
}

Alignment AlignTrackFileWithFrames(AlignmentOptions options,
                                   const std::string& video,
                                   TrackFile* file) {
  const bool own_source = video.empty();
  const std::string clip = own_source ? file->source.path : video;
  const std::string sha256 = file->source.sha256;
  const int width = file->width;
  const int height = file->height;
  std::string refused;  // why the clip could not be read, when it could not
  options.read_floor_views = [&](const std::vector<int64_t>& indices) {
    std::vector<FloorView> views;
    std::error_code error;
    if (clip.empty() || (clip.find('%') == std::string::npos &&
                         !std::filesystem::exists(clip, error))) {
      refused = (own_source ? "the track's source '" : "the video '") + clip +
                "' is not there";
      return views;
    }
    try {
      if (own_source &&
          (sha256.empty() || SourceContentSha256(clip) != sha256)) {
        refused = "the track's source '" + clip +
                  "' no longer has the content hash the track records";
        return views;
      }
      const std::unique_ptr<VideoReader> reader = VideoReader::Open(clip);
      if (reader->OutputWidth() != width || reader->OutputHeight() != height) {
        refused = "'" + clip + "' is " + std::to_string(reader->OutputWidth()) +
                  "x" + std::to_string(reader->OutputHeight()) +
                  ", the track " + std::to_string(width) + "x" +
                  std::to_string(height);
        return views;
      }
      views = ReadFloorViews(reader.get(), indices);
    } catch (const InputError& e) {  // DecodeError included
      refused = "'" + clip + "' cannot be read (" + e.what() + ")";
      views.clear();
    }
    return views;
  };
  Alignment alignment = AlignTrackFile(options, file);
  if (!refused.empty()) {
    const std::string warning =
        "ground plane: no frames for the floor's height sweep: " + refused;
    alignment.warnings.push_back(warning);
    file->summary.warnings.push_back(warning);
  }
  return alignment;
}

std::string DescribeAlignment(const Alignment& alignment,
                              const TrackFile& file) {
  std::string text;
  char line[256];
  if (!alignment.aligned) {
    text += "  floor:      not found; world left as the tracker's\n";
  } else {
    const TrackGroundPlane& g = *file.ground_plane;
    std::snprintf(line,
                  sizeof(line),
                  "  floor:      %s, %lld inliers, confidence %.2f\n",
                  ToString(g.method),
                  static_cast<long long>(g.inliers),
                  g.confidence);
    text += line;
    std::snprintf(
        line,
        sizeof(line),
        "  scale:      %s%s\n",
        ToString(file.scale.method),
        file.scale.value_m
            ? (" = " + std::to_string(*file.scale.value_m) + " m").c_str()
            : "");
    text += line;
  }
  for (const std::string& warning : alignment.warnings) {
    text += "  warning:    " + warning + "\n";
  }
  return text;
}

}  // namespace vanelia
