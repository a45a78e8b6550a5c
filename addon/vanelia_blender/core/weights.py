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


# Byte marks of each network's checkpoint in its data.pkl (the model's
# constructor string in args, read as bytes: nothing is unpickled). DUSt3R:
# args.model = "AsymmetricCroCo3DStereo(...)"; MUSt3R: args.decoder =
# "CausalMUSt3R(...)" (or another *MUSt3R class).
NETWORK_MARKS = {"dust3r": b"AsymmetricCroCo3DStereo(", "must3r": b"MUSt3R("}
NETWORK_LABELS = {"dust3r": "DUSt3R", "must3r": "MUSt3R"}


def checkpoint_network(archive, top):
    """The network of an open torch zip: "dust3r", "must3r" or None."""
    data = archive.read(f"{top}/data.pkl")
    found = [key for key, mark in NETWORK_MARKS.items() if mark in data]
    return found[0] if len(found) == 1 else None


def check_checkpoint(path, what="checkpoint", network=None):
    """Returns None when `path` is a readable torch zip checkpoint (and, with
    `network` "dust3r" or "must3r", not recognisably the other network's),
    else raises WeightsError naming the path and the rule."""
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
            top = names[0].split("/", 1)[0] if names else ""
            found = None
            if network and f"{top}/data.pkl" in names:
                found = checkpoint_network(archive, top)
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
    if network and found and found != network:
        raise WeightsError(
            f"{what} '{path}': is a {NETWORK_LABELS[found]} checkpoint, not "
            f"{NETWORK_LABELS.get(network, network)}"
        )
    return None
