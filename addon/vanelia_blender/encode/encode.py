"""The final encode: the rendered region over the plate -> the output video.

bpy-free. Blender renders the product and its shadow (film transparent,
straight-alpha RGBA PNGs numbered 000000.png.. in output order); FFmpeg
decodes the plate (the source, or its upright constant-rate proxy), keeps
the selected frames (--start/--end/--every), lays the render over it and
encodes at the rational rate `fps_num/fps_den` (divided by --every),
copying the source's audio of the same time span without re-encoding. The
plate never goes through an RGB round trip, so pixels away from the product
only lose what the encode loses; the render is converted to YUV with the
source's matrix, so its colours match the plate's.

The codec (`CODECS`, `vanelia run --codec`):
- h264: H.264 High 8-bit 4:2:0, CRF 10, MP4 (the default; unchanged since
  before --codec, to the byte);
- hevc: HEVC Main 10 (libx265) 10-bit 4:2:0, CRF 10, MP4 tagged hvc1;
- prores: ProRes 422 HQ (prores_ks profile 3) 10-bit 4:2:2, QuickTime
  (ProRes has no full range: a full-range plate is made limited);
- dnxhr: DNxHR HQX 10-bit 4:2:2, QuickTime.
The 10-bit ones overlay in 10-bit YUV (the plate's range kept) and carry
the source's colour tags (primaries, transfer, matrix, range) as ffprobe
reports them. The render is composited in linear light (the native stage:
the plate's transfer undone, the render put in the plate's primaries and
light, mixed, the transfer redone; src/encode/linear_light.hpp). An HDR
plate (HLG or PQ, BT.2020: phones' default) stays HDR with any codec: its
tags are carried (H.264 then writes 8-bit HDR) and the render, display-
referred SDR, lands at the plate's reference white (BT.2408; encode/hdr.py
holds the same formulas in Python). `preview`
scales the plate to half size (even numbers) to meet the half-size
preview render, and encodes a quick H.264 MP4.
The file is written to a temporary name beside the output and renamed into
place.

Where it runs: in this process through the native module's overlay + encode
stage (`_vanelia.encode_overlay` / `OverlayEncoder`: FFmpeg's libraries, no
executable) whenever the module imports and has the codec's encoder; the
`ffmpeg` executable (`encode_command`) only where the native module is
absent, for SDR plates, blending in the encoded values (its overlay filter
has no linear light). An HDR plate needs the native stage (MediaError).
"""

import dataclasses
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from ..core.media import MediaError, find_tool, native_with
from . import hdr

FRAME_PATTERN = "%06d.png"
CRF = 10  # H.264 quality: the plate keeps >= 40 dB PSNR (42-43 at 12)
PRESET = "medium"


@dataclass(frozen=True)
class Codec:
    """An output codec: its container, formats and encoder options."""

    name: str  # vanelia run --codec
    container: str  # FFmpeg's muxer: mp4 or mov
    extension: str  # the output's file extension
    pix_fmt: str  # the encoded pixel format
    overlay: str  # the overlay filter's working format
    render_fmt: str  # the render's YUVA format before the overlay
    encoder: tuple  # FFmpeg's encoder options
    colour_tags: bool  # carries the source's colour tags and range
    full_range: bool = True  # can carry full-range YUV (ProRes is always limited)


