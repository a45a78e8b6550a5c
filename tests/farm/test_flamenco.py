"""The Flamenco job type native/farm/flamenco/vanelia.js, compiled under Node by
tests/farm/flamenco_compile_test.js with a stub of Flamenco's `author` API.

Node is required, not optional: it comes from Debian's `nodejs` package
(native/scripts/install_deps.sh). Run: /usr/bin/python3 -m pytest -q tests/farm/test_flamenco.py
"""

import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, "native", "farm", "flamenco", "vanelia.js")


def node():
    exe = shutil.which("node") or shutil.which("nodejs")
    assert exe, "node not found on PATH: install Debian's nodejs (native/scripts/install_deps.sh)"
    return exe


def run_compile_test(*args):
    return subprocess.run(
        [node(), os.path.join(HERE, "flamenco_compile_test.js"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_job_type_compiles_to_the_farm_task_graph():
    proc = run_compile_test()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all passed" in proc.stdout


def test_compile_test_fails_on_a_wrong_graph(tmp_path):
    """The Node test can fail: a copy whose renders depend on track instead of build."""
    with open(SCRIPT) as f:
        source = f.read()
    assert "render.addDependency(build);" in source
    broken = tmp_path / "vanelia.js"
    broken.write_text(
        source.replace("render.addDependency(build);", "render.addDependency(track);")
    )
    proc = run_compile_test(str(broken))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL three chunks give track, build, render-0..2" in proc.stdout
