"""The SDR render's mapping into an HDR plate's signal (encode/hdr.py): BT.2408 reference
white, BT.2100 HLG and SMPTE ST 2084 PQ, BT.2087 primaries, and the .cube FFmpeg reads."""

import numpy as np
import pytest

from vanelia_blender.encode import hdr


def test_reference_white_lands_on_hdr_reference_white():
    white = np.ones((1, 3))
    assert hdr.map_srgb(white, hdr.HLG) == pytest.approx(0.75, abs=1e-9)
    # 203 cd/m2 in PQ is 58 % (BT.2408 table 1).
    assert hdr.map_srgb(white, hdr.PQ) == pytest.approx(0.5807, abs=1e-3)
    assert hdr.map_srgb(np.zeros((1, 3)), hdr.HLG) == pytest.approx(0.0)


def test_hlg_oetf_matches_bt2100_and_inverts():
    # BT.2100: E = 1/12 is the knee (signal 0.5); E = 1 is signal 1.
    assert hdr.hlg_oetf(1 / 12) == pytest.approx(0.5)
    assert hdr.hlg_oetf(1.0) == pytest.approx(1.0, abs=1e-6)
    scene = np.linspace(0, 1, 101)
    assert hdr.hlg_inverse_oetf(hdr.hlg_oetf(scene)) == pytest.approx(scene, abs=1e-9)


def test_pq_peak_and_black():
    assert hdr.pq_inverse_eotf(10000.0) == pytest.approx(1.0)
    assert hdr.pq_inverse_eotf(100.0) == pytest.approx(0.5081, abs=1e-3)
    assert hdr.pq_inverse_eotf(0.0) == pytest.approx(0.0, abs=1e-6)


def test_primaries_keep_neutrals_and_widen_nothing_outside():
    rows = hdr.BT709_TO_BT2020.sum(axis=1)
    assert rows == pytest.approx(np.ones(3), abs=1e-6)  # white stays white
    red = hdr.map_srgb(np.array([[1.0, 0.0, 0.0]]), hdr.HLG)[0]
    # Rec.709 red inside BT.2020: less saturated in BT.2020 terms.
    assert red[1] > 0.1 and red[2] > 0.05 and red[0] < 0.75


def test_cube_file_is_red_fastest_and_sized(tmp_path):
    path = hdr.write_cube(tmp_path / "x.cube", hdr.HLG, size=5)
    lines = open(path).read().splitlines()
    assert lines[1] == "LUT_3D_SIZE 5"
    table = np.array([[float(v) for v in line.split()] for line in lines[2:]])
    assert table.shape == (125, 3)
    axis = np.linspace(0, 1, 5)
    # Entry 1 is (r=0.25, g=0, b=0); entry 5 is (r=0, g=0.25, b=0).
    assert table[1] == pytest.approx(hdr.map_srgb(np.array([[axis[1], 0, 0]]), hdr.HLG)[0])
    assert table[5] == pytest.approx(hdr.map_srgb(np.array([[0, axis[1], 0]]), hdr.HLG)[0])


def test_is_hdr_reads_the_transfer():
    class Info:
        color_transfer = "arib-std-b67"

    assert hdr.is_hdr(Info())
    Info.color_transfer = "bt709"
    assert not hdr.is_hdr(Info())
