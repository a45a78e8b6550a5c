"""The native module's functions through the `vanelia` CLI (worker mode). bpy-free.

`Worker` stands in for the `_vanelia` module where it cannot load (a Blender
of another Python): it offers the functions the operators, the scene builder
and batch.py call, with the module's names, keywords and results, each run
by the bundled CLI (core/worker.py finds it). Long work streams progress:
`track_text` runs `vanelia track --progress json` and `run` runs `vanelia run
--progress json`, so the job shows stage, frames/s and ETA and Esc stops the
child. Short calls (probe, placement, proxies, light, grain, encoder check)
run `vanelia call FUNCTION ARGS.json`, whose stdout is the binding's dict as
JSON. Failures raise WorkerError (the module's `Error` here) with the CLI's
own error line; a cancel raises JobCancelled (`Cancelled`).
"""

import json
import os
import subprocess
import tempfile

from . import worker
from .jobs import JobCancelled

# The short calls' limit: a probe or a placement takes well under this.
CALL_TIMEOUT_S = 600.0


def _flag(name):
    return "--" + name.replace("_", "-")


class Worker:
    """The `_vanelia` functions the add-on uses, run by the CLI `cli`."""

    Error = worker.WorkerError
    Cancelled = JobCancelled

    def __init__(self, cli):
        self.cli = cli
        self._trackers = None
        self._version = None

    @property
    def __version__(self):
        """The CLI's version (`vanelia --version`), the module's too: the
        track cache keys on it, so both modes share cached tracks."""
        if self._version is None:
            text = subprocess.run([self.cli, "--version"], capture_output=True, text=True).stdout
            self._version = text.split()[-1] if text.split() else ""
        return self._version or None

    # -- short calls ------------------------------------------------------
    def call(self, function, **kwargs):
        """`vanelia call function` on `kwargs` (JSON); returns its dict."""
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", prefix="vanelia-call-", delete=False, encoding="utf-8"
        ) as f:
            json.dump(kwargs, f)
            args_path = f.name
        try:
            result = subprocess.run(
                [self.cli, "call", function, args_path],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=CALL_TIMEOUT_S,
            )
        finally:
            os.remove(args_path)
        if result.returncode != 0:
            raise worker.WorkerError(
                _error_line(result.stderr, result.returncode), result.returncode
            )
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise worker.WorkerError(
                f"vanelia call {function}: not JSON on stdout: {result.stdout[:200]!r}", 1
            ) from None

    def probe_media(self, path):
        return self.call("probe_media", path=os.fspath(path))

    def probe_video(self, path):
        """The fields of the module's probe_video the add-on reads (width,
        height: upright, as probe_media's)."""
        return self.probe_media(path)

    def source_content_sha256(self, path):
        return self.call("source_content_sha256", path=os.fspath(path))["sha256"]

    def have_overlay_encoder(self, codec):
        return bool(self.call("have_overlay_encoder", codec=codec)["have"])

    def place_product(self, track, size_m, **kwargs):
        return self.call("place_product", track=track, size_m=list(size_m), **kwargs)

    def build_proxies(self, track, **kwargs):
        return self.call("build_proxies", track=track, **kwargs)

    def estimate_light(self, video, track, **kwargs):
        return self.call("estimate_light", video=video, track=track, **kwargs)

    def build_environment(self, video, track, output, spot_m, **kwargs):
        spot = list(spot_m)
        return self.call(
            "build_environment", video=video, track=track, output=output, spot_m=spot, **kwargs
        )

    def measure_plate_grain(self, video, **kwargs):
        result = self.call("measure_plate_grain", video=video, **kwargs)
        result["sigma"] = tuple(result["sigma"])
        return result

    def align_track_file(self, input, output, camera_height_m=1.5, overwrite=False, video=""):
        """`vanelia align` (`video`: its --video, for a plain floor's height sweep): the aligned
        file; returns {aligned} (the file's world is Blender's)."""
        argv = [self.cli, "align", input, "-o", output, "--quiet"]
        argv += ["--camera-height", repr(float(camera_height_m))]
        if video:
            argv += ["--video", video]
        if overwrite:
            argv.append("--overwrite")
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise worker.WorkerError(
                _error_line(result.stderr, result.returncode), result.returncode
            )
        with open(output, encoding="utf-8") as f:
            world = json.load(f).get("world")
        return {"aligned": world == "blender"}

    # -- long work --------------------------------------------------------
    @property
    def TRACKERS(self):  # noqa: N802 - the module's name
        """The trackers of this CLI (its `track --help`)."""
        if self._trackers is None:
            text = subprocess.run(
                [self.cli, "track", "--help"], capture_output=True, text=True
            ).stdout
            line = next((x for x in text.splitlines() if "--tracker NAME" in x), "")
            names = line.split("tracker:", 1)[-1].split("(")[0].split()
            self._trackers = tuple(n for n in names if n in ("classical", "must3r", "dust3r"))
        return self._trackers

    def track_video(self, *args, **kwargs):
        """Present so that the add-on sees a tracker; tracking.py calls
        track_text in worker mode."""
        raise worker.WorkerError("worker mode: use track_text", 1)

    def track_text(self, video, start=0, end=-1, every=1, progress=None, **extra):
        """`vanelia track --no-align --progress json` into `output` (a
        network's depth sidecar lands beside it) or a temporary file;
        returns the track file's text (the tracker's raw world)."""
        given = extra.pop("output", None)
        extra.pop("overwrite", None)
        folder = None if given else tempfile.mkdtemp(prefix="vanelia-track-")
        out = given or os.path.join(folder, "track.json")
        argv = ["track", video, "-o", out, "--overwrite", "--no-align", "--start", str(start)]
        argv += ["--every", str(every)] + (["--end", str(end)] if end >= 0 else [])
        argv += _tracker_flags(extra)
        try:
            worker.run_cli(argv, progress, cli=self.cli)
            with open(out, encoding="utf-8") as f:
                return f.read()
        finally:
            if folder is not None:
                if os.path.exists(out):
                    os.remove(out)
                os.rmdir(folder)

    def run(self, video, product, output, progress=None, addon_dir="", **kw):
        """`vanelia run --progress json` with the keywords of the module's
        run; `progress(event)` gets each event dict (False cancels)."""
        argv = ["run", video, product, "-o", output] + _run_flags(kw)
        env = {"VANELIA_ADDON_DIR": addon_dir} if addon_dir else None
        return worker.run_cli(argv, None, cli=self.cli, events=progress, env=env)

    def make_plate_proxy(self, source, output, fps=None, threads=0, progress=None):
        """`vanelia proxy` (the native MakePlateProxy); returns {"output": output}
        (the CLI prints no dict; the proxy's facts are the file's)."""
        argv = ["proxy", source, "-o", output, "--overwrite", "--quiet"]
        argv += ["--fps", f"{fps[0]}/{fps[1]}"] if fps else []
        result = subprocess.run(
            [self.cli, *argv], stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if result.returncode == 130:
            raise JobCancelled("proxy cancelled")
        if result.returncode != 0:
            raise worker.WorkerError(
                _error_line(result.stderr, result.returncode), result.returncode
            )
        return {"output": output}

    def encode_overlay(self, plate, frames_dir, output, first, every, count, codec, audio):
        """`vanelia encode` (the native overlay + encode stage); `audio`: the
        file whose audio is copied (the source of a proxy plate), or None."""
        argv = ["encode", plate, frames_dir, "-o", output, "--overwrite", "--quiet"]
        argv += ["--codec", codec, "--first", str(first), "--every", str(every)]
        argv += ["--count", str(count)] + (["--audio", audio] if audio else ["--no-audio"])
        result = subprocess.run(
            [self.cli, *argv], stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise worker.WorkerError(
                _error_line(result.stderr, result.returncode), result.returncode
            )
        return output


# The network keywords of `_vanelia.track_video` that only MUSt3R takes.
_MUST3R_ONLY = ("local_context", "max_keyframes", "keyframe_every", "init_frames", "batch_frames")


def _tracker_flags(extra):
    """`vanelia track` flags of track_video's keywords."""
    tracker = extra.get("tracker", "classical")
    flags = ["--tracker", tracker]
    for key, value in extra.items():
        if key == "tracker" or value is None or value == "":
            continue
        if tracker != "must3r" and key in _MUST3R_ONLY:
            continue
        flags += [_flag(key), str(value)]
    return flags


def _run_flags(kw):
    """`vanelia run` flags of the module's run keywords."""
    flags = []
    names = {"rotation_z_deg": "--rotation-z", "height_m": "--height", "location_m": "--location"}
    for key, value in kw.items():
        if value is None or value is False or value == "" or key == "addon_dir":
            continue
        flag = names.get(key, _flag(key))
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            flags += [flag, *(repr(float(v)) for v in value)]
        elif key == "end" and value < 0:
            continue
        else:
            flags += [flag, str(value)]
    return flags


def _error_line(stderr, code):
    lines = [x for x in (stderr or "").splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("vanelia: ")]
    text = (errors or lines or [f"vanelia exited with {code}"])[-1]
    return text.removeprefix("vanelia: error: ").removeprefix("vanelia: ")
