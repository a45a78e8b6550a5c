"""The one OpenCV -> Blender camera conversion of the add-on (bpy-free).

Twin of native/include/vanelia/trackfile/conventions.hpp; tests check that both agree, and
tests/blender/run_projection.py checks the projection in the real Blender.

Axis table (camera frame)::

    axis   OpenCV camera (trackers, K)   Blender camera object
    +x     image right                   image right
    +y     image down                    image up
    +z     forward (into the scene)      backward (the camera looks down -z)

    blender_cam_from_opencv_cam = diag(1, -1, -1)   (its own inverse)

A pose is cam_from_world with the OpenCV camera, x_cam = R x_world + t; the track file stores
the Blender camera-to-world matrix::

    c2w_blender = [[R^T F, -R^T t], [0, 0, 0, 1]],   F = diag(1, -1, -1)

Pixel convention: the track file's K (OpenCV) puts pixel centres at integer coordinates, the
image spans [-0.5, W-0.5] x [-0.5, H-0.5] and a centred principal point of a 640x360 frame is
(319.5, 179.5). Blender measures the image from pixel corners, [0, W] x [0, H], with v up:
u_corner = u + 0.5, v_corner_up = H - (v + 0.5).

Blender's camera model (blenkernel camera.c, BKE_camera_params_compute_viewplane), for a render
of W x H pixels with pixel aspect (aspx, aspy), ycor = aspy / aspx:

- sensor fit: HORIZONTAL when aspx W >= aspy H (what AUTO picks), else VERTICAL;
  viewfac = W (HORIZONTAL) or ycor H (VERTICAL); the sensor size is sensor_width (HORIZONTAL)
  or sensor_height (VERTICAL);
- fx = lens / sensor * viewfac, fy = fx / ycor;
- the image window is shifted by shift * viewfac pixels (x right, y up), so the principal
  point, in pixel-corner coordinates, is cx + 0.5 = W/2 - shift_x viewfac and
  cy + 0.5 = H/2 + shift_y viewfac / ycor (shift_x > 0 moves the window right, hence the
  principal point left in the image).
"""

import math

FLIP = ((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0))
SENSOR_MM = 36.0  # sensor size along the fitted axis, millimetres
ROTATION_TOLERANCE = 1e-5  # max |R^T R - I| accepted for a camera rotation


def _matmul(a, b):
    return [
        [sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))]
        for i in range(len(a))
    ]


def _transpose(a):
    return [list(row) for row in zip(*a)]


def blender_c2w_from_cam_from_world(rotation, translation):
    """Blender camera-to-world 4x4 (list of rows) of cam_from_world (R 3x3 rows, t 3)."""
    r_t = _transpose([[float(x) for x in row] for row in rotation])
    t = [float(x) for x in translation]
    rot = _matmul(r_t, FLIP)
    centre = [-sum(r_t[i][k] * t[k] for k in range(3)) for i in range(3)]
    return [rot[0] + [centre[0]], rot[1] + [centre[1]], rot[2] + [centre[2]], [0.0, 0.0, 0.0, 1.0]]


def cam_from_world_from_blender_c2w(c2w):
    """(R 3x3 rows, t 3) of cam_from_world (OpenCV camera) from a Blender c2w 4x4.

    The rotation block must be a rotation within ROTATION_TOLERANCE (no scale); it is used as
    is (C++ projects it onto SO(3); for a valid track file the two differ by < 1e-5).
    """
    m = [[float(x) for x in row] for row in c2w]
    if len(m) != 4 or any(len(row) != 4 for row in m):
        raise ValueError("c2w_blender: must be 4x4")
    if m[3] != [0.0, 0.0, 0.0, 1.0]:
        raise ValueError("c2w_blender: last row must be [0, 0, 0, 1]")
    rot = [row[:3] for row in m[:3]]
    if rotation_error(rot) > ROTATION_TOLERANCE or det3(rot) <= 0.0:
        raise ValueError("c2w_blender: rotation block must be a rotation")
    world_from_cam = _matmul(rot, FLIP)
    r = _transpose(world_from_cam)
    centre = [m[0][3], m[1][3], m[2][3]]
    t = [-sum(r[i][k] * centre[k] for k in range(3)) for i in range(3)]
    return r, t


def det3(m):
    return (
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    )


def rotation_error(m):
    """max |M^T M - I| of a 3x3 matrix."""
    mtm = _matmul(_transpose(m), m)
    return max(abs(mtm[i][j] - (1.0 if i == j else 0.0)) for i in range(3) for j in range(3))


