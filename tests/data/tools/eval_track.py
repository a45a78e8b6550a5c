#!/usr/bin/env python3
# Verbatim copy of ../shared/tools/eval_track.py (below this header) so that the tests run
# without ../shared; refresh with: cp ../shared/tools/eval_track.py tests/data/tools/ and
# re-add these lines. Not ours: left out of black and flake8.
# flake8: noqa
# fmt: off
"""Score an estimated camera track against a ground-truth gt.json (numpy only).

    python3 tools/eval_track.py footage/orbit/gt.json my_track.json [--out metrics.json]

Prints a JSON object of metrics on stdout and a readable table on stderr. Exit status 0 when the
files could be read and compared (even when the track is bad), 2 on unusable input.

Estimated-track JSON (what a tracker writes)
--------------------------------------------
{
  "width": 640, "height": 360,          # resolution the focals refer to (focal_px is rescaled by
                                        # gt.width / width when they differ)
  "frames": [
    {"index": 0,                        # 0-based decoded frame number of the video; a subsampled or
                                        # partial track just lists the frames it has
     "c2w_blender": [[r00,r01,r02,tx],  # camera-to-world 4x4, row-major rows, Blender camera
                     [r10,r11,r12,ty],  # convention: the camera looks down its local -Z, local +Y is
                     [r20,r21,r22,tz],  # image up, +X image right. Any world frame and scale: the
                     [0, 0, 0, 1]],     # evaluation finds the similarity (Sim3) to the ground truth.
     "focal_px": 498.0},                # optional: horizontal focal length in pixels at `width`
    ...
  ],
  "ground_plane": {"normal": [nx, ny, nz], "offset": d}   # optional, in the track's world:
                                        # points X on the floor satisfy dot(normal, X) + offset = 0
}
Instead of "c2w_blender" a frame may give "w2c_opencv": world-to-camera 4x4 with the OpenCV camera
(x right, y down, z forward), as COLMAP and OpenCV write it. Frames of the ground truth missing
from the track count as not registered.

Metrics
-------
- registered / total: frames with a pose in the track / frames in the ground truth.
- Alignment: Umeyama Sim(3) (scale, rotation, translation) of the estimated camera centres onto
  the true ones, least squares. When the true centres do not constrain a rotation (a static
  tripod camera: rms spread < 1 cm, or a straight-line path: second singular value < 5% of the
  first) the rotation is instead the one that best aligns the camera orientations (chordal mean
  of R_gt R_est^T) and scale/translation are refit with it; "alignment" in the output says which.
- ate_rmse_m: RMSE of camera-centre errors after alignment, metres (the ground truth is metric);
  ate_pct: the same as a % of the ground-truth trajectory length. Undefined (null) for a static
  camera.
- rot_err_mean_deg / rot_err_max_deg: angle between true and estimated camera orientation after
  the global rotation that best aligns the orientations (chordal mean of R_gt R_est^T). The
  rotation of the centre-based Sim(3) is poorly determined for short or nearly planar paths (a
  1 cm ATE over a 4 m arc leaves ~1-2 deg of tilt free), so it is reported apart:
  rot_err_sim3_mean_deg uses the Sim(3) rotation.
- rpe_trans_rmse_m / rpe_rot_mean_deg: relative pose error between consecutive registered frames,
  per frame of gap (metres after alignment scale / degrees).
- focal_err_pct_mean / _max: |f_est - f_gt| / f_gt in %, when the track has focals.
- plane_normal_err_deg / plane_height_err_m: the estimated plane mapped through the Sim(3) of the
  ATE; both normals oriented towards the cameras; height error = difference of the mean camera
  height above the mapped and the true plane (metres). plane_normal_err_cam_deg needs no
  alignment: the mean over registered frames of the angle between the floor normal seen from
  the estimated camera (R_est^T n_est) and from the true camera (R_gt^T n_gt); it is what a
  composite shows (a product standing tilted on the floor).
- slip_px_mean / _p95 / _max and jitter_px: what a composite shows. A product is placed on the floor
  where the anchor pixel (the image centre of the first registered frame, moved down until its ray meets
  the floor in both tracks) looks; the estimated track places it on its own ground plane, the truth on the
  true floor. In every registered frame both points are projected, each with its own track's camera
  (estimated intrinsics: "K" if given, else focal_px with the principal point at the image centre), and
  slip is the distance between the two projections in pixels at the ground truth's resolution. jitter_px
  is the RMS frame-to-frame change of that 2-D difference between consecutive frames: the flicker an
  artist sees. Needs the track's ground_plane (else null).
"""
import argparse
import json
import math
import sys

