"""The single import point of the compiled module `_vanelia`.

Where it is looked for: beside this file (the installed add-on zip ships
`vanelia_blender/_vanelia.<abi>.so`, see build_addon.py), else on sys.path
(a development tree: PYTHONPATH=build/python). `module()` returns it or
raises NativeMissing with a message that says what was found and why it
cannot load (no file, or one built for another Python).

Worker mode: where the module cannot load but the bundled `vanelia` CLI is
there (the self-contained zip in a Blender of another Python), `backend()`
returns a core.worker_calls.Worker instead, which runs the same functions
through the CLI; `mode()` says which ("in-process", "worker" or "none").
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


_worker = None


def worker():
    """The CLI stand-in (core.worker_calls.Worker), or None without a CLI."""
    global _worker
    if _worker is None:
        from .core import worker as runner
        from .core import worker_calls

        cli = runner.find_cli()
        if cli is None:
            return None
        _worker = worker_calls.Worker(cli)
    return _worker


def mode():
    """ "in-process" (the module imports), "worker" (the CLI runs the native
    work) or "none"."""
    if available():
        return "in-process"
    return "worker" if worker() is not None else "none"


def mode_text():
    """The panel's line on where the native work runs."""
    python = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
    kind = mode()
    if kind == "in-process":
        return f"Native: in-process (the module, {python})"
    if kind == "worker":
        return f"Native: worker (the bundled vanelia CLI; no module for {python})"
    return "Native: none"


def backend():
    """The module, else the CLI's Worker; raises NativeMissing (saying why
    the module cannot load) when there is neither."""
    if available():
        return _module
    runner = worker()
    if runner is None:
        module()  # raises NativeMissing, which says why
    return runner


def available():
    try:
        module()
        return True
    except NativeMissing:
        return False


def has(name):
    """True when the native module (or, in worker mode, the CLI) offers `name`."""
    if available():
        return hasattr(_module, name)
    return worker() is not None and hasattr(_worker, name)


def error_types():
    """The exceptions that mean a clear, reportable failure."""
    from .core.worker import WorkerError

    if not available():
        return (NativeMissing, WorkerError)
    return (NativeMissing, WorkerError, _module.Error)


def is_cancelled(error):
    return available() and isinstance(error, getattr(_module, "Cancelled", ()))