def blender_camera_params(k, width, height, sensor_mm=SENSOR_MM):
    """Blender camera and render settings that reproduce an OpenCV K on a W x H frame.

    Returns a dict: sensor_fit ('HORIZONTAL' for landscape/square, 'VERTICAL' for portrait,
    after pixel aspect), sensor_width, sensor_height (both sensor_mm: only the fitted one
    matters), lens (mm), shift_x, shift_y, pixel_aspect_x, pixel_aspect_y (>= 1 each, as
    Blender requires), resolution_x, resolution_y. K must have zero skew.
    """
    fx, fy = float(k[0][0]), float(k[1][1])
    cx, cy = float(k[0][2]), float(k[1][2])
    w, h = int(width), int(height)
    if not (fx > 0.0 and fy > 0.0 and w > 0 and h > 0):
        raise ValueError("K and frame size must be positive (fx %r, fy %r, %dx%d)" % (fx, fy, w, h))
    if float(k[0][1]) != 0.0:
        raise ValueError("K[0][1] = %r; Blender cameras have no skew" % k[0][1])
    ycor = fx / fy  # pixel height / pixel width
    aspect_x, aspect_y = (1.0, ycor) if ycor >= 1.0 else (1.0 / ycor, 1.0)
    if aspect_x * w >= aspect_y * h:
        fit, viewfac = "HORIZONTAL", float(w)
    else:
        fit, viewfac = "VERTICAL", ycor * h
    return {
        "sensor_fit": fit,
        "sensor_width": float(sensor_mm),
        "sensor_height": float(sensor_mm),
        "lens": fx * sensor_mm / viewfac,
        "shift_x": (0.5 * w - (cx + 0.5)) / viewfac,
        "shift_y": ((cy + 0.5) - 0.5 * h) * ycor / viewfac,
        "pixel_aspect_x": aspect_x,
        "pixel_aspect_y": aspect_y,
        "resolution_x": w,
        "resolution_y": h,
    }


def opencv_k_from_blender_params(params):
    """The OpenCV K (3x3 rows) of Blender camera settings (inverse of blender_camera_params).

    `params` holds sensor_fit ('AUTO', 'HORIZONTAL' or 'VERTICAL'), sensor_width,
    sensor_height, lens, shift_x, shift_y, pixel_aspect_x, pixel_aspect_y, resolution_x,
    resolution_y (percentage 100).
    """
    w, h = float(params["resolution_x"]), float(params["resolution_y"])
    aspx, aspy = float(params["pixel_aspect_x"]), float(params["pixel_aspect_y"])
    ycor = aspy / aspx
    fit = params["sensor_fit"]
    if fit == "AUTO":
        fit = "HORIZONTAL" if aspx * w >= aspy * h else "VERTICAL"
        sensor = float(params["sensor_width"])
    else:
        sensor = float(params["sensor_width" if fit == "HORIZONTAL" else "sensor_height"])
    viewfac = w if fit == "HORIZONTAL" else ycor * h
    fx = float(params["lens"]) / sensor * viewfac
    fy = fx / ycor
    cx = 0.5 * w - float(params["shift_x"]) * viewfac - 0.5
    cy = 0.5 * h + float(params["shift_y"]) * viewfac / ycor - 0.5
    return [[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]


def quaternion_from_rotation(m):
    """Unit quaternion (w, x, y, z), w >= 0, of a 3x3 rotation (Shepperd's method)."""
    tr = m[0][0] + m[1][1] + m[2][2]
    if tr > 0.0:
        s = 2.0 * math.sqrt(tr + 1.0)
        q = (0.25 * s, (m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s)
    elif m[0][0] > m[1][1] and m[0][0] > m[2][2]:
        s = 2.0 * math.sqrt(1.0 + m[0][0] - m[1][1] - m[2][2])
        q = ((m[2][1] - m[1][2]) / s, 0.25 * s, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s)
    elif m[1][1] > m[2][2]:
        s = 2.0 * math.sqrt(1.0 + m[1][1] - m[0][0] - m[2][2])
        q = ((m[0][2] - m[2][0]) / s, (m[0][1] + m[1][0]) / s, 0.25 * s, (m[1][2] + m[2][1]) / s)
    else:
        s = 2.0 * math.sqrt(1.0 + m[2][2] - m[0][0] - m[1][1])
        q = ((m[1][0] - m[0][1]) / s, (m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, 0.25 * s)
    n = math.sqrt(sum(c * c for c in q))
    q = tuple(c / n for c in q)
    return q if q[0] >= 0.0 else tuple(-c for c in q)


def sign_continuous(quaternions):
    """Flips quaternions (w, x, y, z) so that consecutive ones have a non-negative dot."""
    out = []
    for q in quaternions:
        q = tuple(float(c) for c in q)
        if out and sum(a * b for a, b in zip(out[-1], q)) < 0.0:
            q = tuple(-c for c in q)
        out.append(q)
    return out