CODECS = {
    "h264": Codec(
        "h264",
        "mp4",
        ".mp4",
        "yuv420p",
        "yuv420",
        "yuva420p",
        ("-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF)),
        False,
    ),
    "hevc": Codec(
        "hevc",
        "mp4",
        ".mp4",
        "yuv420p10le",
        "yuv420p10",
        "yuva420p10le",
        ("-c:v", "libx265", "-preset", PRESET, "-crf", str(CRF), "-profile:v", "main10")
        + ("-tag:v", "hvc1", "-x265-params", "log-level=error"),
        True,
    ),
    "prores": Codec(
        "prores",
        "mov",
        ".mov",
        "yuv422p10le",
        "yuv422p10",
        "yuva422p10le",
        ("-c:v", "prores_ks", "-profile:v", "3", "-vendor", "apl0"),
        True,
        False,
    ),
    "dnxhr": Codec(
        "dnxhr",
        "mov",
        ".mov",
        "yuv422p10le",
        "yuv422p10",
        "yuva422p10le",
        ("-c:v", "dnxhd", "-profile:v", "dnxhr_hqx"),
        True,
    ),
}

# The preview's encode: quick, small, plays anywhere.
PREVIEW = Codec(
    "h264",
    "mp4",
    ".mp4",
    "yuv420p",
    "yuv420",
    "yuva420p",
    ("-c:v", "libx264", "-preset", "veryfast", "-crf", "12"),
    False,
)

# ffprobe's colour_space -> the scale filter's out_color_matrix.
_MATRIX = {
    "bt709": "bt709",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
    "smpte240m": "smpte240m",
    "fcc": "fcc",
}


def find_codec(name):
    """The Codec called `name`; MediaError naming --codec otherwise."""
    if name not in CODECS:
        raise MediaError(f"--codec '{name}': must be one of {', '.join(CODECS)}")
    return CODECS[name]


def check_output(out_path, codec_name, preview=False):
    """The output's extension is the codec's container's (MediaError)."""
    codec = find_codec(codec_name)
    extension = os.path.splitext(out_path)[1].lower()
    if extension != codec.extension:
        has = f"the extension {extension}" if extension else "no extension"
        raise MediaError(
            f"--codec {codec_name} writes a {codec.extension} file; output '{out_path}' has {has}"
        )
    if preview and codec_name != "h264":
        raise MediaError(
            f"--preview writes a half-size H.264 MP4; it does not take --codec {codec_name}"
        )


def check_encoder(codec_name):
    """This FFmpeg has the codec's encoder (Debian 12's has libx264,
    libx265, prores_ks and dnxhd); MediaError naming --codec otherwise.
    The native module's FFmpeg libraries when it imports, else the ffmpeg
    executable's."""
    encoder = find_codec(codec_name).encoder[1]
    module = native_with("have_overlay_encoder")
    if module is not None:
        if not module.have_overlay_encoder(codec_name):
            raise MediaError(
                f"--codec {codec_name}: this FFmpeg (the native module's libraries) has no "
                f"{encoder} encoder; build against an FFmpeg with it or choose another --codec"
            )
        return
    ffmpeg = find_tool("ffmpeg")
    result = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True)
    names = {line.split()[1] for line in result.stdout.splitlines() if len(line.split()) > 1}
    if encoder not in names:
        raise MediaError(
            f"--codec {codec_name}: this FFmpeg ({ffmpeg}) has no {encoder} encoder; "
            f"install an FFmpeg built with it or choose another --codec"
        )


