"""The pipeline module with the real Blender: `vanelia run --progress json` (one JSON object
per line, the documented fields), the human display without it, `_vanelia.run` (the same
pipeline from Python, events as dicts), and a stop (Ctrl-C or SIGTERM to `vanelia run`)
that stops Blender within seconds and leaves no output and no temporary folder."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample")
VIDEO = os.path.join(SAMPLE, "video.mp4")
PRODUCT = os.path.join(SAMPLE, "product.glb")
FIELDS = {"type", "run_percent", "elapsed_s"}

pytestmark = pytest.mark.skipif(shutil.which("blender") is None, reason="needs Blender")


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """The sample's aligned track (from its ground truth)."""
    import _vanelia

    path = tmp_path_factory.mktemp("track") / "track.json"
    _vanelia.write_track_file(
        str(path), _vanelia.import_ground_truth(os.path.join(SAMPLE, "gt.json"))
    )
    return str(path)


def _env(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return dict(os.environ, TMPDIR=str(scratch)), scratch


def _ours(scratch):
    """What Vanelia left in the temporary folder (Blender's audio library
    makes a pulse-* folder of its own there)."""
    return [p.name for p in scratch.iterdir() if p.name.startswith("vanelia")]


def _events(stderr):
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    for e in events:
        assert FIELDS <= set(e), e
    return events


def test_run_progress_json_is_one_object_per_line(tmp_path, track):
    env, scratch = _env(tmp_path)
    out = tmp_path / "final.mp4"
    cmd = [VANELIA, "run", VIDEO, PRODUCT, "--track", track, "-o", str(out)]
    cmd += ["--samples", "1", "--end", "2", "--progress", "json"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    events = _events(run.stderr)  # every line is JSON
    stages = [e for e in events if e["type"] == "stage"]
    assert [(e["stage"], e["index"], e["count"]) for e in stages] == [("render", 1, 1)]
    renders = [e for e in events if e["type"] == "progress" and e["step"] == "render"]
    assert [(e["done"], e["total"]) for e in renders] == [(1, 2), (2, 2)], renders
    assert renders[-1]["percent"] == 100.0 and renders[-1]["run_percent"] == 100.0
    assert all(e["stage"] == "render" for e in renders)
    assert events[-1]["type"] == "done" and events[-1]["text"] == str(out)
    assert out.stat().st_size > 0
    assert _ours(scratch) == []  # the run's temporary folder is gone


def test_run_human_display_without_progress_json(tmp_path, track):
    env, _ = _env(tmp_path)
    out = tmp_path / "final.mp4"
    cmd = [VANELIA, "run", VIDEO, PRODUCT, "--track", track, "-o", str(out)]
    cmd += ["--samples", "1", "--start", "10", "--end", "11"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "vanelia: stage 1/1: rendering with " in run.stderr
    assert "vanelia: render: frame 1 of 1, " in run.stderr
    assert "{" not in run.stderr


def test_python_run_calls_the_same_pipeline(tmp_path, track):
    import _vanelia

    out = tmp_path / "final.mp4"
    events = []
    result = _vanelia.run(
        VIDEO, PRODUCT, str(out), track=track, samples=1, start=0, end=1, progress=events.append
    )
    assert result["output"] == str(out) and not result["tracked"]
    assert result["elapsed_s"] > 0
    assert out.stat().st_size > 0
    assert [e["type"] for e in events][0] == "stage" and events[-1]["type"] == "done"
    assert any(e["type"] == "progress" and e["done"] == e["total"] == 1 for e in events)
    with pytest.raises(_vanelia.InputError, match="exists"):
        _vanelia.run(VIDEO, PRODUCT, str(out), track=track)
    with pytest.raises(_vanelia.InputError, match="is the input"):
        _vanelia.run(str(out), PRODUCT, str(out), track=track, overwrite=True)


def test_python_run_stops_when_the_callback_says_so(tmp_path, track):
    import _vanelia

    out = tmp_path / "final.mp4"
    seen = []

    def stop_at_first_frame(event):
        seen.append(event)
        return not (event["type"] == "progress" and event["step"] == "render")

    started = time.monotonic()
    with pytest.raises(_vanelia.Cancelled):
        _vanelia.run(
            VIDEO, PRODUCT, str(out), track=track, samples=16, progress=stop_at_first_frame
        )
    assert time.monotonic() - started < 120
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if "final" in p] == []


def _is_stage(name):
    return lambda e: e["type"] == "stage" and e["stage"] == name


# (case, extra options, when to send the signal, signal): one case per stage
# of `vanelia run`, each stopped when that stage's event appears.
STOPS = [
    ("track", ["--no-track"], _is_stage("track"), signal.SIGINT),
    ("align", ["--no-track"], _is_stage("align"), signal.SIGINT),
    ("scene-build", [], _is_stage("render"), signal.SIGINT),
    ("render", [], lambda e: e["type"] == "progress" and e["step"] == "render", signal.SIGINT),
    ("render-sigterm", [], lambda e: e["type"] == "progress", signal.SIGTERM),
    (
        "encode",
        ["--end", "4", "--samples", "1"],
        lambda e: e["type"] == "message" and e["text"].startswith("encode:"),
        signal.SIGINT,
    ),
]


@pytest.mark.parametrize("case", STOPS, ids=[c[0] for c in STOPS])
def test_signal_in_each_stage_stops_everything_and_leaves_nothing(tmp_path, track, case):
    _, extra, when, sig = case
    env, scratch = _env(tmp_path)
    env["VANELIA_CACHE_DIR"] = str(tmp_path / "cache")  # never a cache hit
    out = tmp_path / "final.mp4"
    cmd = [VANELIA, "run", VIDEO, PRODUCT, "-o", str(out), "--progress", "json"]
    if "--no-track" in extra:
        extra = [x for x in extra if x != "--no-track"]
    else:
        cmd += ["--track", track]
    cmd += ["--samples", "16", *extra] if "--samples" not in extra else extra
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if line.startswith("{") and when(json.loads(line)):
            break
    else:
        pytest.fail(f"the stage's event never came; exit {proc.wait()}")
    proc.send_signal(sig)
    stopped = time.monotonic()
    rest = proc.stderr.read()
    code = proc.wait(timeout=30)
    assert code == 130, rest
    assert time.monotonic() - stopped < 15
    errors = [json.loads(x) for x in rest.splitlines() if x.startswith("{")]
    assert errors and errors[-1]["type"] == "error" and errors[-1]["exit_code"] == 130
    assert not out.exists()
    assert [p for p in os.listdir(tmp_path) if "final" in p] == []
    assert _ours(scratch) == []
    cached = [f for _, _, files in os.walk(tmp_path / "cache") for f in files]
    assert all(not f.startswith(".tmp") for f in cached), cached
    # No Blender (or its FFmpeg) left working on this output, orphaned.
    left = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout
