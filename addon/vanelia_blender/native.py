"""The single import point of the compiled module `_vanelia`.

Where it is looked for: beside this file (the installed add-on zip ships
`vanelia_blender/_vanelia.<abi>.so`, see build_addon.py), else on sys.path
(a development tree: PYTHONPATH=build/python). `module()` returns it or
raises NativeMissing with a message that says what was found and why it
cannot load (no file, or one built for another Python).
"""

import glob
import importlib
import os
import sys
import sysconfig

_HERE = os.path.dirname(os.path.abspath(__file__))
_module = None
_failure = None


class NativeMissing(RuntimeError):
    """The compiled module cannot be imported; the message says why."""


def _candidates():
    return sorted(glob.glob(os.path.join(_HERE, "_vanelia*")))


def _explain(error):
    here = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    found = _candidates()
    python = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
    if not found:
        return (
            f"the native module _vanelia is missing (no _vanelia{here} in '{_HERE}' "
            f"nor on sys.path): install the add-on zip made by build_addon.py for "
            f"this Blender ({python}) [{error}]"
        )
    names = ", ".join(os.path.basename(f) for f in found)
    if not any(f.endswith(here) for f in found):
        return (
            f"the native module was built for another Python: found {names}, this "
            f"Blender runs {python} and needs _vanelia{here}; rebuild the add-on "
            f"zip for it [{error}]"
        )
    return f"the native module {names} failed to load: {error}"


def module():
    """The `_vanelia` module; raises NativeMissing."""
    global _module, _failure
    if _module is not None:
        return _module
    if _failure is None:
        for name in (f"{__package__}._vanelia", "_vanelia"):
            try:
                _module = importlib.import_module(name)
                return _module
            except ImportError as e:
                _failure = e
    raise NativeMissing(_explain(_failure))


def available():
    try:
        module()
        return True
    except NativeMissing:
        return False


def has(name):
    """True when the native module is there and offers `name`."""
    return available() and hasattr(_module, name)


def error_types():
    """The exceptions that mean a clear, reportable failure."""
    if not available():
        return (NativeMissing,)
    return (NativeMissing, _module.Error)


def is_cancelled(error):
    return available() and isinstance(error, getattr(_module, "Cancelled", ()))
