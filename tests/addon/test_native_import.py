"""native.py: the one import point says clearly why _vanelia cannot load, and
when the bundled CLI is there, worker mode."""

import importlib
import os

import pytest

from vanelia_blender import native
from vanelia_blender.core import worker_calls
from vanelia_blender.core.worker import WorkerError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_HERE", str(tmp_path))
    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_failure", None)
    monkeypatch.setattr(native, "_worker", None)
    monkeypatch.delenv("VANELIA_CLI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `vanelia` there

    def refuse(name):
        raise ImportError(f"No module named '{name}'")

    monkeypatch.setattr(importlib, "import_module", refuse)
    return tmp_path


def test_missing_module_says_so(fresh):
    with pytest.raises(native.NativeMissing, match="native module _vanelia is missing"):
        native.module()
    assert not native.available()
    assert native.error_types() == (native.NativeMissing, WorkerError)
    assert native.mode() == "none" and native.worker() is None
    with pytest.raises(native.NativeMissing, match="native module _vanelia is missing"):
        native.backend()


def test_worker_mode_when_the_cli_is_there(fresh, monkeypatch):
    """No module for this Python, the CLI there: the work goes to the CLI."""
    if not os.path.isfile(VANELIA):
        pytest.skip("no build/bin/vanelia")
    monkeypatch.setenv("VANELIA_CLI", VANELIA)
    assert not native.available() and native.mode() == "worker"
    assert isinstance(native.backend(), worker_calls.Worker)
    assert native.backend().cli == VANELIA
    assert native.has("place_product") and not native.has("OverlayEncoder")
    assert native.mode_text().startswith("Native: worker")


def test_module_for_another_python_says_which(fresh):
    (fresh / "_vanelia.cpython-39-x86_64-linux-gnu.so").write_bytes(b"")
    with pytest.raises(native.NativeMissing, match="built for another Python") as e:
        native.module()
    assert "_vanelia.cpython-39-x86_64-linux-gnu.so" in str(e.value)
    assert "rebuild the add-on zip" in str(e.value)
