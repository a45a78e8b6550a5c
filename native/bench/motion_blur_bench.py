"""Render time per frame with and without the product's motion blur
(issue 21), in one command (real `vanelia run`, real Blender):

    PYTHONPATH=build/python /usr/bin/python3 native/bench/motion_blur_bench.py \
        [--clip tests/data/clips/fastpan] [--samples 64] [--repeat 2]

Runs `vanelia run` on the clip's ground-truth track with `--motion-blur off`
and `--motion-blur 1.0` (the slowest: the longest smear widens the rendered
region most), alternating, `--grain off --light fixed`, the sample's product
at a fixed spot, and reads the batch's own s/frame ("render: frame N of N,
X s/frame"). Checked before it is reported: both runs wrote their output,
and the blurred run logged its shutter. One JSON line: the medians per
frame and their ratio (blur / off).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VANELIA = os.path.join(ROOT, "build", "bin", "vanelia")


def _run(clip, track, product, out, blur, samples):
    done = subprocess.run(
        [VANELIA, "run", os.path.join(clip, "video.mp4"), product, "--track", track,
         "-o", out, "--overwrite", "--samples", str(samples), "--grain", "off",
         "--light", "fixed", "--motion-blur", blur, "--location", "0.2", "0", "0"],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0 or not os.path.getsize(out):
        sys.exit(f"motion_blur_bench: vanelia run failed:\n{done.stderr[-2000:]}")
    if blur != "off" and "motion blur: shutter" not in done.stderr:
        sys.exit("motion_blur_bench: the blurred run did not set its shutter")
    rates = re.findall(r"render: frame \d+ of \d+, ([\d.]+) s/frame", done.stderr)
    if not rates:
        sys.exit(f"motion_blur_bench: no s/frame in the run's output:\n{done.stderr[-2000:]}")
    return float(rates[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clip", default=os.path.join(ROOT, "tests", "data", "clips", "fastpan"))
    p.add_argument(
        "--product", default=os.path.join(ROOT, "tests", "data", "sample", "product.glb")
    )
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as work:
        track = os.path.join(work, "track.json")
        subprocess.run(
            [VANELIA, "import-track", os.path.join(args.clip, "gt.json"), "-o", track, "--quiet"],
            check=True,
        )
        times = {"off": [], "1.0": []}
        for _ in range(args.repeat):
            for blur in times:
                out = os.path.join(work, f"out-{blur}.mp4")
                times[blur].append(_run(args.clip, track, args.product, out, blur, args.samples))
    off, blurred = statistics.median(times["off"]), statistics.median(times["1.0"])
    print(
        json.dumps(
            {
                "bench": "motion_blur",
                "clip": os.path.relpath(args.clip, ROOT),
                "samples": args.samples,
                "s_per_frame_off": off,
                "s_per_frame_blur_1_0": blurred,
                "ratio": blurred / off,
                "runs": times,
            }
        )
    )


if __name__ == "__main__":
    main()
