"""HDR plates (HLG and PQ, BT.2020): the render, display-referred SDR sRGB
(Standard view), in the plate's light.

bpy-free. The native overlay + encode stage (src/encode/linear_light.hpp)
composites in linear light; these are its formulas in plain Python, the
reference its tests check against. The mapping follows ITU-R BT.2408's
scene-light conversion: sRGB decoded to linear light, Rec.709 primaries
converted to BT.2020 (BT.2087's matrix), SDR reference white placed at HDR
reference white (HLG: 75 % signal, i.e. scene light 0.2650 of peak; PQ:
203 cd/m2, 58 % signal), then the plate's transfer (HLG OETF, BT.2100; PQ
inverse EOTF, SMPTE ST 2084). The mix with the plate is in HLG's scene
light (before the OOTF) and in PQ's display light (`composite`)."""

import numpy as np

HLG, PQ = "arib-std-b67", "smpte2084"
TRANSFERS = (HLG, PQ)
# BT.2087: linear Rec.709 RGB -> linear BT.2020 RGB.
BT709_TO_BT2020 = np.array(
    [
        [0.627403914928436, 0.329283038616180, 0.043313046455383],
        [0.069097289228439, 0.919540429115295, 0.011362281488180],
        [0.016391439363360, 0.088013307750225, 0.895595252513886],
    ]
)
_HLG_A, _HLG_B, _HLG_C = 0.17883277, 0.28466892, 0.55991073
HLG_REFERENCE = 0.75  # BT.2408: HDR reference white, HLG signal
PQ_REFERENCE_NITS = 203.0  # BT.2408: HDR reference white


def is_hdr(info):
    """The plate's transfer is HLG or PQ."""
    return getattr(info, "color_transfer", "") in TRANSFERS


def srgb_to_linear(encoded):
    e = np.asarray(encoded, dtype=np.float64)
    return np.where(e <= 0.04045, e / 12.92, ((e + 0.055) / 1.055) ** 2.4)


def hlg_oetf(scene):
    """BT.2100 HLG OETF: scene light [0, 1] -> signal [0, 1]."""
    e = np.clip(np.asarray(scene, dtype=np.float64), 0.0, 1.0)
    log = _HLG_A * np.log(np.maximum(12.0 * e - _HLG_B, 1e-12)) + _HLG_C
    return np.where(e <= 1.0 / 12.0, np.sqrt(3.0 * e), log)


def hlg_inverse_oetf(signal):
    s = np.clip(np.asarray(signal, dtype=np.float64), 0.0, 1.0)
    return np.where(s <= 0.5, s * s / 3.0, (np.exp((s - _HLG_C) / _HLG_A) + _HLG_B) / 12.0)


_PQ_M1, _PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
_PQ_C1, _PQ_C2, _PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32


def pq_inverse_eotf(nits):
    """SMPTE ST 2084: display light in cd/m2 -> signal [0, 1]."""
    y = np.clip(np.asarray(nits, dtype=np.float64) / 10000.0, 0.0, 1.0) ** _PQ_M1
    return ((_PQ_C1 + _PQ_C2 * y) / (1 + _PQ_C3 * y)) ** _PQ_M2


def pq_eotf(signal):
    """SMPTE ST 2084: signal [0, 1] -> display light in cd/m2."""
    p = np.clip(np.asarray(signal, dtype=np.float64), 0.0, 1.0) ** (1 / _PQ_M2)
    return 10000.0 * (np.maximum(p - _PQ_C1, 0.0) / (_PQ_C2 - _PQ_C3 * p)) ** (1 / _PQ_M1)


def map_srgb(rgb, transfer):
    """sRGB-encoded Rec.709 RGB ([..., 3] in [0, 1]) -> the plate's signal
    (BT.2020 primaries, `transfer`)."""
    linear = srgb_to_linear(rgb) @ BT709_TO_BT2020.T
    linear = np.clip(linear, 0.0, None)
    if transfer == HLG:
        return hlg_oetf(linear * hlg_inverse_oetf(HLG_REFERENCE))
    if transfer == PQ:
        return pq_inverse_eotf(linear * PQ_REFERENCE_NITS)
    raise ValueError(f"transfer '{transfer}': not HLG or PQ")


def composite(plate_signal, render_srgb, alpha, transfer):
    """The native stage's mix: `render_srgb` (sRGB-encoded Rec.709, [..., 3])
    with straight `alpha` over `plate_signal` (the plate's R'G'B', BT.2020,
    `transfer`), in the plate's linear light -> the plate's signal."""
    a = np.asarray(alpha, dtype=np.float64)[..., None]
    plate = np.clip(np.asarray(plate_signal, dtype=np.float64), 0.0, 1.0)
    render = srgb_to_linear(render_srgb) @ BT709_TO_BT2020.T
    if transfer == HLG:
        mixed = render * hlg_inverse_oetf(HLG_REFERENCE) * a + hlg_inverse_oetf(plate) * (1 - a)
        return hlg_oetf(mixed)
    if transfer == PQ:
        mixed = render * PQ_REFERENCE_NITS * a + pq_eotf(plate) * (1 - a)
        return pq_inverse_eotf(mixed)
    raise ValueError(f"transfer '{transfer}': not HLG or PQ")
