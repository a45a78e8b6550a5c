"""native.py: the one import point says clearly why _vanelia cannot load."""

import importlib

import pytest

from vanelia_blender import native


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_HERE", str(tmp_path))
    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_failure", None)

    def refuse(name):
        raise ImportError(f"No module named '{name}'")

    monkeypatch.setattr(importlib, "import_module", refuse)
    return tmp_path


def test_missing_module_says_so(fresh):
    with pytest.raises(native.NativeMissing, match="native module _vanelia is missing"):
        native.module()
    assert not native.available()
    assert native.error_types() == (native.NativeMissing,)


def test_module_for_another_python_says_which(fresh):
    (fresh / "_vanelia.cpython-39-x86_64-linux-gnu.so").write_bytes(b"")
    with pytest.raises(native.NativeMissing, match="built for another Python") as e:
        native.module()
    assert "_vanelia.cpython-39-x86_64-linux-gnu.so" in str(e.value)
    assert "rebuild the add-on zip" in str(e.value)
