#!/usr/bin/env bash
# DUSt3R on the GPU machine in one call (issue 18): a minimal build, the
# DUSt3R fixture parity on CUDA (TF32 off), then dust3r_bench beside
# upstream's own code (native/bench/dust3r_upstream_bench.py) under the
# pinned protocol: swin-3 non-cyclic symmetrised pairs, 30 frames, MST init +
# 300 Adam steps (cosine, lr 0.01), float32, TF32 off, at 512 (DPT head,
# 512x288) and 224 (linear head). Logs and summary.json go to $OUT
# (default ./gpu_out). Run from the repository root:
#
#   bash native/scripts/gpu_dust3r.sh                 # the GPU machine
#   bash native/scripts/gpu_dust3r.sh --device cpu --frames 4 --iterations 5 \
#       --sizes 224 --build-dir /tmp/d3 --no-upstream  # a CPU smoke test
#
# Options: --device cuda|cpu, --frames N, --window W, --iterations N,
# --sizes "512 224", --build-dir DIR (default build-gpu-dust3r), --jobs N
# (default 16), --build-only, --no-upstream, --no-network (alignment only).
# $PYTHON (default python3) is the interpreter with PyTorch.
#
# Untracked inputs, all from ignored folders the GPU call must carry:
#   .upstream/carry     deps.tar.xz: prefix/ (nlohmann_json headers and
#                       googletest sources, used through
#                       VANELIA_EXTRA_PREFIX) and py/ (upstream dust3r with
#                       croco, roma, einops: the peer bench imports them)
# Optional: .upstream/dust3r, .upstream/roma, .upstream/einops are used for
# the peer instead of the tarball's py/ when all three are present.
# The machine provides PyTorch 2.x with CUDA (its LibTorch is found through
# torch.utils.cmake_prefix_path), Eigen, cmake, ninja and nvcc; no OpenCV,
# FFmpeg or pybind11, hence -DVANELIA_WITH_{FFMPEG,OPENCV,PYTHON}=OFF.
set -uo pipefail

device=cuda
frames=30
window=3
iterations=300
sizes="512 224"
build_dir=build-gpu-dust3r
jobs=16
build_only=0
upstream=1
network=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --frames) frames="$2"; shift 2 ;;
    --window) window="$2"; shift 2 ;;
    --iterations) iterations="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --no-upstream) upstream=0; shift ;;
    --no-network) network=0; shift ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "gpu_dust3r.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

