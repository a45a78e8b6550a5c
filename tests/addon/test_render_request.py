"""The render operator's request from the panel (render/render_job.py, bpy-free):
the codec picks the output's container, Preview writes a half-size H.264 beside the
video and never passes, Passes goes beside the output unless a folder is given, and
every choice reaches the native run's keywords."""

import types

import pytest

from vanelia_blender.render import render_job


def _settings(tmp_path, **fields):
    video = tmp_path / "clip.mov"
    for name in ("clip.mov", "p.glb", "t.json"):
        (tmp_path / name).write_bytes(b"x")
    base = dict(
        video_path=str(video),
        product_path=str(tmp_path / "p.glb"),
        track_path=str(tmp_path / "t.json"),
        output_path="",
        overwrite=False,
        samples=64,
        frame_start=0,
        frame_end=-1,
        frame_step=1,
        rotation_z=0.0,
        height=0.0,
        auto_location=True,
        location=(0.0, 0.0, 0.0),
        codec="h264",
        passes=False,
        passes_path="",
        passes_format="exr",
        grain=True,
    )
    base.update(fields)
    return types.SimpleNamespace(**base)


def _request(settings, preview=False):
    return render_job.request_from(settings, lambda p: p, "", None, "blender", preview)


@pytest.mark.parametrize(
    "codec, extension", [("h264", ".mp4"), ("hevc", ".mp4"), ("prores", ".mov"), ("dnxhr", ".mov")]
)
def test_codec_sets_the_default_output_container(tmp_path, codec, extension):
    request = _request(_settings(tmp_path, codec=codec))
    assert request.output == str(tmp_path / f"clip_vanelia{extension}")
    assert request.run_keywords()["codec"] == codec


def test_preview_is_a_half_size_h264_beside_the_video_without_passes(tmp_path):
    settings = _settings(tmp_path, codec="prores", passes=True, output_path=str(tmp_path / "o.mov"))
    request = _request(settings, preview=True)
    keywords = request.run_keywords()
    assert request.output == str(tmp_path / "clip_vanelia_preview.mp4")
    assert keywords["preview"] is True and keywords["codec"] == "h264"
    assert keywords["passes"] == ""


def test_passes_go_beside_the_output_or_to_the_chosen_folder(tmp_path):
    out = str(tmp_path / "shot.mov")
    request = _request(_settings(tmp_path, codec="prores", passes=True, output_path=out))
    assert request.run_keywords()["passes"] == str(tmp_path / "shot_passes")
    assert request.run_keywords()["passes_format"] == "exr"
    chosen = str(tmp_path / "comp")
    settings = _settings(tmp_path, passes=True, passes_path=chosen, passes_format="png16")
    keywords = _request(settings).run_keywords()
    assert (keywords["passes"], keywords["passes_format"]) == (chosen, "png16")
    assert _request(_settings(tmp_path)).run_keywords()["passes"] == ""


def test_an_existing_preview_is_not_replaced_without_overwrite(tmp_path):
    (tmp_path / "clip_vanelia_preview.mp4").write_bytes(b"old")
    with pytest.raises(render_job.RenderError, match="Overwrite"):
        _request(_settings(tmp_path), preview=True)


def test_grain_follows_the_panel_and_reaches_the_native_run(tmp_path):
    assert _request(_settings(tmp_path, grain=True)).run_keywords()["grain"] == "auto"
    keywords = _request(_settings(tmp_path, grain=False)).run_keywords()
    assert keywords["grain"] == "off"
    # Every keyword is one the native run takes: it gets as far as the
    # input check (the placeholder files are no video or product), not a
    # TypeError.
    import _vanelia

    request = _request(_settings(tmp_path, grain=False))
    with pytest.raises(_vanelia.Error):
        _vanelia.run(request.video, request.product, str(tmp_path / "never.mp4"), **keywords)
    assert not (tmp_path / "never.mp4").exists()


def test_motion_blur_follows_the_panel_and_reaches_the_native_run(tmp_path):
    assert _request(_settings(tmp_path)).run_keywords()["motion_blur"] == "auto"
    keywords = _request(_settings(tmp_path, motion_blur=False)).run_keywords()
    assert keywords["motion_blur"] == "off"
    import _vanelia

    request = _request(_settings(tmp_path, motion_blur=False))
    with pytest.raises(_vanelia.Error):
        _vanelia.run(request.video, request.product, str(tmp_path / "never.mp4"), **keywords)
    assert not (tmp_path / "never.mp4").exists()


def test_environment_follows_the_panel_and_reaches_the_native_run(tmp_path):
    assert _request(_settings(tmp_path)).run_keywords()["environment"] == "off"
    assert _request(_settings(tmp_path, environment=True)).run_keywords()["environment"] == "auto"
    keywords = _request(_settings(tmp_path, environment=False)).run_keywords()
    assert keywords["environment"] == "off"
    import _vanelia

    request = _request(_settings(tmp_path, environment=False))
    with pytest.raises(_vanelia.Error):
        _vanelia.run(request.video, request.product, str(tmp_path / "never.mp4"), **keywords)
    assert not (tmp_path / "never.mp4").exists()
