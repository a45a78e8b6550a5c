// KLT feature tracks (private to the classical tracker): Shi-Tomasi corners
// tracked frame to frame with pyramidal Lucas-Kanade and a forward-backward
// check (Kalal et al. 2010), replenished every frame where tracks are sparse.
#pragma once

#include "vanelia/core/image.hpp"

#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Core>
#include <opencv2/core.hpp>

namespace vanelia::internal {

struct FeatureObservation {
  int frame = 0;  // slot in the tracker's frame list
  Eigen::Vector2d px;
};

struct FeatureTrack {
  std::vector<FeatureObservation> obs;  // ascending frame
  Eigen::Matrix<uint8_t, 3, 1> rgb = Eigen::Matrix<uint8_t, 3, 1>::Zero();
  bool alive = true;  // still tracked in the newest frame
  // The frame whose patch the track is matched against (drift control):
  // frame-to-frame flow predicts, the anchor patch corrects.
  int anchor_frame = 0;
  Eigen::Vector2f anchor_px = Eigen::Vector2f::Zero();
};

// Per frame: (track id, index into that track's obs).
struct FrameFeatures {
  std::vector<std::pair<int, int>> refs;
};

struct FeatureTrackerOptions {
  int max_features = 600;
  double min_distance_px = 10.0;
  int window_px = 21;
  int levels = 3;
  double max_forward_backward_px = 0.5;
  double border_px = 4.0;  // drop tracks this close to the edge
  // A track is re-anchored on its current frame after moving this fraction
  // of the width from its anchor, or after `max_anchor_age` frames.
  double reanchor_fraction = 0.1;
  int max_anchor_age = 60;
  // Largest disagreement (px) between the anchor match and the prediction.
  double max_anchor_correction_px = 1.0;
  // Noisy footage (sensor noise on a plain floor, low light): when fewer
  // than `denoise_below_survival` of at least 100 tracks survive from one
  // frame to the next, the frames are smoothed (Gaussian, sigma
  // `denoise_sigma_px` at 640 px width) from then on, that step included.
  // 0 = never.
  double denoise_below_survival = 0.75;
  double denoise_sigma_px = 1.0;
};

class FeatureTracker {
 public:
  explicit FeatureTracker(FeatureTrackerOptions options);
  ~FeatureTracker();
  FeatureTracker(const FeatureTracker&) = delete;
  FeatureTracker& operator=(const FeatureTracker&) = delete;

  // Tracks into a new frame (RGB or grey), returns its slot. `ignore`:
  // null, or a one-channel mask of the image's size whose nonzero pixels
  // (a moving thing) start no track, and end a track that enters them.
  int AddFrame(const Image& image, const Image* ignore = nullptr);

  const std::vector<FeatureTrack>& Tracks() const { return tracks_; }

  const std::vector<FrameFeatures>& Frames() const { return frames_; }

  int NumFrames() const { return static_cast<int>(frames_.size()); }

  // Observations made elsewhere (synthetic tests, imported tracks): a frame
  // slot without an image, and a track whose observations lie in
  // consecutive existing slots. Not to be mixed with AddFrame.
  int AddEmptyFrame();
  int AddTrack(FeatureTrack track);

  // A track matched by descriptors across keyframes (relocalisation): its
  // observations lie in ascending existing slots, not necessarily
  // consecutive ones. It is never alive, so it may follow AddFrame.
  int AddMatchedTrack(FeatureTrack track);

  // Pixel of track `id` in frame slot `frame`, or nullptr.
  const Eigen::Vector2d* Find(int id, int frame) const;

  // Whether the frames are being smoothed (see denoise_below_survival).
  bool Denoising() const { return denoising_; }

 private:
  struct State;
  // The working grey image of a frame (smoothed when denoising) and its
  // optical-flow pyramid.
  cv::Mat Prepare(const cv::Mat& grey, std::vector<cv::Mat>* pyramid) const;
  // Flows the tracks alive in the previous frame into `pyramid` (forward-
  // backward checked, corrected against their anchors): the survivors and
  // their pixels. Changes no track.
  void FlowActive(const std::vector<cv::Mat>& pyramid,
                  int slot,
                  int width,
                  int height,
                  std::vector<int>* ids,
                  std::vector<cv::Point2f>* px) const;
  // Matches the predicted positions against each track's anchor patch;
  // drops those the anchor disowns.
  void CorrectFromAnchors(const std::vector<cv::Mat>& pyramid,
                          int slot,
                          std::vector<int>* ids,
                          std::vector<cv::Point2f>* px) const;
  // Starts new tracks on corners of `grey` (frame `slot`) where the tracks
  // `ids` at `px` are sparse, and appends them to `ids` and `px`.
  void Replenish(const Image& image,
                 const cv::Mat& grey,
                 const Image* ignore,
                 int slot,
                 std::vector<int>* ids,
                 std::vector<cv::Point2f>* px);
  // Re-anchors the surviving tracks that moved far or aged.
  void Reanchor(int slot,
                int width,
                const std::vector<int>& ids,
                const std::vector<cv::Point2f>& px);
  FeatureTrackerOptions options_;
  bool denoising_ = false;
  std::unique_ptr<State> state_;
  std::vector<FeatureTrack> tracks_;
  std::vector<FrameFeatures> frames_;
};

}  // namespace vanelia::internal
