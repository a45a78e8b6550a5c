"""The track cache: a track is reused when neither the video nor the tracker
options changed. bpy-free; one cache shared by the add-on and `vanelia run`.

Folder (first that applies):
  1. the add-on preference "Track cache folder" (passed in as `folder`);
  2. $VANELIA_CACHE_DIR;
  3. $XDG_CACHE_HOME/vanelia/tracks, else ~/.cache/vanelia/tracks.

Key: `<folder>/<video_sha256>/<tracker>-<options_sha256[:16]>.json` where
  - video_sha256 is the hex SHA-256 of the video file's bytes (its content:
    a renamed or copied clip hits the cache, an edited one does not);
  - tracker is the tracker's name ("classical", "must3r", "dust3r");
  - options_sha256 is the hex SHA-256 of the UTF-8 canonical JSON of the
    tracker options dict: keys sorted, separators "," and ":", no spaces,
    ASCII only, floats as Python's repr (e.g. {"end":-1,"every":1,"start":0}).
    The classical tracker's options are exactly {start, end, every, version}
    (version: the native module's __version__, so an upgraded tracker never
    reuses an older one's tracks; what `vanelia run` computes,
    native/src/pipeline/track_stage.cpp ClassicalCacheOptions), plus "mask_sha256" when
    the track is masked (the native source_content_sha256 of the mask: of its
    bytes, or of a folder's per-file digests in frame order), so a masked track
    never reuses an unmasked one. A network's add its
    options (core/tracking.py NetworkOptions.key: image_size, dtype and the
    video-mode numbers; not the device, which does not change the result)
    and "weights_sha256", the hex SHA-256 of the checkpoint's bytes: the same
    weights under another path hit, re-downloaded or retrained ones miss.
The cached file is the tracker's raw track file (world "track", with its
points; a network's depth sidecar beside it, `<tracker>-<hash>.depth/`, named
by the track's `depth` object: README "Formats"), before alignment: aligning
(camera height) is cheap and is done on every use, so changing the camera
height does not track again. Files are written atomically (temporary file +
rename); a file that fails to read or to validate as a track file is
discarded and treated as a miss.
"""

import hashlib
import json
import os
import tempfile

_HASHES = {}  # (realpath, size, mtime_ns) -> sha256; content hashing is slow


def default_folder(env=None):
    env = os.environ if env is None else env
    if env.get("VANELIA_CACHE_DIR"):
        return env["VANELIA_CACHE_DIR"]
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vanelia", "tracks")


def file_sha256(path, chunk=1 << 20):
    """Hex SHA-256 of the file's bytes, remembered per (path, size, mtime)
    (a 1.3 GB checkpoint takes a few seconds the first time)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(chunk), b""):
                digest.update(block)  # releases the GIL on large blocks
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


video_sha256 = file_sha256


def canonical_options(options):
    return json.dumps(options, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def options_sha256(options):
    return hashlib.sha256(canonical_options(options).encode("utf-8")).hexdigest()


class TrackCache:
    def __init__(self, folder=None):
        self.folder = os.path.abspath(os.path.expanduser(folder or default_folder()))

    def path_for(self, video_sha, tracker, options):
        name = f"{tracker}-{options_sha256(options)[:16]}.json"
        return os.path.join(self.folder, video_sha, name)

    def lookup(self, video_sha, tracker, options):
        """The cached track's path, or None."""
        path = self.path_for(video_sha, tracker, options)
        return path if os.path.isfile(path) and os.path.getsize(path) > 0 else None

    def store_text(self, video_sha, tracker, options, text):
        """Writes the track text atomically; returns its path."""
        path = self.path_for(video_sha, tracker, options)
        return write_atomic(path, text)


def write_atomic(path, text):
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