def preview_size(info):
    """The preview's frame size: half the plate's, rounded down to even."""
    return max(2, info.width // 4 * 2), max(2, info.height // 4 * 2)


def _range(info):
    """The plate's YUV range: pc (full) or tv (limited)."""
    full = info.color_range == "pc" or (not info.color_range and info.pix_fmt.startswith("yuvj"))
    return "pc" if full else "tv"


def _plate_range(info, plate_path):
    """The plate's YUV range: the source's, or limited for the proxy of a
    rotated or VFR clip (encode/proxy.py decodes to limited-range YUV)."""
    return _range(info) if os.path.abspath(plate_path) == os.path.abspath(info.path) else "tv"


def _out_range(info, codec):
    """The output's YUV range: the plate's, or limited where the codec has
    no full range (a full-range plate is then converted)."""
    return _range(info) if codec.full_range else "tv"


def _colour_args(info, codec):
    """The source's colour tags for the output stream."""
    tags = [
        ("-color_primaries", info.color_primaries),
        ("-color_trc", info.color_transfer),
        ("-colorspace", info.color_space),
        ("-color_range", _out_range(info, codec)),
    ]
    return [item for option, value in tags if value for item in (option, value)]


def _graph(info, codec, select, den, num, size, plate_range):
    """The filter graph: [plate] and [cg] (the render) -> overlay -> [v]."""
    setpts = f"setpts=N*{den}/({num}*TB)"
    render = setpts
    plate, scale = "", ""
    if size is not None:
        plate, scale = f",scale={size[0]}:{size[1]}", f"{size[0]}:{size[1]}:"
    matrix, out_range = info.color_matrix, "tv"
    if codec.colour_tags:
        matrix, out_range = _MATRIX.get(info.color_space, "bt601"), _out_range(info, codec)
        # 10-bit YUV, the plate's values and range kept (where the codec can).
        plate += f",scale=in_range={plate_range}:out_range={out_range},format={codec.pix_fmt}"
    return (
        f"[0:v]select={select},{setpts}{plate}[plate];"
        f"[1:v]{render},scale={scale}out_color_matrix={matrix}"
        f":out_range={out_range},format={codec.render_fmt}[cg];"
        f"[plate][cg]overlay=eof_action=pass:format={codec.overlay},format={codec.pix_fmt}[v]"
    )


def output_spec(info, codec="h264", preview=False):
    """The Codec an output is encoded with: an HDR plate (HLG or PQ) keeps
    its colour tags and range whatever the codec (H.264 then writes 8-bit
    HDR; the 10-bit codecs are better for it)."""
    spec = PREVIEW if preview else find_codec(codec)
    if hdr.is_hdr(info) and not spec.colour_tags:
        spec = dataclasses.replace(spec, colour_tags=True)
    return spec


def encode_command(
    frames_dir,
    plate_path,
    info,
    out_path,
    first,
    every,
    count,
    codec="h264",
    preview=False,
):
    """`info` is the source's MediaInfo (rate, audio, colour); `plate_path`
    an upright constant-rate video whose frame n is decoded frame n. With
    `frames_dir` None the frames come as PNGs on FFmpeg's stdin (PipedEncode).
    Run for SDR plates only (`check_fallback`)."""
    ffmpeg = find_tool("ffmpeg")
    spec = output_spec(info, codec, preview)
    num, den = info.fps_num, info.fps_den * every
    rate = f"{num}/{den}"
    last = first + every * (count - 1)
    select = f"between(n\\,{first}\\,{last})*not(mod(n-{first}\\,{every}))"
    size = preview_size(info) if preview else None
    graph = _graph(info, spec, select, den, num, size, _plate_range(info, plate_path))
    cmd = [ffmpeg, "-v", "error", "-y", "-i", plate_path]
    if frames_dir is None:
        cmd += ["-f", "image2pipe", "-c:v", "png", "-framerate", rate, "-i", "-"]
    else:
        cmd += ["-framerate", rate, "-start_number", "0"]
        cmd += ["-i", os.path.join(frames_dir, FRAME_PATTERN)]
    if info.has_audio:
        start_s = first * info.fps_den / info.fps_num
        duration_s = count * den / num
        cmd += ["-ss", f"{start_s:.6f}", "-t", f"{duration_s:.6f}", "-i", info.path]
    cmd += ["-filter_complex", graph, "-map", "[v]"]
    if info.has_audio:
        cmd += ["-map", "2:a?", "-c:a", "copy"]
    cmd += list(spec.encoder)
    if spec.colour_tags:
        cmd += _colour_args(info, spec)
    cmd += ["-r", rate, "-movflags", "+faststart"]
    cmd += ["-f", spec.container, out_path]
    return cmd


def native_stage(info, codec="h264", preview=False):
    """The native module when it runs this encode in process, else None (no
    module, or no encoder for the codec in its FFmpeg)."""
    module = native_with("OverlayEncoder")
    if module is None:
        return None
    return module if module.have_overlay_encoder(_native_codec(codec, preview)) else None


def worker_stage(info):
    """Worker mode (no module in this Python, the bundled CLI there): the
    CLI's stand-in, whose `vanelia encode` runs the same native stage (HDR
    plates included: it composites in the plate's linear light); else None."""
    from .. import native

    if native.available():
        return None
    return native.worker()


def _worker_encode(runner, frames_dir, plate_path, info, tmp, first, every, count, codec, preview):
    """`vanelia encode`, with the source's audio (the plate may be its proxy)."""
    audio = info.path if info.has_audio else None
    try:
        runner.encode_overlay(
            plate_path, frames_dir, tmp, first, every, count, _native_codec(codec, preview), audio
        )
    except runner.Error as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise MediaError(f"encoding failed: {e}") from None


def _native_codec(codec, preview):
    return "h264_preview" if preview else codec


def native_options(module, plate_path, info, out_path, first, every, count, codec, preview):
    """The native stage's OverlayEncodeOptions: the choices of `_graph` and
    `encode_command` (matrix, ranges, colour tags, size, audio) as fields."""
    spec = output_spec(info, codec, preview)
    options = module.OverlayEncodeOptions()
    options.plate_path = plate_path
    options.output_path = out_path
    options.codec = _native_codec(codec, preview)
    options.first, options.every, options.count = first, every, count
    options.fps = (info.fps_num, info.fps_den)
    if preview:
        options.width, options.height = preview_size(info)
    options.plate_range = _plate_range(info, plate_path)
    options.matrix, options.output_range = info.color_matrix, "tv"
    if spec.colour_tags:
        options.matrix = _MATRIX.get(info.color_space, "bt601")
        options.output_range = _out_range(info, spec)
    # The plate's tags always: FFmpeg's filter graph passed the decoded
    # frames' tags to every encoder, H.264 included.
    options.color_primaries = info.color_primaries
    options.color_transfer = info.color_transfer
    options.color_space = info.color_space
    options.tag_range = True
    if info.has_audio:
        options.audio_path = info.path
    return options


def check_fallback(info):
    """The ffmpeg executable's path takes SDR plates only: an HDR plate's
    linear-light composite is the native stage's (MediaError otherwise)."""
    if hdr.is_hdr(info):
        raise MediaError(
            f"plate '{info.path}': HDR (transfer {info.color_transfer}); its composite needs "
            "the native module's encode stage (_vanelia), which did not load"
        )


def temp_path(out_path, codec="h264"):
    """The temporary name `encode` writes before renaming into place."""
    return f"{out_path}.tmp-{os.getpid()}{find_codec(codec).extension}"


def encode(
    frames_dir,
    plate_path,
    info,
    out_path,
    first,
    every,
    count,
    overwrite,
    codec="h264",
    preview=False,
):
    """Encodes and renames into place; never replaces without `overwrite`."""
    if os.path.exists(out_path) and not overwrite:
        raise MediaError(f"output '{out_path}': exists; use --overwrite to replace")
    tmp = temp_path(out_path, codec)
    module = native_stage(info, codec, preview)
    if module is not None:
        options = native_options(module, plate_path, info, tmp, first, every, count, codec, preview)
        try:  # the stage removes its partial file when it fails
            module.encode_overlay(options, frames_dir)
        except module.Cancelled:
            raise
        except module.Error as e:
            raise MediaError(f"encoding '{out_path}' failed: {e}") from None
        os.replace(tmp, out_path)
        return out_path
    runner = worker_stage(info)
    if runner is not None:
        _worker_encode(
            runner, frames_dir, plate_path, info, tmp, first, every, count, codec, preview
        )
        os.replace(tmp, out_path)
        return out_path
    check_fallback(info)
    cmd = encode_command(frames_dir, plate_path, info, tmp, first, every, count, codec, preview)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise MediaError(f"encoding '{out_path}' failed: {result.stderr.strip()}")
    os.replace(tmp, out_path)
    return out_path


class PipedEncode:
    """`encode` fed one PNG at a time while the frames render: FFmpeg starts,
    opens the plate and encodes as the render goes, so little of the encode
    is left when the last frame is done (the preview's encode). Use as a
    context manager: `add(png)` per output position in order, `finish()`
    renames into place; leaving the block otherwise stops FFmpeg and removes
    the temporary file."""

    def __init__(self, plate_path, info, out_path, first, every, count, overwrite, **options):
        if os.path.exists(out_path) and not overwrite:
            raise MediaError(f"output '{out_path}': exists; use --overwrite to replace")
        self.out_path = out_path
        self.tmp = temp_path(out_path, options.get("codec", "h264"))
        self._native, self._module = None, native_stage(
            info, options.get("codec", "h264"), options.get("preview", False)
        )
        if self._module is not None:
            self._start_native(plate_path, info, first, every, count, options)
            return
        self._worker = worker_stage(info)
        if self._worker is not None:  # the frames gathered, encoded at finish()
            self._frames = tempfile.mkdtemp(prefix="vanelia-piped-")
            self._args = (plate_path, info, first, every, count, options)
            self._added = 0
            return
        check_fallback(info)
        cmd = encode_command(None, plate_path, info, self.tmp, first, every, count, **options)
        self._log = tempfile.TemporaryFile()  # FFmpeg's stderr: no pipe to fill
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def _start_native(self, plate_path, info, first, every, count, options):
        codec, preview = options.get("codec", "h264"), options.get("preview", False)
        native = native_options(
            self._module, plate_path, info, self.tmp, first, every, count, codec, preview
        )
        try:
            self._native = self._module.OverlayEncoder(native)
        except self._module.Error as e:
            raise MediaError(f"encoding '{self.out_path}' failed: {e}") from None

    def __enter__(self):
        return self

    def add(self, png_path):
        """Hands the encoder the next frame."""
        if getattr(self, "_worker", None) is not None:
            shutil.copyfile(png_path, os.path.join(self._frames, FRAME_PATTERN % self._added))
            self._added += 1
            return
        if self._native is not None:
            try:
                self._native.add_png(png_path)
            except self._module.Error as e:
                raise MediaError(f"encoding '{self.out_path}' failed: {e}") from None
            return
        with open(png_path, "rb") as f:
            data = f.read()
        try:
            self._proc.stdin.write(data)
        except BrokenPipeError:
            self._fail()

    def finish(self):
        """Waits for the encoder and renames the output into place."""
        if getattr(self, "_worker", None) is not None:
            plate_path, info, first, every, count, options = self._args
            codec, preview = options.get("codec", "h264"), options.get("preview", False)
            _worker_encode(
                self._worker,
                self._frames,
                plate_path,
                info,
                self.tmp,
                first,
                every,
                self._added,
                codec,
                preview,
            )
            shutil.rmtree(self._frames, ignore_errors=True)
            os.replace(self.tmp, self.out_path)
            return self.out_path
        if self._native is not None:
            try:
                self._native.finish()
            except self._module.Error as e:
                raise MediaError(f"encoding '{self.out_path}' failed: {e}") from None
            self._native = None
            os.replace(self.tmp, self.out_path)
            return self.out_path
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        if self._proc.wait() != 0:
            self._fail()
        os.replace(self.tmp, self.out_path)
        return self.out_path

    def _fail(self):
        self._proc.kill()
        self._proc.wait()
        self._log.seek(0)
        text = self._log.read().decode(errors="replace").strip()
        raise MediaError(f"encoding '{self.out_path}' failed: {text or 'FFmpeg stopped'}")

    def __exit__(self, *exc):
        if getattr(self, "_worker", None) is not None:
            shutil.rmtree(self._frames, ignore_errors=True)
            return False
        if self._module is not None:
            self._native = None  # an unfinished encoder removes its file
            if os.path.exists(self.tmp):
                os.remove(self.tmp)
            return False
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        self._log.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)
        return False
