"""vanelia.pick_spot: the product's spot picked by clicking the floor in the 3D viewport.

Modal in the UI: the product follows the floor point under the mouse, a left click keeps it
as the panel's Location (auto placement off, so Build scene keeps it, as a typed location),
Esc or a right click puts everything back. The geometry is core/floor_pick.py; the ray comes
from the viewport (`viewport_ray`) or, for scripts and `blender -b` (no viewport), from the
scene camera and a normalised point of its image (`camera_coord`, `camera_ray`): both end in
`pick_at`. A ray that misses the floor is reported and changes nothing.
"""

import bpy
from bpy.props import FloatVectorProperty

from .core import floor_pick
from .scene import collection, product


def viewport_ray(region, rv3d, coord):
    """The world ray (origin, direction) under region pixel `coord` of a 3D viewport (its
    perspective, orthographic or camera view)."""
    from bpy_extras import view3d_utils

    origin = view3d_utils.region_2d_to_origin_3d(region, rv3d, coord)
    direction = view3d_utils.region_2d_to_vector_3d(region, rv3d, coord)
    return tuple(origin), tuple(direction)


def camera_ray(scene, cam, coord):
    """The world ray through normalised image point `coord` ((0, 0) bottom-left, (1, 1)
    top-right of the camera's frame) of camera object `cam`."""
    frame = [tuple(p) for p in cam.data.view_frame(scene=scene)]
    matrix = [list(row) for row in cam.matrix_world]
    return floor_pick.camera_ray(matrix, frame, coord, ortho=cam.data.type == "ORTHO")


def _product():
    empty = bpy.data.objects.get(product.EMPTY_NAME)
    if empty is None or not collection.is_owned(empty):
        return None
    return empty


def pick_at(context, ray):
    """Moves the product to where `ray` meets the floor and makes it the panel's location
    (from automatic placement: its heading becomes the panel's Turn); returns the spot.
    FloorPickError (nothing changed) when the ray misses the floor."""
    spot = floor_pick.ray_floor_hit(*ray)
    empty = _product()
    s = context.scene.vanelia
    if empty is not None:
        empty.location = spot
        if s.auto_location:  # the automatic heading stays with the spot
            s.rotation_z = empty.rotation_euler[2]
    s.auto_location = False
    s.location = spot
    return spot


class VANELIA_OT_pick_spot(bpy.types.Operator):
    """Pick the product's spot: click the floor in the 3D viewport (Esc or right click
    cancels)"""

    bl_idname = "vanelia.pick_spot"
    bl_label = "Pick spot"
    bl_options = {"REGISTER", "UNDO"}

    camera_coord: FloatVectorProperty(
        name="Camera point",
        size=2,
        description="Without the viewport: the point of the scene camera's image "
        "((0, 0) bottom-left, (1, 1) top-right) whose ray picks the spot",
    )

    def execute(self, context):
        cam = context.scene.camera
        if not self.properties.is_property_set("camera_coord"):
            self.report({"ERROR"}, "Pick spot: click the floor in a 3D viewport")
            return {"CANCELLED"}
        if cam is None or cam.type != "CAMERA":
            self.report({"ERROR"}, "Pick spot: the scene has no camera; press Build scene first")
            return {"CANCELLED"}
        return self._pick(context, camera_ray(context.scene, cam, self.camera_coord))

    def _pick(self, context, ray):
        try:
            spot = pick_at(context, ray)
        except floor_pick.FloorPickError as e:
            self.report({"ERROR"}, f"Pick spot: {e}")
            return {"CANCELLED"}
        where = "" if _product() else " (no product yet: Build scene puts it there)"
        self.report({"INFO"}, f"Product spot ({spot[0]:.3f}, {spot[1]:.3f}, 0){where}")
        return {"FINISHED"}

    def invoke(self, context, event):
        area = context.area
        if area is None or area.type != "VIEW_3D":
            self.report({"ERROR"}, "Pick spot: run it from a 3D viewport")
            return {"CANCELLED"}
        self._region = next((r for r in area.regions if r.type == "WINDOW"), None)
        self._rv3d = area.spaces.active.region_3d
        if self._region is None or self._rv3d is None:
            self.report({"ERROR"}, "Pick spot: the 3D viewport has no view")
            return {"CANCELLED"}
        s = context.scene.vanelia
        empty = _product()
        self._saved = (
            s.auto_location,
            tuple(s.location),
            s.rotation_z,
            tuple(empty.location) if empty is not None else None,
        )
        context.window_manager.modal_handler_add(self)
        context.window.cursor_modal_set("CROSSHAIR")
        area.header_text_set("Pick spot: click the floor (Esc / right click: cancel)")
        self._area = area
        return {"RUNNING_MODAL"}

    def _coord(self, event):
        r = self._region
        x, y = event.mouse_x - r.x, event.mouse_y - r.y
        return (x, y) if 0 <= x < r.width and 0 <= y < r.height else None

    def _finish(self, context):
        context.window.cursor_modal_restore()
        self._area.header_text_set(None)

    def _restore(self, context):
        s = context.scene.vanelia
        s.auto_location, s.location, s.rotation_z = self._saved[:3]
        empty = _product()
        if empty is not None and self._saved[3] is not None:
            empty.location = self._saved[3]

    def modal(self, context, event):
        if event.type in {"ESC", "RIGHTMOUSE"} and event.value == "PRESS":
            self._restore(context)
            self._finish(context)
            self.report({"INFO"}, "Pick spot cancelled")
            return {"CANCELLED"}
        coord = self._coord(event)
        if event.type == "MOUSEMOVE" and coord is not None:
            try:  # the product follows the floor under the mouse
                pick_at(context, viewport_ray(self._region, self._rv3d, coord))
            except floor_pick.FloorPickError:
                pass  # above the horizon: it stays where it was
            return {"RUNNING_MODAL"}
        if event.type == "LEFTMOUSE" and event.value == "PRESS":
            if coord is None:  # outside the viewport: the panel, the header
                return {"PASS_THROUGH"}
            result = self._pick(context, viewport_ray(self._region, self._rv3d, coord))
            if "CANCELLED" in result:  # missed the floor: reported, keep picking
                self._restore(context)
                return {"RUNNING_MODAL"}
            self._finish(context)
            return result
        if event.type in {"MIDDLEMOUSE", "WHEELUPMOUSE", "WHEELDOWNMOUSE"}:
            return {"PASS_THROUGH"}  # the artist may turn and zoom the view meanwhile
        return {"RUNNING_MODAL"}


CLASSES = (VANELIA_OT_pick_spot,)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
