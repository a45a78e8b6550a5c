"""Worker mode: the `vanelia` CLI run as a child process for a job. bpy-free.

When the native module cannot load in the running Blender (built for another
Python: Blender 4.x/5.x ship 3.11 or 3.13), the add-on still has the bundled
CLI (`vanelia_blender/bin/vanelia`, made self-contained by
native/scripts/bundle_native.py). `run_cli(argv, progress)` runs it with
`--progress json` and turns its event lines on stderr (docs/architecture.md,
"Progress events") into the job's progress calls, so the panel shows the same
stage, fraction, rate and ETA as in-process work. A job's cancel (its
progress callback returning False, polled every `POLL_S`) sends SIGTERM, on
which the CLI stops every stage (Blender's process group included), removes
what it was writing and exits 130: `run_cli` then raises JobCancelled, well
within a second of the cancel for the CLI's own stages. Exit 2 (bad input)
and 1 (internal error) raise WorkerError with the CLI's own error line.

`find_cli()` says where the CLI is: the add-on's bin/ (the self-contained
zip), else $VANELIA_CLI, else `vanelia` on PATH; None when none is.
"""

import json
import os
import shutil
import signal
import subprocess
import threading
import time

from .jobs import JobCancelled

# How often the child is polled for exit and the job for a cancel, seconds.
POLL_S = 0.05
# After SIGTERM, how long the CLI gets to stop and clean up before SIGKILL.
STOP_GRACE_S = 10.0

_ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WorkerError(RuntimeError):
    """The CLI failed; the message is its own error line. `exit_code` is 2
    for bad input, 1 for an internal error."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def find_cli(addon_dir=_ADDON_DIR):
    """The `vanelia` executable worker mode runs, or None."""
    bundled = os.path.join(addon_dir, "bin", "vanelia")
    if os.path.isfile(bundled):
        if not os.access(bundled, os.X_OK):
            # Blender unpacks an add-on zip with Python's zipfile, which
            # drops the executable bit: the add-on's own file, so restored.
            try:
                os.chmod(bundled, 0o755)
            except OSError:
                pass
        if os.access(bundled, os.X_OK):
            return bundled
    env = os.environ.get("VANELIA_CLI")
    if env and os.path.isfile(env) and os.access(env, os.X_OK):
        return env
    return shutil.which("vanelia")


def progress_fields(event):
    """The job progress keywords of one `--progress json` event (None for
    events that carry no progress)."""
    kind = event.get("type")
    if kind == "stage":
        return {
            "stage": event.get("stage", ""),
            "done": 0,
            "total": 0,
            "message": event.get("text", ""),
        }
    if kind == "progress":
        fields = {
            # The work inside the stage (decode, track, render), as the
            # in-process jobs name it.
            "stage": event.get("step") or event.get("stage", ""),
            "done": int(event.get("done", 0)),
            "total": int(event.get("total", 0)),
            "rate_per_s": float(event.get("rate_per_s", 0.0)),
        }
        if "eta_s" in event:
            fields["eta_s"] = float(event["eta_s"])
        return fields
    if kind == "message":
        return {"message": event.get("text", "")}
    return None


class _EventReader(threading.Thread):
    """Reads the child's stderr: JSON events, and any other line kept as
    text (a crash's output)."""

    def __init__(self, stream, on_event):
        super().__init__(name="vanelia-worker-stderr", daemon=True)
        self._stream = stream
        self._on_event = on_event
        self.events = []
        self.other_lines = []

    def run(self):
        for line in self._stream:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                self.other_lines.append(line)
                continue
            if isinstance(event, dict):
                self.events.append(event)
                self._on_event(event)
            else:
                self.other_lines.append(line)


def _no_cli():
    return WorkerError(
        "worker mode: no vanelia executable (not in the add-on's bin/, "
        "$VANELIA_CLI or PATH); install the self-contained add-on zip",
        2,
    )


def run_cli(argv, progress, cli=None, events=None, env=None):
    """Runs `cli argv... --progress json`; returns the `done` event's text
    (the output path). Raises JobCancelled when the job was cancelled,
    WorkerError when the CLI failed, WorkerError(exit_code=2) when there is
    no CLI to run. With `events`, each event dict goes to `events(event)`
    instead (and the polls as {"type": "poll"}); False cancels. `env`: extra
    environment variables of the child."""
    cli = cli or find_cli()
    if cli is None:
        raise _no_cli()
    lock = threading.Lock()
    state = {"cancel": False}

    def ask(event):
        if events is not None:
            return events(event)
        if event is None:
            return progress()
        fields = progress_fields(event)
        return True if fields is None else progress(**fields)

    def on_event(event):
        with lock:
            if not ask(event):
                state["cancel"] = True

    proc = subprocess.Popen(
        [cli, *argv, "--progress", "json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=dict(os.environ, **env) if env else None,
    )
    reader = _EventReader(proc.stderr, on_event)
    reader.start()
    cancel_sent = None
    while proc.poll() is None:
        with lock:
            if not ask({"type": "poll"} if events is not None else None):
                state["cancel"] = True
        if state["cancel"] and cancel_sent is None:
            cancel_sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
        if cancel_sent is not None and time.monotonic() - cancel_sent > STOP_GRACE_S:
            proc.kill()
        time.sleep(POLL_S)
    reader.join(5.0)
    return _outcome(proc.returncode, reader, state["cancel"])


def _outcome(code, reader, cancelled):
    if cancelled or code == 130:
        raise JobCancelled()
    errors = [e for e in reader.events if e.get("type") == "error"]
    if code != 0:
        if errors:
            raise WorkerError(errors[-1].get("text", ""), errors[-1].get("exit_code", code))
        tail = "; ".join(reader.other_lines[-3:]) or "no message"
        raise WorkerError(f"vanelia exited with {code}: {tail}", 1 if code > 0 else code)
    done = [e for e in reader.events if e.get("type") == "done"]
    return done[-1].get("text", "") if done else ""
