#!/usr/bin/env bash
# Rehearse the GPU benchmark on this CPU with the GPU machine's own stack, so
# that a lent GPU's minutes are not spent on a version mismatch.
#
# The lent GPU machine has torch 2.11 + triton 3.6 + timm and no OpenMMLab
# package (its image, /work/.library/device/KINDS.md); this machine runs
# torch 2.14 + triton 3.8. This script builds a virtual environment with the
# GPU machine's versions (once, about 5 GB), then, in it:
#   1. runs tools/analysis/benchmark_gpu.sh exactly as the GPU machine would
#      (carried wheels from .whl/ installed into a private folder), on tiny
#      shapes with Triton interpreted (--smoke --device cpu), and checks that
#      every part check passed and nothing was skipped;
#   2. runs the op tests (Triton kernels under that triton's interpreter) and
#      the benchmark's own tests with torch, triton and the carried wheels.
#
# Usage: bash tools/misc/rehearse_gpu_benchmark.sh [VENV]
#   VENV defaults to $LKMM_CACHE/gpu-rehearsal (LKMM_CACHE: ~/.cache/lkmm).
# Needs network the first time (venv and .whl/); about 1.5 minutes after
# that.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-${LKMM_CACHE:-$HOME/.cache/lkmm}/gpu-rehearsal}"
PY="$VENV/bin/python"
log() { echo "[rehearse_gpu] $*"; }

# The GPU machine's versions (KINDS.md, 2026-11); numpy is the newest the
# registry has, as there (numpy 2.5).
GPU_STACK=(torch==2.11.0 torchvision==0.26.0 triton==3.6.0 timm numpy
  opencv-python-headless matplotlib rich pyyaml pytest)
if ! "$PY" -c "import torch, triton, timm" >/dev/null 2>&1; then
  log "creating $VENV with ${GPU_STACK[*]}"
  python3 -m venv "$VENV"
  "$PY" -m pip install -q "${GPU_STACK[@]}"
fi
"$PY" -c 'import torch, triton; print("[rehearse_gpu] torch",
      torch.__version__, "triton", triton.__version__)'

if ! ls "$ROOT"/.whl/*.whl >/dev/null 2>&1; then
  bash "$ROOT/tools/misc/download_gpu_wheels.sh"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
log "1/2 benchmark_gpu.sh --smoke (Triton interpreted)"
TMPDIR="$WORK" PYTHON="$PY" TRITON_INTERPRET=1 \
  bash "$ROOT/tools/analysis/benchmark_gpu.sh" "$WORK/report" --smoke \
  --device cpu --budget 5000 --batch 1 --channels 4 --layers 2 \
  --resolutions 8 --kernels 3,13 --model-batch 2 --model-size 64 \
  >"$WORK/benchmark.log" 2>&1 || { tail -40 "$WORK/benchmark.log"; exit 1; }
"$PY" - "$WORK/report/gpu_benchmark.json" <<'EOF'
import json
import sys

report = json.load(open(sys.argv[1]))
parts = report['checks']['parts']
bad = [r for r in parts if not r['ok']]
amp = report['checks'].get('amp', [])
problems = []
if bad:
    problems.append(f'{len(bad)}/{len(parts)} part checks failed, e.g. '
                    f'{bad[0]}')
if not amp or not all(r['ok'] for r in amp):
    problems.append(f'AMP steps: {amp or "none ran"}')
if report['skipped']:
    problems.append(f'skipped: {report["skipped"]}')
if not report['models']:
    problems.append('no model measured')
if problems:
    sys.exit('[rehearse_gpu] FAILED: ' + '; '.join(problems))
print(f'[rehearse_gpu] report ok: {len(parts)} part checks, {len(amp)} AMP '
      f'steps, {len(report["grid"])} grid cells, {len(report["models"])} '
      f'model rows')
EOF

log "2/2 op and benchmark tests on this stack"
cd "$ROOT"
PYTHONPATH="$WORK/lkmm-gpu-site:$ROOT" "$PY" -m pytest -q -p no:cacheprovider \
  -m "" tests/test_ops tests/test_analysis/test_gpu_benchmark.py
log "done: the GPU machine's stack runs the benchmark and the kernels"
