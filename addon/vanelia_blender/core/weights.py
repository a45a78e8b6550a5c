"""Checks a network checkpoint path cheaply, without unpickling. bpy-free.

A recognised checkpoint is PyTorch's zip format (`torch.save` since 1.6):
a zip archive whose entries all sit under one top folder that holds
`data.pkl` (e.g. `archive/data.pkl`, `archive/data/0`, ...). That is what the
native loader (native/src/model/checkpoint/checkpoint.cpp) reads.
"""

import os
import zipfile


class WeightsError(ValueError):
    """A checkpoint path that cannot be used; the message says why."""


def check_checkpoint(path, what="checkpoint"):
    """Returns None when `path` is a readable torch zip checkpoint, else
    raises WeightsError naming the path and the rule."""
    if not path:
        raise WeightsError(f"{what}: no file set")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise WeightsError(f"{what} '{path}': no such file")
    if not os.access(path, os.R_OK):
        raise WeightsError(f"{what} '{path}': not readable")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as e:
        raise WeightsError(
            f"{what} '{path}': not a PyTorch zip checkpoint ({e}); "
            "expected a file saved by torch.save (.pth/.pt)"
        )
    if not names:
        raise WeightsError(f"{what} '{path}': empty zip; not a PyTorch checkpoint")
    top = names[0].split("/", 1)[0]
    if f"{top}/data.pkl" not in names:
        raise WeightsError(
            f"{what} '{path}': zip without '{top}/data.pkl'; not a PyTorch " "checkpoint"
        )
    return None
