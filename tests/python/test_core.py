"""Bindings of the core module: the error hierarchy and helpers."""

import hashlib

import _vanelia
import pytest


def test_error_hierarchy_is_rooted_in_runtime_error():
    assert issubclass(_vanelia.Error, RuntimeError)
    assert issubclass(_vanelia.InputError, _vanelia.Error)
    assert issubclass(_vanelia.DecodeError, _vanelia.InputError)
    assert issubclass(_vanelia.ModelError, _vanelia.Error)
    assert issubclass(_vanelia.Cancelled, _vanelia.Error)


def test_sha256_of_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    assert _vanelia.sha256_of_file(str(path)) == hashlib.sha256(data).hexdigest()


def test_missing_file_raises_input_error_naming_it(tmp_path):
    missing = tmp_path / "nope.bin"
    with pytest.raises(_vanelia.InputError, match="nope.bin"):
        _vanelia.sha256_of_file(str(missing))
