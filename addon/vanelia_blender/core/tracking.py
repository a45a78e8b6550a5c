"""The track job's work: cache lookup, the native tracker, alignment. bpy-free.

`track_work(request, native)` returns the callable a `jobs.Job` runs
(`run(progress) -> TrackOutcome`). It hashes the video (and a network's
weights), reuses a cached raw track (core/cache.py) or runs the native
tracker (`_vanelia.track_video`: GIL released, progress and cancel through
the callback; the classical tracker or MUSt3R with its weights, device and
video-mode options) and caches its output, then aligns the track to the floor
at the requested camera height and writes the aligned track beside the raw
one. Nothing here touches bpy: the operator applies the outcome on the main
thread. `tracker_problem` says why a tracker cannot run (the panel greys it
out with that reason; the operator refuses with it).
"""

import json
import os
from dataclasses import dataclass, field
from typing import Optional

from . import cache, track_file, weights

TRACKERS = ("classical", "must3r", "dust3r")
LABELS = {"classical": "Classical", "must3r": "MUSt3R", "dust3r": "DUSt3R"}
NETWORKS = ("must3r", "dust3r")  # the trackers that need a checkpoint
DEVICES = ("auto", "cpu", "cuda")
IMAGE_SIZES = (0, 512, 224)  # 0: the weights' own training resolution
DTYPES = ("fp32", "bf16", "fp16")


class TrackRequestError(ValueError):
    """A request that cannot be tracked; the message names the field."""


@dataclass
class NetworkOptions:
    """A network tracker's settings (`_vanelia.track_video`'s keywords; the
    defaults are `vanelia track`'s except image_size: 0 takes the weights' own
    resolution, so the artist never has to match it)."""

    weights: str = ""  # checkpoint (.pth); required by a network tracker
    device: str = "auto"  # auto (CUDA when available), cpu, cuda
    image_size: int = 0  # 512, 224 or 0 = the weights' own
    dtype: str = "fp32"  # decoder precision; bf16/fp16 need CUDA
    local_context: int = 25  # frames in the working window
    max_keyframes: int = 300  # memory bound, keyframes
    keyframe_every: int = 3  # a keyframe every n-th frame
    init_frames: int = 8  # frames of the first decoder call
    batch_frames: int = 4  # frames per later decoder call

    def kwargs(self):
        """Keywords for `_vanelia.track_video` (tracker excluded)."""
        return dict(vars(self))

    def key(self, weights_sha256):
        """What keys the cache: the options that change the result and the
        weights' content hash instead of their path. The device does not
        change it (the same float32 network on the CPU or a GPU)."""
        key = {k: v for k, v in vars(self).items() if k not in ("weights", "device")}
        key["weights_sha256"] = weights_sha256
        return key

    def check(self, label):
        if self.device not in DEVICES:
            raise TrackRequestError(f"{label}: device '{self.device}'; must be one of {DEVICES}")
        if self.image_size not in IMAGE_SIZES:
            raise TrackRequestError(
                f"{label}: image size {self.image_size}; must be 512, 224 or 0 (the weights')"
            )
        if self.dtype not in DTYPES:
            raise TrackRequestError(f"{label}: precision '{self.dtype}'; must be one of {DTYPES}")


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
    network: NetworkOptions = field(default_factory=NetworkOptions)  # must3r
    # Known focal in pixels of the source frames; None = solved from the
    # footage (random test weights estimate none, see tests/data/must3r).
    focal_px: Optional[float] = None
    # Ignore masks (classical tracker): a folder of images (the n-th for
    # frame n), a video, or one image for every frame, of the clip's size as
    # displayed; white = moving things kept out of the solve. "" = none.
    mask: str = ""

    def options(self, weights_sha256=None, version=None, mask_sha256=None):
        """The tracker options that key the cache (core/cache.py): the frame
        range, the native module's version (an upgraded tracker never reuses
        an older one's tracks), a known focal when given, the masks' content
        hash when masked, and for a network its options and the weights'
        content hash."""
        options = {"start": self.start, "end": self.end, "every": self.every}
        if version is not None:
            options["version"] = version
        if self.focal_px is not None:
            options["focal_px"] = float(self.focal_px)
        if self.mask:
            options["mask_sha256"] = mask_sha256
        if self.tracker in NETWORKS:
            options.update(self.network.key(weights_sha256))
        return options

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
        if self.focal_px is not None and not self.focal_px > 0:
            raise TrackRequestError(f"known focal {self.focal_px} px; must be > 0 (or unset)")
        if self.mask and not self.track_file:
            if self.tracker != "classical":
                raise TrackRequestError(
                    f"mask '{self.mask}': only the classical tracker uses masks"
                )
            if "%" not in self.mask and not os.path.exists(self.mask):
                raise TrackRequestError(
                    f"mask '{self.mask}': no such file or folder (a folder of images, a "
                    "video, or one image for every frame; white = ignore)"
                )
        if self.tracker in NETWORKS and not self.track_file:
            label = LABELS[self.tracker]
            if not self.network.weights:
                raise TrackRequestError(f"{label}: no weights set ({WHERE_WEIGHTS})")
            self.network.check(label)


WHERE_WEIGHTS = "Preferences > Add-ons > Vanelia"


def tracker_problem(tracker, built, weights_path=""):
    """Why `tracker` cannot run now, "" when it can. `built`: the trackers of
    the native module (its TRACKERS), or None when there is no module to ask.
    A tracker the build lacks comes first (weights would not help), then a
    network's missing or unusable checkpoint (a cheap format check)."""
    label = LABELS.get(tracker, tracker)
    if built is not None and tracker not in built:
        return f"{label}: not in this build of the native module"
    if tracker not in NETWORKS:
        return ""
    if not weights_path:
        return f"{label}: no weights set ({WHERE_WEIGHTS})"
    try:
        weights.check_checkpoint(weights_path, f"{label} checkpoint", network=tracker)
    except weights.WeightsError as e:
        return str(e)
    return ""


