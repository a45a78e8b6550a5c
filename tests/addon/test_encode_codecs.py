"""bpy-free: the encode's codecs (`vanelia run --codec`), the preview's encode and the
piped encode, with the real ffmpeg on a tiny synthetic plate."""

import filecmp
import json
import os
import subprocess

import pytest

from vanelia_blender.core.media import MediaError, MediaInfo, probe_video
from vanelia_blender.encode import encode


def info(**kw):
    base = dict(
        path="/src.mp4",
        width=640,
        height=360,
        rotation_deg=0,
        fps_num=24,
        fps_den=1,
        frame_count=48,
        vfr=False,
        has_audio=False,
        pixel_aspect=1.0,
        pts=[],
        color_matrix="bt709",
        color_primaries="bt709",
        color_transfer="bt709",
        color_space="bt709",
        color_range="tv",
        pix_fmt="yuv420p",
    )
    base.update(kw)
    return MediaInfo(**base)


def _after(cmd, option):
    return cmd[cmd.index(option) + 1]


def test_h264_is_the_command_from_before_codecs():
    cmd = encode.encode_command("/f", "/p.mkv", info(), "/o.mp4", 4, 2, 10)
    graph = (
        "[0:v]select=between(n\\,4\\,22)*not(mod(n-4\\,2)),setpts=N*2/(24*TB)[plate];"
        "[1:v]setpts=N*2/(24*TB),scale=out_color_matrix=bt709:out_range=tv,format=yuva420p[cg];"
        "[plate][cg]overlay=eof_action=pass:format=yuv420,format=yuv420p[v]"
    )
    assert cmd[1:] == [
        "-v", "error", "-y", "-i", "/p.mkv", "-framerate", "24/2", "-start_number", "0",
        "-i", "/f/%06d.png", "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264",
        "-preset", "medium", "-crf", "10", "-r", "24/2", "-movflags", "+faststart",
        "-f", "mp4", "/o.mp4",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "codec, encoder, pix_fmt, container",
    [
        ("prores", ["-c:v", "prores_ks", "-profile:v", "3"], "yuv422p10le", "mov"),
        ("dnxhr", ["-c:v", "dnxhd", "-profile:v", "dnxhr_hqx"], "yuv422p10le", "mov"),
        ("hevc", ["-c:v", "libx265", "-preset", "medium"], "yuv420p10le", "mp4"),
    ],
)
def test_intermediates_are_10_bit_with_the_plates_colour(codec, encoder, pix_fmt, container):
    src = info(color_primaries="bt2020", color_transfer="smpte2084", color_space="bt2020nc")
    cmd = encode.encode_command("/f", "/p", src, "/o", 0, 1, 3, codec)
    text = " ".join(cmd)
    assert " ".join(encoder) in text
    assert _after(cmd, "-f") == container
    graph = _after(cmd, "-filter_complex")
    assert graph.endswith(f"format={pix_fmt}[v]")
    assert f"out_color_matrix=bt2020:out_range=tv,format=yuva{pix_fmt[3:]}[cg]" in graph
    assert f"scale=in_range=tv:out_range=tv,format={pix_fmt}[plate]" in graph
    assert _after(cmd, "-color_primaries") == "bt2020"
    assert _after(cmd, "-color_trc") == "smpte2084"
    assert _after(cmd, "-colorspace") == "bt2020nc"
    assert _after(cmd, "-color_range") == "tv"
    if codec == "hevc":
        assert "-tag:v hvc1" in text and "-profile:v main10" in text


def test_full_range_is_kept_except_by_prores():
    src = info(path="/src.mp4", color_range="pc", pix_fmt="yuvj420p", color_space="smpte170m")
    dnxhr = encode.encode_command("/f", "/src.mp4", src, "/o", 0, 1, 3, "dnxhr")
    assert "scale=in_range=pc:out_range=pc" in _after(dnxhr, "-filter_complex")
    assert "out_color_matrix=bt601:out_range=pc" in _after(dnxhr, "-filter_complex")
    assert _after(dnxhr, "-color_range") == "pc"
    prores = encode.encode_command("/f", "/src.mp4", src, "/o", 0, 1, 3, "prores")
    assert "scale=in_range=pc:out_range=tv" in _after(prores, "-filter_complex")
    assert _after(prores, "-color_range") == "tv"
    # The proxy of a rotated or VFR clip holds limited-range samples.
    proxy = encode.encode_command("/f", "/w/proxy.mkv", src, "/o", 0, 1, 3, "dnxhr")
    assert "scale=in_range=tv:out_range=pc" in _after(proxy, "-filter_complex")
    untagged = encode.encode_command("/f", "/p", info(color_primaries=""), "/o", 0, 1, 3, "hevc")
    assert "-color_primaries" not in untagged


