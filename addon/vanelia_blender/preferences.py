"""Add-on preferences: network checkpoints (checked when set), device,
default tracker and the track cache folder (core/cache.py)."""

import os

import bpy
from bpy.props import EnumProperty, StringProperty

from . import native
from .core import cache, tracking, weights

PACKAGE = __package__


def _check_path(prefs, key):
    path = getattr(prefs, key)
    status = ""
    if path:
        try:
            network = key.replace("_path", "")
            weights.check_checkpoint(bpy.path.abspath(path), network, network=network)
        except weights.WeightsError as e:
            status = str(e)
    setattr(prefs, key.replace("_path", "_status"), status)


def _must3r_changed(self, context):
    _check_path(self, "must3r_path")


def _dust3r_changed(self, context):
    _check_path(self, "dust3r_path")


def cuda_available():
    mod = native.module() if native.available() else None
    probe = getattr(mod, "cuda_available", None)
    return bool(probe and probe())


# Enum items with fixed numbers (a stored choice keeps its meaning whether or
# not CUDA is offered), kept alive here as Blender requires for dynamic items.
_DEVICE_CPU_ONLY = [
    ("AUTO", "Auto", "CUDA when available, else CPU", 0),
    ("CPU", "CPU", "Run on the processor", 1),
]
_DEVICE_WITH_CUDA = _DEVICE_CPU_ONLY + [("CUDA", "CUDA", "Run on the NVIDIA GPU", 2)]
DEVICE_NAMES = {"AUTO": "auto", "CPU": "cpu", "CUDA": "cuda"}  # -> track_video


def device_items(self, context):
    """Auto and CPU, and CUDA only when the native module sees a GPU."""
    return _DEVICE_WITH_CUDA if cuda_available() else _DEVICE_CPU_ONLY


class VaneliaPreferences(bpy.types.AddonPreferences):
    bl_idname = PACKAGE

    must3r_path: StringProperty(
        name="MUSt3R checkpoint",
        subtype="FILE_PATH",
        update=_must3r_changed,
        description="MUSt3R weights (.pth saved by torch.save)",
    )
    must3r_status: StringProperty()
    dust3r_path: StringProperty(
        name="DUSt3R checkpoint",
        subtype="FILE_PATH",
        update=_dust3r_changed,
        description="DUSt3R weights (.pth saved by torch.save)",
    )
    dust3r_status: StringProperty()
    device: EnumProperty(name="Device", items=device_items)
    default_tracker: EnumProperty(
        name="Default tracker",
        items=[("classical", "Classical", ""), ("must3r", "MUSt3R", ""), ("dust3r", "DUSt3R", "")],
    )
    cache_dir: StringProperty(
        name="Track cache folder",
        subtype="DIR_PATH",
        description="Where tracks are kept for reuse; empty = " + cache.default_folder(),
    )

    def draw(self, context):
        layout = self.layout
        for key in ("must3r", "dust3r"):
            layout.prop(self, f"{key}_path")
            status = getattr(self, f"{key}_status")
            if status:
                layout.label(text=status, icon="ERROR")
        layout.prop(self, "device")
        layout.prop(self, "default_tracker")
        layout.prop(self, "cache_dir")
        if native.mode() == "none":
            layout.label(text=str(_native_problem()), icon="ERROR")
        elif not native.available():
            layout.label(text=native.mode_text(), icon="CONSOLE")


def _native_problem():
    try:
        native.module()
        return ""
    except native.NativeMissing as e:
        return e


def get(context=None):
    """The preferences, or None when the add-on is not enabled by that name."""
    context = context or bpy.context
    addon = context.preferences.addons.get(PACKAGE)
    return addon.preferences if addon else None


def weights_path(prefs, tracker):
    """The absolute checkpoint path the preferences give `tracker` ("")."""
    path = getattr(prefs, f"{tracker}_path", "") if prefs else ""
    return os.path.abspath(bpy.path.abspath(path)) if path else ""


def tracker_problem(prefs, tracker):
    """Why `tracker` cannot run ("" when it can): not in this build of the
    native module, or (networks) no usable checkpoint in the preferences."""
    built = tracking.built_trackers(native.backend()) if native.mode() != "none" else None
    return tracking.tracker_problem(tracker, built, weights_path(prefs, tracker))


def device(prefs):
    """The preferences' device as track_video names it."""
    return DEVICE_NAMES.get(prefs.device, "auto") if prefs else "auto"


def cache_folder(prefs):
    return bpy.path.abspath(prefs.cache_dir) if prefs and prefs.cache_dir else None


def register():
    bpy.utils.register_class(VaneliaPreferences)


def unregister():
    bpy.utils.unregister_class(VaneliaPreferences)