import numpy as np

FLIP = np.diag([1.0, -1.0, -1.0, 1.0])  # Blender camera axes <-> OpenCV camera axes
STATIC_SPREAD_M = 0.01
COLLINEAR_RATIO = 0.05


class InputError(Exception):
    pass


def load_json(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError('cannot read %s: %s' % (path, exc))


def c2w_of(frame, where):
    """Blender camera-to-world 4x4 from a frame dict (c2w_blender, or w2c_opencv)."""
    if 'c2w_blender' in frame:
        m = np.asarray(frame['c2w_blender'], dtype=float)
    elif 'w2c_opencv' in frame:
        m = np.linalg.inv(np.asarray(frame['w2c_opencv'], dtype=float)) @ FLIP
    else:
        raise InputError('%s: frame %s has neither c2w_blender nor w2c_opencv' % (where, frame.get('index')))
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise InputError('%s: frame %s: pose is not a finite 4x4 matrix' % (where, frame.get('index')))
    r = m[:3, :3]
    # tolerate a uniform scale in the rotation block (some tools write scaled matrices)
    sc = np.cbrt(np.linalg.det(r))
    if not sc > 0:
        raise InputError('%s: frame %s: rotation block is singular or mirrored' % (where, frame.get('index')))
    m = m.copy()
    m[:3, :3] = project_so3(r / sc)
    return m


def project_so3(m):
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def rot_angle_deg(r):
    c = (np.trace(r) - 1.0) / 2.0
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def umeyama(src, dst):
    """s, R, t minimising sum |dst - (s R src + t)|^2 (Umeyama 1991)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, d, vt = np.linalg.svd(cov)
    sgn = np.diag([1.0, 1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    r = u @ sgn @ vt
    var_s = (xs ** 2).sum() / len(src)
    s = float(np.trace(np.diag(d) @ sgn) / var_s) if var_s > 0 else 1.0
    return s, r, mu_d - s * r @ mu_s


def scale_translation_given_rotation(src, dst, r):
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = (src - mu_s) @ r.T, dst - mu_d
    den = (xs ** 2).sum()
    s = float((xs * xd).sum() / den) if den > 0 else 1.0
    return s, mu_d - s * r @ mu_s


def plane_of(d, where):
    n = np.asarray(d['normal'], dtype=float)
    off = float(d.get('offset', 0.0))
    norm = np.linalg.norm(n)
    if n.shape != (3,) or not norm > 0 or not math.isfinite(off):
        raise InputError('%s: ground_plane needs a non-zero 3-vector normal and a finite offset' % where)
    return n / norm, off / norm


def intrinsics_of(frame, track, scale, where):
    """3x3 OpenCV K (pixel centres at integers) of a frame, in the ground truth's pixels."""
    k = frame.get('K', track.get('K'))
    if isinstance(k, dict):
        k = [[k['fx'], 0.0, k['cx']], [0.0, k.get('fy', k['fx']), k['cy']], [0.0, 0.0, 1.0]]
    if k is not None:
        k = np.asarray(k, dtype=float)
        if k.shape != (3, 3) or not np.all(np.isfinite(k)):
            raise InputError('%s: frame %s: K is not a finite 3x3 matrix' % (where, frame.get('index')))
        k = k.copy()
        k[:2] *= scale
        return k
    f = frame.get('focal_px')
    if f is None:
        return None
    w, h = float(track['width']) * scale, float(track['height']) * scale
    return np.array([[float(f) * scale, 0.0, w / 2 - 0.5], [0.0, float(f) * scale, h / 2 - 0.5], [0, 0, 1.0]])


def ray_plane(c2w_cv, k, px, n, off):
    """World point where the ray through pixel px meets the plane, or None if it does not, in front."""
    d = c2w_cv[:3, :3] @ np.linalg.solve(k, np.array([px[0], px[1], 1.0]))
    c = c2w_cv[:3, 3]
    den = float(n @ d)
    if abs(den) < 1e-12:
        return None
    t = -(float(n @ c) + off) / den
    return c + t * d if t > 0 else None


def project(c2w_cv, k, x):
    xc = np.linalg.solve(c2w_cv[:3, :3], x - c2w_cv[:3, 3])
    if xc[2] <= 1e-9:
        return None
    p = k @ (xc / xc[2])
    return p[:2]


def slip_metrics(gt, est, gt_frames, est_frames, idx, est_name):
    """Product slip and jitter in pixels (see the module docstring); {} when not computable."""
    if not est.get('ground_plane') or not gt.get('ground_plane') or 'width' not in est or 'height' not in est:
        return {}
    n_e, d_e = plane_of(est['ground_plane'], est_name)
    n_g, d_g = plane_of(gt['ground_plane'], 'gt')
    scale = float(gt['width']) / float(est['width'])
    cams = []
    for i in idx:
        k_e = intrinsics_of(est_frames[i], est, scale, est_name)
        k_g = np.asarray(gt_frames[i]['K_opencv'], dtype=float)
        if k_e is None:
            return {}
        cams.append((c2w_of(gt_frames[i], 'gt') @ FLIP, k_g, c2w_of(est_frames[i], est_name) @ FLIP, k_e))
    g0, kg0, e0, ke0 = cams[0]
    w, h = float(gt['width']), float(gt['height'])
    anchor = None
    for step in range(0, 10):
        px = (w / 2 - 0.5, h / 2 - 0.5 + step * h / 20)
        a_g, a_e = ray_plane(g0, kg0, px, n_g, d_g), ray_plane(e0, ke0, px, n_e, d_e)
        if a_g is not None and a_e is not None:
            anchor = (px, a_g, a_e)
            break
    if anchor is None:
        return {'slip_note': 'no anchor pixel of the first frame looks at the floor in both tracks'}
    px, a_g, a_e = anchor
    diffs, slips, prev = [], [], None
    jit = []
    for k, (gc, kg, ec, ke) in enumerate(cams):
        pg, pe = project(gc, kg, a_g), project(ec, ke, a_e)
        if pg is None or pe is None:
            prev = None
            continue
        dvec = pe - pg
        slips.append(float(np.linalg.norm(dvec)))
        if prev is not None and idx[k] - prev[0] == 1:
            jit.append(float(np.linalg.norm(dvec - prev[1])))
        prev = (idx[k], dvec)
    if not slips:
        return {}
    slips = np.array(slips)
    return {'slip_anchor_px': [px[0], px[1]], 'slip_frames': int(len(slips)),
            'slip_px_mean': float(slips.mean()), 'slip_px_p95': float(np.percentile(slips, 95)),
            'slip_px_max': float(slips.max()),
            'jitter_px': float(np.sqrt(np.mean(np.square(jit)))) if jit else None}


def evaluate(gt, est, gt_name='gt', est_name='estimate'):
    gt_frames = {int(f['index']): f for f in gt['frames']}
    total = len(gt_frames)
    if 'frames' not in est or not isinstance(est['frames'], list):
        raise InputError('%s: no "frames" list' % est_name)
    est_frames = {}
    for f in est['frames']:
        if 'index' not in f:
            raise InputError('%s: a frame has no "index"' % est_name)
        i = int(f['index'])
        if i not in gt_frames:
            raise InputError('%s: frame index %d is not in the ground truth (0..%d)' % (est_name, i, total - 1))
        est_frames[i] = f
    idx = sorted(est_frames)
    out = {'sequence': gt.get('name', gt_name), 'registered': len(idx), 'total': total,
           'registered_pct': 100.0 * len(idx) / total if total else 0.0}
    nulls = dict(alignment=None, scale=None, ate_rmse_m=None, ate_mean_m=None, ate_max_m=None, ate_pct=None,
                 rot_err_mean_deg=None, rot_err_max_deg=None, rot_err_sim3_mean_deg=None,
                 rpe_trans_rmse_m=None, rpe_rot_mean_deg=None, focal_err_pct_mean=None, focal_err_pct_max=None,
                 plane_normal_err_deg=None, plane_normal_err_cam_deg=None, plane_height_err_m=None,
                 slip_px_mean=None, slip_px_p95=None, slip_px_max=None, jitter_px=None)
    out.update(nulls)
    if len(idx) < 2:
        out['note'] = 'fewer than 2 registered frames: nothing to align'
        return out

    T_gt = np.stack([c2w_of(gt_frames[i], gt_name) for i in idx])
    T_es = np.stack([c2w_of(est_frames[i], est_name) for i in idx])
    P, Q = T_gt[:, :3, 3], T_es[:, :3, 3]
    R_gt, R_es = T_gt[:, :3, :3], T_es[:, :3, :3]

    sv = np.linalg.svd(P - P.mean(0), compute_uv=False)
    spread = math.sqrt((sv ** 2).sum() / len(P))
    static = spread < STATIC_SPREAD_M
    collinear = (not static) and sv[1] < COLLINEAR_RATIO * sv[0]
    if static or collinear:
        r = project_so3(sum(R_gt[k] @ R_es[k].T for k in range(len(idx))))
        s, t = scale_translation_given_rotation(Q, P, r)
        out['alignment'] = ('orientation (static camera)' if static else
                            'orientation + centres (straight path)')
    else:
        s, r, t = umeyama(Q, P)
        out['alignment'] = 'umeyama sim3 on centres'
    out['scale'] = None if static else s

    Q_al = (s * (r @ Q.T)).T + t
    err = np.linalg.norm(Q_al - P, axis=1)
    r_or = project_so3(sum(R_gt[k] @ R_es[k].T for k in range(len(idx))))
    rot_err = np.array([rot_angle_deg(R_gt[k].T @ r_or @ R_es[k]) for k in range(len(idx))])
    out['rot_err_mean_deg'] = float(rot_err.mean())
    out['rot_err_max_deg'] = float(rot_err.max())
    out['rot_err_sim3_mean_deg'] = float(np.mean([rot_angle_deg(R_gt[k].T @ r @ R_es[k]) for k in range(len(idx))]))

    gt_all = np.stack([np.asarray(gt_frames[i]['c2w_blender'], float)[:3, 3] for i in sorted(gt_frames)])
    length = float(np.linalg.norm(np.diff(gt_all, axis=0), axis=1).sum())
    out['trajectory_length_m'] = length
    if not static:
        out['ate_rmse_m'] = float(np.sqrt((err ** 2).mean()))
        out['ate_mean_m'] = float(err.mean())
        out['ate_max_m'] = float(err.max())
        out['ate_pct'] = 100.0 * out['ate_rmse_m'] / length if length > 0 else None
    else:
        out['note'] = 'static camera: ATE and RPE translation are undefined (no baseline)'

    # relative pose error between consecutive registered frames, per frame of gap
    rpe_t, rpe_r = [], []
    for k in range(len(idx) - 1):
        gap = idx[k + 1] - idx[k]
        d_gt = np.linalg.inv(T_gt[k]) @ T_gt[k + 1]
        a, b = T_es[k].copy(), T_es[k + 1].copy()
        a[:3, 3] *= s
        b[:3, 3] *= s
        d_es = np.linalg.inv(a) @ b
        e = np.linalg.inv(d_gt) @ d_es
        rpe_t.append(np.linalg.norm(e[:3, 3]) / gap)
        rpe_r.append(rot_angle_deg(e[:3, :3]) / gap)
    if not static:
        out['rpe_trans_rmse_m'] = float(np.sqrt(np.mean(np.square(rpe_t))))
    out['rpe_rot_mean_deg'] = float(np.mean(rpe_r))

    # focal
    fw = float(est.get('width') or gt['width'])
    if 'width' in est and 'height' in est and est['height']:
        if abs(est['width'] / est['height'] - gt['width'] / gt['height']) > 0.01:
            out['warning'] = 'track aspect ratio %dx%d differs from the video %dx%d' % (
                est['width'], est['height'], gt['width'], gt['height'])
    fe = [(float(est_frames[i]['focal_px']) * gt['width'] / fw, float(gt_frames[i]['focal_px']))
          for i in idx if est_frames[i].get('focal_px') is not None]
    if fe:
        fpct = np.array([abs(a - b) / b * 100.0 for a, b in fe])
        out['focal_err_pct_mean'] = float(fpct.mean())
        out['focal_err_pct_max'] = float(fpct.max())

    # ground plane, mapped through the same Sim3: X_gt = s R X_est + t
    if est.get('ground_plane') and gt.get('ground_plane'):
        n_e, d_e = plane_of(est['ground_plane'], est_name)
        n_g, d_g = plane_of(gt['ground_plane'], gt_name)
        n_m = r @ n_e
        d_m = s * d_e - float(n_m @ t)
        c = P.mean(0)
        h_m, h_g = float(n_m @ c + d_m), float(n_g @ c + d_g)
        if h_m < 0:
            n_m, d_m, h_m = -n_m, -d_m, -h_m
        if h_g < 0:
            n_g, d_g, h_g = -n_g, -d_g, -h_g
        out['plane_normal_err_deg'] = math.degrees(math.acos(max(-1.0, min(1.0, float(n_m @ n_g)))))
        # alignment-free: the floor normal seen from each camera (sign: towards that camera)
        cam_err = []
        for k in range(len(idx)):
            a = R_es[k].T @ n_e * (1.0 if n_e @ Q[k] + d_e >= 0 else -1.0)
            b = R_gt[k].T @ n_g * (1.0 if n_g @ P[k] + d_g >= 0 else -1.0)
            cam_err.append(math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b))))))
        out['plane_normal_err_cam_deg'] = float(np.mean(cam_err))
        if not static:
            out['plane_height_err_m'] = abs(h_m - h_g)
    out.update(slip_metrics(gt, est, gt_frames, est_frames, idx, est_name))
    return out