def built_trackers(native):
    """The trackers `native` can run through track_video (TRACKERS; a module
    from before MUSt3R had only the classical one)."""
    if native is None or not hasattr(native, "track_video"):
        return ()
    return tuple(getattr(native, "TRACKERS", ("classical",)))


@dataclass
class TrackOutcome:
    path: str  # the aligned track file (world "blender" unless no floor)
    raw_path: str  # the tracker's output (or the given track file)
    from_cache: bool
    aligned: bool
    summary: dict = field(default_factory=dict)


def summarize(doc):
    """Tracker, frames registered, reprojection error, focal, ground
    confidence."""
    s = doc.get("summary", {})
    ground = doc.get("ground_plane") or {}
    return {
        "tracker": (doc.get("tracker") or {}).get("name", ""),
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
    """Aligns `raw_path` to the floor into `out_path` (native floor module), as `vanelia
    track` does: a plain floor's height is swept from the clip's frames (the tracked video; for
    an imported track its own source, when that is still there unchanged)."""
    progress(stage="align", done=0, total=1)
    folder = os.path.dirname(out_path)
    os.makedirs(folder, exist_ok=True)
    report = native.align_track_file(
        raw_path,
        out_path,
        camera_height_m=request.camera_height_m,
        overwrite=True,
        video="" if request.track_file else request.video,
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
            doc = track_file.load(raw_path)  # not UTF-8 (a video): TrackFileError
            if doc.get("world") == "blender":
                return TrackOutcome(raw_path, raw_path, False, True, summarize(doc))
        check_writable_folder(_folder(request), "track cache folder")  # before the work
        if not request.track_file:
            raw_path, _, from_cache = _raw_track(request, native, progress)
        path = _aligned_path(raw_path, request.camera_height_m)
        if request.track_file:
            path = os.path.join(_folder(request), "imported", os.path.basename(path))
        report = _align(native, raw_path, path, request, progress)
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return TrackOutcome(path, raw_path, from_cache, report["aligned"], summarize(doc))

    return run


def check_known_focal(focal_px, width):
    """The rule of `vanelia track --focal-px`: 0.05 to 20 times the frame width."""
    if focal_px is not None and not 0.05 * width <= focal_px <= 20.0 * width:
        raise TrackRequestError(
            f"known focal {focal_px:g} px for a {width} px wide frame; must be between "
            "0.05 and 20 times the width (or 0 = solve it)"
        )


def check_writable_folder(folder, what):
    """Raises TrackRequestError unless `folder` (or, when missing, the nearest
    folder above it that exists) may be written."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise TrackRequestError(
            f"{what} '{folder}': '{existing}' is not a writable folder; choose another "
            f"({WHERE_WEIGHTS})"
        )


def _folder(request):
    return cache.TrackCache(request.cache_folder).folder


def _raw_track(request, native, progress):
    store = cache.TrackCache(request.cache_folder)
    progress(stage="hash video", done=0, total=1)
    sha = cache.video_sha256(request.video)
    weights_sha = None
    if request.tracker in NETWORKS:
        progress(stage="hash weights", done=0, total=1)
        weights_sha = cache.file_sha256(request.network.weights)
    mask_sha = None
    if request.mask:
        progress(stage="hash mask", done=0, total=1)
        mask_sha = native.source_content_sha256(request.mask)
    options = request.options(weights_sha, getattr(native, "__version__", None), mask_sha)
    hit = store.lookup(sha, request.tracker, options) if request.use_cache else None
    if hit:
        with open(hit, encoding="utf-8") as f:
            text = f.read()
        try:
            track_file.loads(text, hit)
            return hit, text, True
        except track_file.TrackFileError:
            os.remove(hit)  # damaged (truncated, edited): never trusted
    if request.tracker not in built_trackers(native):
        raise TrackRequestError(
            f"tracker '{request.tracker}' is not in this build of the native "
            "module; choose another tracker or install a build that has it"
        )
    extra = {}
    if request.tracker != "classical":
        extra = dict(request.network.kwargs(), tracker=request.tracker)
        # Written straight into the cache: a network's depth sidecar (README "Formats") lands
        # beside the track there and is cached with it.
        extra["output"] = store.path_for(sha, request.tracker, options)
        extra["overwrite"] = True
        made = _make_folders(os.path.dirname(extra["output"]))
    else:
        made = []
    try:
        text = _run_tracker(request, native, progress, extra)
    except BaseException:
        for folder in reversed(made):  # a refused run leaves nothing behind
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
        raise
    return store.store_text(sha, request.tracker, options, text), text, False


def _make_folders(folder):
    """Makes `folder` and its missing parents; returns those it made, outermost first."""
    missing = []
    while folder and not os.path.exists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    for made in reversed(missing):
        os.makedirs(made, exist_ok=True)
    return list(reversed(missing))


def _run_tracker(request, native, progress, extra):
    if request.focal_px is not None:
        extra["focal_px"] = float(request.focal_px)
    if request.mask:
        extra["mask"] = request.mask
    if hasattr(native, "track_text"):  # worker mode: `vanelia track`
        text = native.track_text(
            request.video, request.start, request.end, request.every, progress, **extra
        )
    else:
        doc = native.track_video(
            request.video,
            start=request.start,
            end=request.end,
            every=request.every,
            progress=progress,
            **extra,
        )
        text = native.format_track(doc)
    return text