PYTHON="${PYTHON:-python3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 2
[[ "$build_dir" == /* ]] || build_dir="$root/$build_dir"
OUT="${OUT:-./gpu_out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
steps="$OUT/steps.jsonl"
: >"$steps"
t_start=$(date +%s)

# One line of steps.jsonl per step: name, exit status, seconds, log file.
step() {
  local name="$1" log="$OUT/$1.log"
  shift
  local t0 rc dt
  t0=$(date +%s)
  echo "== $name: $*" | tee -a "$OUT/run.log"
  "$@" >"$log" 2>&1
  rc=$?
  dt=$(($(date +%s) - t0))
  echo "   rc=$rc ${dt}s (log $log)" | tee -a "$OUT/run.log"
  printf '{"step": "%s", "rc": %d, "seconds": %d, "log": "%s.log"}\n' \
    "$name" "$rc" "$dt" "$name" >>"$steps"
  return $rc
}

# shellcheck disable=SC2317  # called through the EXIT trap
write_summary() {
  "$PYTHON" - "$OUT" "$device" "$(($(date +%s) - t_start))" <<'EOF'
import json, os, sys
out, device, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps = [json.loads(l) for l in open(os.path.join(out, "steps.jsonl")) if l.strip()]
benches = {}
for s in steps:
    if not s["step"].startswith("bench_"):
        continue
    lines = [l for l in open(os.path.join(out, s["log"])) if l.startswith("{")]
    benches[s["step"]] = json.loads(lines[-1]) if lines else None
ratios = {}
for size in ("512", "224"):
    ours, up = benches.get(f"bench_ours_{size}"), benches.get(f"bench_upstream_{size}")
    if ours and up:
        ratios[size] = {
            "frames_per_s_ours_over_upstream": ours["frames_per_s"] / up["frames_per_s"],
            "alignment_s_upstream_over_ours": up["split_alignment_s"] / ours["split_alignment_s"],
            "adam_step_ms_ours": ours.get("adam_step_ms"),
            "adam_step_ms_upstream": up.get("adam_step_ms"),
        }
parity = []
log = os.path.join(out, "parity.log")
if os.path.exists(log):
    parity = [l.strip() for l in open(log) if l.startswith(("PARITY", "RECOVERY", "[  FAILED", "[  PASSED"))]
json.dump(
    {"device": device, "total_s": total, "steps": steps, "benches": benches,
     "ratios": ratios, "parity_lines": parity},
    open(os.path.join(out, "summary.json"), "w"), indent=1)
print(json.dumps({"total_s": total, "ratios": ratios,
                  "failed_steps": [s["step"] for s in steps if s["rc"] != 0]}))
EOF
}
trap write_summary EXIT

# --- carried dependencies -------------------------------------------------
deps="$build_dir/_carried"
if [[ ! -f .upstream/carry/deps.tar.xz ]]; then
  echo "gpu_dust3r.sh: .upstream/carry/deps.tar.xz missing (carry .upstream/carry)" >&2
  exit 2
fi
mkdir -p "$deps"
step unpack_deps tar xJf .upstream/carry/deps.tar.xz -C "$deps" || exit 1
upstream_dir="$deps/py"
if [[ -d .upstream/dust3r/dust3r && -d .upstream/roma && -d .upstream/einops ]]; then
  upstream_dir="$root/.upstream"
fi

# --- environment ------------------------------------------------------------
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  "$PYTHON" -c 'import importlib.util; print({m: bool(importlib.util.find_spec(m)) for m in ("numpy", "scipy", "cv2", "tqdm", "PIL", "huggingface_hub")})'
  cmake --version | head -1; ninja --version; nvcc --version 2>&1 | tail -1; nproc
} >"$OUT/environment.log" 2>&1
torch_prefix="$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')" ||
  echo "gpu_dust3r.sh: $PYTHON has no torch; CMake looks for LibTorch alone" >&2

# --- configure + build --------------------------------------------------------
step configure cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DVANELIA_WITH_FFMPEG=OFF -DVANELIA_WITH_OPENCV=OFF -DVANELIA_WITH_PYTHON=OFF \
  -DVANELIA_WITH_TORCH=ON -DVANELIA_WERROR=OFF -DVANELIA_BUILD_TESTS=ON -DVANELIA_BUILD_BENCH=ON \
  -DVANELIA_EXTRA_PREFIX="$deps/prefix" -DCMAKE_PREFIX_PATH="$torch_prefix" \
  || exit 1
test_bin=vanelia_model_test
[[ "$device" == cuda ]] && test_bin=vanelia_model_gpu_test
step build ninja -C "$build_dir" -j "$jobs" "$test_bin" dust3r_bench || exit 1
[[ $build_only == 1 ]] && exit 0

# --- parity: every DUSt3R fixture case (pairs, g1 alignment, preprocessing) --
# The CUDA binary turns TF32 off for its whole run and prints the worst error
# per case (PARITY / RECOVERY lines).
step parity "$build_dir/bin/$test_bin" --gtest_filter='Dust3r*' --gtest_color=no

# --- benches ----------------------------------------------------------------
export PYTHONDONTWRITEBYTECODE=1
for size in $sizes; do
  step "bench_ours_$size" "$build_dir/bin/dust3r_bench" --size "$size" \
    --frames "$frames" --window "$window" --iterations "$iterations" \
    --device "$device" --tf32 0 --network "$network"
  if [[ $upstream == 1 ]]; then
    step "bench_upstream_$size" "$PYTHON" native/bench/dust3r_upstream_bench.py \
      --upstream "$upstream_dir" --size "$size" --frames "$frames" \
      --window "$window" --iterations "$iterations" --device "$device" \
      --network "$network"
  fi
done
exit 0
