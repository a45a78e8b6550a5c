"""Long work off Blender's main thread: a job runs `run(progress) -> result`.

bpy-free. A `Job` wraps a callable that does the work and reports progress
through the callable it is given (`progress(record) -> bool`; False asks the
work to stop). The native calls (`_vanelia.track_video`, `VideoReader`
loops) release the GIL while they work and call the progress callback with a
`_vanelia.Progress` (stage, done, total, rate_per_s, eta_s); any object with
those attributes, or none of them, will do.

Two ways to run a job:
- `start()`: in a worker thread. The main thread polls `snapshot()` (a
  consistent copy: state, fraction, frames/s, ETA) from a timer and calls
  `cancel()` on Esc. The worker never touches bpy: its result is picked up
  by the main thread once `snapshot().finished`.
- `run_sync()`: on the calling thread (`blender -b` has no event loop).

Cancelling is cooperative: the next progress call returns False, the native
code raises its Cancelled error, and the job ends CANCELLED. A result that
arrives after `cancel()` is discarded, so a cancelled job never changes
anything; `settled()` lets the UI report a cancel after CANCEL_GRACE_S even
while the worker is still inside a long native step.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

# After Esc, how long the UI waits for the worker to stop before it reports
# the cancel anyway (settled()); native steps without progress calls (a
# bundle adjustment) can take longer than this.
CANCEL_GRACE_S = 0.5

PENDING = "PENDING"
RUNNING = "RUNNING"
DONE = "DONE"
FAILED = "FAILED"
CANCELLED = "CANCELLED"


class JobCancelled(Exception):
    """Raised by work that notices the cancel itself (not native code)."""


@dataclass
class Snapshot:
    state: str = PENDING
    stage: str = ""
    done: int = 0  # units finished in this stage (frames, iterations)
    total: int = 0  # units in the stage; 0 when unknown
    rate_per_s: float = 0.0  # units per second
    eta_s: float = -1.0  # seconds left; < 0 when unknown
    elapsed_s: float = 0.0  # since start
    message: str = ""
    result: Any = None  # DONE: what run returned
    error: Optional[BaseException] = None  # FAILED: the exception
    cancel_requested: bool = False
    cancel_at: Optional[float] = None  # time.monotonic() of cancel()
    cancelled_after_s: Optional[float] = None  # cancel() to the end, seconds
    worker_running: bool = False  # settled() gave up waiting for the worker

    @property
    def finished(self):
        return self.state in (DONE, FAILED, CANCELLED)

    @property
    def fraction(self):
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


def format_duration(seconds):
    """'1:02:03', '2:03' or '4.2s' (as the native FormatDuration)."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    h, m, s = s // 3600, (s // 60) % 60, s % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# Stages whose units are frames (the others count steps: a rate in frames/s
# would mislead there).
FRAME_STAGES = ("decode", "track", "render")


def describe(snap, unit="frames"):
    """One line for the panel and the status bar."""
    if snap.state == PENDING:
        return "starting"
    parts = [snap.stage or "working"]
    if snap.total > 0:
        parts.append(f"{100.0 * snap.fraction:.0f}% ({snap.done}/{snap.total})")
    if snap.rate_per_s > 0 and snap.stage in FRAME_STAGES:
        parts.append(f"{snap.rate_per_s:.1f} {unit}/s")
    if snap.eta_s >= 0:
        parts.append(f"ETA {format_duration(snap.eta_s)}")
    if snap.cancel_requested and not snap.finished:
        parts.append("cancelling")
    return " · ".join(parts)


class Job:
    """One unit of long work; see the module comment."""

    def __init__(self, run, name="job", is_cancel_error=None):
        # `is_cancel_error(exc)`: True when `exc` means "stopped because
        # asked" (e.g. _vanelia.Cancelled); JobCancelled always does.
        self.name = name
        self._run = run
        self._is_cancel_error = is_cancel_error or (lambda e: False)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._snap = Snapshot()
        self._started = None
        self._stage_started = None
        self._cancel_time = None
        self._thread = None

    # -- called by the work (any thread) ------------------------------------
    def progress(self, record=None, **fields):
        """The callback handed to `run`. Returns False once cancelled."""
        now = time.monotonic()
        with self._lock:
            s = self._snap
            stage = fields.get("stage", getattr(record, "stage", None))
            if stage is not None and (stage != s.stage or self._stage_started is None):
                self._stage_started = now
            for key in ("stage", "done", "total", "rate_per_s", "eta_s", "message"):
                value = fields.get(key, getattr(record, key, None))
                if value is not None:
                    setattr(s, key, value)
            s.elapsed_s = now - self._started if self._started else 0.0
            if "rate_per_s" not in fields and not getattr(record, "rate_per_s", 0):
                in_stage = now - (self._stage_started or now)
                s.rate_per_s = s.done / in_stage if in_stage > 0 else 0.0
            if "eta_s" not in fields and getattr(record, "eta_s", -1) < 0:
                left = s.total - s.done
                s.eta_s = left / s.rate_per_s if s.total > 0 and s.rate_per_s > 0 else -1.0
        return not self._cancel.is_set()

    @property
    def cancelled(self):
        return self._cancel.is_set()

    # -- called by the owner (main thread) -----------------------------------
    def cancel(self):
        with self._lock:
            if self._cancel_time is None:
                self._cancel_time = time.monotonic()
            self._snap.cancel_requested = True
            self._snap.cancel_at = self._cancel_time
        self._cancel.set()

    def snapshot(self):
        with self._lock:
            copy = Snapshot(**vars(self._snap))
        if not copy.finished and self._started:
            copy.elapsed_s = time.monotonic() - self._started
        return copy

    def start(self):
        self._begin()
        self._thread = threading.Thread(target=self._body, name=f"vanelia-{self.name}", daemon=True)
        self._thread.start()
        return self

    def run_sync(self):
        self._begin()
        self._body()
        return self.snapshot()

    def settled(self, grace_s=CANCEL_GRACE_S):
        """The snapshot to act on: a finished job's, or - once a cancel is
        older than `grace_s` while the worker is still inside a long native
        step - a CANCELLED one (`worker_running`). The worker then ends on its
        own at its next progress call and its result is discarded, so the
        owner can report the cancel at once without waiting for it."""
        snap = self.snapshot()
        if snap.finished or not snap.cancel_requested:
            return snap
        waited = time.monotonic() - snap.cancel_at
        if waited < grace_s:
            return snap
        snap.state, snap.result, snap.worker_running = CANCELLED, None, True
        snap.cancelled_after_s = waited
        return snap

    def wait(self, timeout=None):
        """Joins the worker; True when it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.snapshot().finished

    # -- internals -------------------------------------------------------------
    def _begin(self):
        if self._started is not None:
            raise RuntimeError(f"job '{self.name}' was already started")
        self._started = time.monotonic()
        with self._lock:
            self._snap.state = RUNNING

    def _body(self):
        result, error = None, None
        try:
            result = self._run(self.progress)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            error = e
        self._finish(result, error)

    def _finish(self, result, error):
        now = time.monotonic()
        with self._lock:
            s = self._snap
            s.elapsed_s = now - self._started
            if self._cancel.is_set():
                s.state = CANCELLED
                s.cancelled_after_s = now - self._cancel_time
            elif error is not None and (
                isinstance(error, JobCancelled) or self._is_cancel_error(error)
            ):
                s.state, s.cancel_requested = CANCELLED, True
            elif error is not None:
                s.state, s.error = FAILED, error
            else:
                s.state, s.result = DONE, result