def fmt(v, unit='', nd=3):
    if v is None:
        return '-'
    return ('%.' + str(nd) + 'f%s') % (v, unit)


def table(m):
    rows = [
        ('frames registered', '%d / %d (%.0f%%)' % (m['registered'], m['total'], m['registered_pct'])),
        ('alignment', '%s, scale %s' % (m['alignment'] or '-', fmt(m['scale'], '', 4))),
        ('ATE RMSE', '%s  (%s of %s path)' % (fmt(m['ate_rmse_m'], ' m', 4), fmt(m['ate_pct'], ' %', 2),
                                              fmt(m.get('trajectory_length_m'), ' m', 2))),
        ('ATE mean / max', '%s / %s' % (fmt(m['ate_mean_m'], ' m', 4), fmt(m['ate_max_m'], ' m', 4))),
        ('rotation error mean / max', '%s / %s' % (fmt(m['rot_err_mean_deg'], ' deg'), fmt(m['rot_err_max_deg'], ' deg'))),
        ('rotation error (Sim3 rotation)', fmt(m['rot_err_sim3_mean_deg'], ' deg')),
        ('RPE trans (per frame, RMSE)', fmt(m['rpe_trans_rmse_m'], ' m', 4)),
        ('RPE rot (per frame, mean)', fmt(m['rpe_rot_mean_deg'], ' deg', 4)),
        ('focal error mean / max', '%s / %s' % (fmt(m['focal_err_pct_mean'], ' %', 2), fmt(m['focal_err_pct_max'], ' %', 2))),
        ('ground plane normal / height', '%s / %s' % (fmt(m['plane_normal_err_deg'], ' deg', 2),
                                                    fmt(m['plane_height_err_m'], ' m', 4))),
        ('ground plane seen from cameras', fmt(m['plane_normal_err_cam_deg'], ' deg', 2)),
        ('product slip mean / p95 / max', '%s / %s / %s' % (fmt(m['slip_px_mean'], ' px', 2),
                                                           fmt(m['slip_px_p95'], ' px', 2),
                                                           fmt(m['slip_px_max'], ' px', 2))),
        ('product jitter (frame to frame)', fmt(m['jitter_px'], ' px', 3)),
    ]
    w = max(len(a) for a, _ in rows)
    lines = ['track evaluation: %s' % m['sequence']] + ['  %-*s  %s' % (w, a, b) for a, b in rows]
    for key in ('note', 'warning'):
        if m.get(key):
            lines.append('  %s: %s' % (key, m[key]))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description='Score an estimated camera track against gt.json '
                                             '(format: see the module docstring).')
    ap.add_argument('gt', help='ground truth, e.g. footage/orbit/gt.json')
    ap.add_argument('estimate', help='estimated track JSON')
    ap.add_argument('--out', help='also write the metrics JSON to this file')
    ap.add_argument('--quiet', action='store_true', help='no table on stderr')
    args = ap.parse_args(argv)
    try:
        gt, est = load_json(args.gt), load_json(args.estimate)
        m = evaluate(gt, est, args.gt, args.estimate)
    except (InputError, KeyError, TypeError, ValueError) as exc:
        print('eval_track: error: %s' % exc, file=sys.stderr)
        return 2
    text = json.dumps(m, indent=1)
    print(text)
    if args.out:
        with open(args.out, 'w') as fh:
            fh.write(text + '\n')
    if not args.quiet:
        print(table(m), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
