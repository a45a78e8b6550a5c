// The one interface every camera tracker implements (classical SfM, MUSt3R,
// DUSt3R): frames in, a CameraTrack, a PointCloud and a TrackSummary out.
//
// Frames are pulled one at a time through a FrameFeed so that decoding and
// tracking overlap and a long clip never has to sit in memory; a vector of
// frames works too. Progress (with ETA) and cancel go through the usual
// ProgressCallback: returning false makes Track() throw Cancelled.
//
// The world of the result is the tracker's own ("track" world, arbitrary
// scale). the floor module later aligns it to Blender's world (floor at
// z = 0, Z up, metres); the optional fields of TrackResult are filled then.
#pragma once

#include "vanelia/core/progress.hpp"
#include "vanelia/decode/frame.hpp"
#include "vanelia/geometry/sim3d.hpp"
#include "vanelia/trackfile/camera_track.hpp"
#include "vanelia/trackfile/track_file.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vanelia {

// Writes the next frame into *frame and returns true, or returns false at the
// end of the clip. May throw (DecodeError); the tracker lets it through.
using FrameFeed = std::function<bool(Frame* frame)>;

// What is known about the clip before tracking starts.
struct FrameFeedInfo {
  int width = 0;                // pixels of the frames the feed yields
  int height = 0;               // pixels
  int64_t expected_frames = 0;  // for progress and ETA; 0 = unknown
  Rational fps{24, 1};          // written into the CameraTrack
};

// How the lens is modelled.
enum class LensMode {
  kNone,    // ideal pinhole
  kRadial,  // radial k1, k2 always estimated
  kAuto,    // k1 (k2) kept only when it clearly lowers the error
};

// Options every tracker understands.
struct TrackerOptions {
  // Known focal length in pixels of the frames given (horizontal = vertical,
  // square pixels). Unset: solved from the footage.
  std::optional<double> focal_px;
  // One focal per frame (zoom shots) instead of one for the clip.
  bool per_frame_focal = false;
  LensMode lens = LensMode::kNone;

  // Throws InputError naming the field, its value and the rule.
  void Check() const;
};

struct TrackResult {
  CameraTrack track;  // registered frames only, cam_from_world in "track"
  PointCloud points;  // sparse (classical) or dense (networks) points
  TrackSummary summary;
  // Filled by the floor module's alignment (track_file.hpp's type); unset
  // in the raw track world.
  std::optional<TrackGroundPlane> ground_plane;
  std::optional<Sim3d> blender_from_track;
  // Per-frame depth + confidence at the network's resolution (MUSt3R; null
  // for the classical tracker): the track file's depth sidecar.
  std::shared_ptr<const DepthMaps> depth;
};

class Tracker {
 public:
  virtual ~Tracker() = default;

  // A short name: "classical", "must3r", "dust3r".
  virtual std::string Name() const = 0;

  // Tracks the frames the feed yields. Throws InputError for unusable input
  // (too few frames, frames of the wrong size, a clip that cannot be
  // solved), Cancelled when the callback asks to stop.
  virtual TrackResult Track(const FrameFeed& feed,
                            const FrameFeedInfo& info,
                            const ProgressCallback& progress) = 0;

  // The same over frames already in memory.
  TrackResult Track(const std::vector<Frame>& frames,
                    const ProgressCallback& progress);
};

// The track file of a result (world "track" unless the result carries an
// alignment, in which case world "blender" with the points and cameras
// moved along is the floor module's job: here they are written as given).
// At most kTrackFileMaxPoints points are kept (the most confident first).
TrackFile ToTrackFile(const TrackResult& result,
                      const TrackSource& source,
                      const TrackerInfo& tracker);

}  // namespace vanelia