def test_check_output_names_codec_and_extension():
    encode.check_output("/a/B.MOV", "prores")
    encode.check_output("/a/b.mp4", "hevc")
    with pytest.raises(MediaError, match=r"--codec prores writes a \.mov file; .* \.mp4"):
        encode.check_output("/a/b.mp4", "prores")
    with pytest.raises(MediaError, match="no extension"):
        encode.check_output("/a/b", "h264")
    with pytest.raises(MediaError, match="--codec 'x264'"):
        encode.check_output("/a/b.mp4", "x264")
    with pytest.raises(MediaError, match="--preview"):
        encode.check_output("/a/b.mov", "dnxhr", preview=True)
    for codec in encode.CODECS:
        encode.check_encoder(codec)  # Debian 12's FFmpeg has them all


def test_preview_scales_the_plate_and_the_render_to_half_even_size():
    assert encode.preview_size(info()) == (320, 180)
    assert encode.preview_size(info(width=1278, height=718)) == (638, 358)
    cmd = encode.encode_command("/f", "/p", info(), "/o.mp4", 0, 1, 3, preview=True)
    graph = _after(cmd, "-filter_complex")
    assert ",scale=320:180[plate]" in graph and "scale=320:180:out_color_matrix" in graph
    assert "-preset veryfast" in " ".join(cmd) and _after(cmd, "-f") == "mp4"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 64x36 plate of 6 frames at 24 fps and 4 RGBA render frames."""
    work = tmp_path_factory.mktemp("tiny")
    plate = work / "plate.mp4"
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=s=64x36:r=24:d=0.25"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-color_primaries", "bt709"]
    subprocess.run(cmd + ["-color_trc", "bt709", "-colorspace", "bt709", str(plate)], check=True)
    frames = work / "frames"
    frames.mkdir()
    cmd = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=red@0.5:s=64x36:r=24"]
    cmd += ["-frames:v", "4", "-vf", "format=rgba", "-start_number", "0", str(frames / "%06d.png")]
    subprocess.run(cmd, check=True)
    return work, probe_video(str(plate)), sorted(frames.iterdir())


def test_piped_encode_writes_the_bytes_of_the_file_encode(tiny):
    work, src, pngs = tiny
    assert len(pngs) == 4
    files = encode.encode(str(pngs[0].parent), src.path, src, str(work / "f.mov"), 1, 1, 4,
                          False, "prores")  # fmt: skip
    with encode.PipedEncode(
        src.path, src, str(work / "p.mov"), 1, 1, 4, False, codec="prores"
    ) as piped:
        for png in pngs:
            piped.add(str(png))
        piped.finish()
    assert filecmp.cmp(files, work / "p.mov", shallow=False)
    probe = ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json"]
    (video,) = json.loads(subprocess.check_output(probe + [files]))["streams"]
    assert (video["profile"], video["pix_fmt"], video["nb_read_frames"]) == (
        "HQ",
        "yuv422p10le",
        "4",
    )
    assert video["color_primaries"] == "bt709"
    assert sorted(os.listdir(work)) == ["f.mov", "frames", "p.mov", "plate.mp4"]


def test_piped_encode_that_fails_leaves_nothing(tiny):
    work, src, pngs = tiny
    out = work / "bad.mp4"
    with pytest.raises(MediaError, match="encoding .*bad.mp4' failed"):
        with encode.PipedEncode(src.path, src, str(out), 1, 1, 4, False) as piped:
            piped.add(str(work / "plate.mp4"))  # not a PNG
            piped.finish()
    assert not out.exists() and not [n for n in os.listdir(work) if ".tmp-" in n]
    with pytest.raises(MediaError, match="exists"):
        encode.PipedEncode(src.path, src, str(work / "plate.mp4"), 1, 1, 4, False)
