"""The track job's work: cache lookup, the native tracker, alignment. bpy-free.

`track_work(request, native)` returns the callable a `jobs.Job` runs
(`run(progress) -> TrackOutcome`). It hashes the video, reuses a cached raw
track (core/cache.py) or runs the native tracker (GIL released, progress and
cancel through the callback) and caches its output, then aligns the track to
the floor at the requested camera height and writes the aligned track beside
the raw one. Nothing here touches bpy: the operator applies the outcome on the
main thread.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Optional

from . import cache, track_file

TRACKERS = ("classical", "must3r", "dust3r")


class TrackRequestError(ValueError):
    """A request that cannot be tracked; the message names the field."""


@dataclass
class TrackRequest:
    video: str  # the clip to track
    tracker: str = "classical"  # one of TRACKERS
    start: int = 0  # first source frame, 0-based
    end: int = -1  # end frame, exclusive; -1 = to the end
    every: int = 1  # take every k-th frame
    camera_height_m: float = 1.5  # first camera above the floor, metres
    cache_folder: Optional[str] = None  # None: cache.default_folder()
    use_cache: bool = True
    track_file: str = ""  # use this existing track file instead of tracking

    def options(self):
        """The tracker options that key the cache."""
        return {"start": self.start, "end": self.end, "every": self.every}

    def check(self):
        if not self.track_file:
            if not self.video:
                raise TrackRequestError("no video chosen: set the video file first")
            if not os.path.isfile(self.video):
                raise TrackRequestError(f"video '{self.video}': no such file")
        elif not os.path.isfile(self.track_file):
            raise TrackRequestError(f"track file '{self.track_file}': no such file")
        if self.tracker not in TRACKERS:
            raise TrackRequestError(f"tracker '{self.tracker}'; must be one of {TRACKERS}")
        if self.start < 0 or self.every < 1 or (self.end >= 0 and self.end <= self.start):
            raise TrackRequestError(
                f"frames start={self.start} end={self.end} every={self.every}; need "
                "start >= 0, every >= 1 and end = -1 or end > start"
            )
        if not self.camera_height_m > 0:
            raise TrackRequestError(f"camera height {self.camera_height_m} m; must be > 0")


@dataclass
class TrackOutcome:
    path: str  # the aligned track file (world "blender" unless no floor)
    raw_path: str  # the tracker's output (or the given track file)
    from_cache: bool
    aligned: bool
    summary: dict = field(default_factory=dict)


def summarize(doc):
    """Frames registered, reprojection error, focal, ground confidence."""
    s = doc.get("summary", {})
    ground = doc.get("ground_plane") or {}
    return {
        "registered": int(s.get("registered", len(doc.get("frames", [])))),
        "total": int(s.get("total", 0)),
        "reproj_err_px": s.get("reproj_err_px"),
        "focal_px": s.get("focal_px"),
        "ground_confidence": ground.get("confidence"),
        "ground_method": ground.get("method"),
        "world": doc.get("world"),
        "warnings": list(s.get("warnings", [])),
    }


def _align(native, raw_path, out_path, request, progress):
    """Aligns `raw_path` to the floor into `out_path` (native scene module)."""
    progress(stage="align", done=0, total=1)
    folder = os.path.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    report = native.align_track_file(
        raw_path, out_path, camera_height_m=request.camera_height_m, overwrite=True
    )
    progress(stage="align", done=1, total=1)
    return report


def _aligned_path(raw_path, height_m):
    stem = os.path.splitext(raw_path)[0]
    return f"{stem}.aligned-{height_m:g}m.json"


def track_work(request, native):
    """The job body for `request`; `native` is the _vanelia module."""
    request.check()

    def run(progress):
        from_cache = False
        if request.track_file:
            raw_path = os.path.abspath(request.track_file)
            raw_text = open(raw_path, encoding="utf-8").read()
            doc = track_file.loads(raw_text, raw_path)
            if doc.get("world") == "blender":
                return TrackOutcome(raw_path, raw_path, False, True, summarize(doc))
        else:
            raw_path, _, from_cache = _raw_track(request, native, progress)
        path = _aligned_path(raw_path, request.camera_height_m)
        if request.track_file:
            path = os.path.join(_folder(request), "imported", os.path.basename(path))
        report = _align(native, raw_path, path, request, progress)
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return TrackOutcome(path, raw_path, from_cache, report["aligned"], summarize(doc))

    return run


def _folder(request):
    return cache.TrackCache(request.cache_folder).folder


def _raw_track(request, native, progress):
    store = cache.TrackCache(request.cache_folder)
    progress(stage="hash video", done=0, total=1)
    sha = cache.video_sha256(request.video)
    hit = store.lookup(sha, request.tracker, request.options()) if request.use_cache else None
    if hit:
        with open(hit, encoding="utf-8") as f:
            return hit, f.read(), True
    if request.tracker != "classical" or not hasattr(native, "track_video"):
        raise TrackRequestError(
            f"tracker '{request.tracker}' is not in this build of the native "
            "module; choose another tracker or install a build that has it"
        )
    doc = native.track_video(
        request.video,
        start=request.start,
        end=request.end,
        every=request.every,
        progress=progress,
    )
    text = native.format_track(doc)
    return store.store_text(sha, request.tracker, request.options(), text), text, False
