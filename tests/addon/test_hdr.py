"""The SDR render's mapping into an HDR plate's signal (encode/hdr.py): BT.2408 reference
white, BT.2100 HLG and SMPTE ST 2084 PQ, BT.2087 primaries, and the linear-light mix."""

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


def test_pq_eotf_inverts():
    signal = np.linspace(0, 1, 101)
    assert hdr.pq_inverse_eotf(hdr.pq_eotf(signal)) == pytest.approx(signal, abs=1e-6)
    assert hdr.pq_eotf(0.5081) == pytest.approx(100.0, rel=2e-3)


def test_composite_is_the_linear_mix():
    plate = np.full((1, 3), 0.1)
    grey = np.full((1, 3), 0.9)
    for transfer in hdr.TRANSFERS:
        assert hdr.composite(plate, grey, 1.0, transfer) == pytest.approx(
            hdr.map_srgb(grey, transfer)
        )
        assert hdr.composite(plate, grey, 0.0, transfer) == pytest.approx(plate)
    # HLG at half alpha: scene light mixed, not signals.
    half = hdr.composite(plate, grey, 0.5, hdr.HLG)[0, 0]
    scene = (hdr.hlg_inverse_oetf(0.1) + hdr.hlg_inverse_oetf(hdr.map_srgb(grey, hdr.HLG))) / 2
    assert half == pytest.approx(hdr.hlg_oetf(scene)[0, 0])
    assert half - (0.1 + hdr.map_srgb(grey, hdr.HLG)[0, 0]) / 2 > 0.1


def test_is_hdr_reads_the_transfer():
    class Info:
        color_transfer = "arib-std-b67"

    assert hdr.is_hdr(Info())
    Info.color_transfer = "bt709"
    assert not hdr.is_hdr(Info())


def test_hdr_plate_needs_the_native_stage(monkeypatch, tmp_path):
    """Without the native module (nor the worker's CLI) an HDR plate is refused: the
    ffmpeg executable's overlay has no linear light."""
    from vanelia_blender.core.media import MediaError, MediaInfo
    from vanelia_blender.encode import encode

    monkeypatch.setattr(encode, "native_stage", lambda *args: None)
    monkeypatch.setattr(encode, "worker_stage", lambda info: None)
    plate = MediaInfo(
        path="/src.mp4", width=64, height=64, rotation_deg=0, fps_num=24, fps_den=1,
        frame_count=2, vfr=False, has_audio=False, pixel_aspect=1.0, pts=[],
        color_matrix="bt709", color_primaries="bt2020", color_transfer=hdr.HLG,
        color_space="bt2020nc", color_range="tv", pix_fmt="yuv420p10le",
    )  # fmt: skip
    out = tmp_path / "o.mp4"
    with pytest.raises(MediaError, match="HDR .transfer arib-std-b67.*native module"):
        encode.encode(str(tmp_path), "/src.mp4", plate, str(out), 0, 1, 2, False)
    with pytest.raises(MediaError, match="HDR"):
        encode.PipedEncode("/src.mp4", plate, str(out), 0, 1, 2, False)
    assert not out.exists()
