"""The bpy-free track file reader/writer (addon/vanelia_blender/core/track_file.py)."""

import copy
import json
import os
import random
import struct

import jsonschema
import pytest

from vanelia_blender.core import track_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "docs", "track_example.json")
SCHEMA = os.path.join(ROOT, "addon", "vanelia_blender", "core", "track_schema.json")
INVALID = os.path.join(ROOT, "tests", "data", "track", "invalid_tracks.json")


def example():
    with open(EXAMPLE) as fh:
        return json.load(fh)


def schema():
    with open(SCHEMA) as fh:
        return json.load(fh)


def test_example_reads_and_matches_the_schema():
    doc = track_file.load(EXAMPLE)
    assert doc["format"] == "vanelia-track" and doc["version"] == 1
    assert [f["index"] for f in doc["frames"]] == [0, 1, 2, 4]
    jsonschema.Draft7Validator.check_schema(schema())
    jsonschema.validate(doc, schema())


def test_schema_rejects_what_it_describes():
    doc = example()
    doc["world"] = "raw"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())
    doc = example()
    del doc["frames"][0]["K"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema())


def test_writer_output_is_the_example_byte_for_byte():
    with open(EXAMPLE, encoding="utf-8") as fh:
        text = fh.read()
    assert track_file.dumps(track_file.loads(text)) == text


def mutate(doc, case):
    node = doc
    for key in case["path"][:-1]:
        node = node[key]
    if case.get("delete"):
        del node[case["path"][-1]]
    else:
        node[case["path"][-1]] = copy.deepcopy(case["value"])


def test_invalid_tracks_are_rejected_with_the_shared_messages():
    with open(INVALID) as fh:
        cases = json.load(fh)["cases"]
    assert len(cases) > 40
    for case in cases:
        doc = example()
        mutate(doc, case)
        with pytest.raises(track_file.TrackFileError) as info:
            track_file.loads(json.dumps(doc), "t.json")
        assert str(info.value) == "track 't.json': " + case["message"]


def test_nan_and_garbage_are_not_json():
    text = json.dumps(example()).replace('"timestamp_s": 0.0', '"timestamp_s": NaN', 1)
    with pytest.raises(track_file.TrackFileError, match="not valid JSON"):
        track_file.loads(text, "t.json")
    with pytest.raises(track_file.TrackFileError, match="track 't.json': must be a JSON object"):
        track_file.loads("[1]", "t.json")


def random_double(rng):
    while True:
        bits = rng.getrandbits(63)
        x = struct.unpack("<d", struct.pack("<Q", bits))[0]
        if x == x and abs(x) < 1e300:
            return x


def test_random_doubles_round_trip_bit_for_bit(tmp_path):
    rng = random.Random(5)
    doc = example()
    values = [random_double(rng) for _ in range(2000)]
    doc["tracker"]["options"]["values"] = values
    path = tmp_path / "t.json"
    track_file.dump(doc, path)
    back = track_file.load(path)
    got = back["tracker"]["options"]["values"]
    assert [struct.pack("<d", x) for x in got] == [struct.pack("<d", x) for x in values]


def test_dump_never_overwrites_unless_asked(tmp_path):
    path = tmp_path / "t.json"
    doc = example()
    track_file.dump(doc, path)
    doc["summary"]["warnings"] = ["changed"]
    with pytest.raises(track_file.TrackFileError, match="already exists"):
        track_file.dump(doc, path)
    assert track_file.load(path)["summary"]["warnings"] != ["changed"]
    track_file.dump(doc, path, overwrite=True)
    assert track_file.load(path)["summary"]["warnings"] == ["changed"]
    assert sorted(os.listdir(tmp_path)) == ["t.json"]


def test_dump_validates_before_writing(tmp_path):
    doc = example()
    doc["frames"][1]["index"] = 0
    with pytest.raises(track_file.TrackFileError, match=r"frames\[1\].index"):
        track_file.dump(doc, tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


def test_dumps_accepts_numpy_values():
    np = pytest.importorskip("numpy")
    doc = example()
    doc["frames"][0]["c2w_blender"] = np.asarray(doc["frames"][0]["c2w_blender"])
    text = track_file.dumps(doc)
    assert track_file.loads(text) == example()
