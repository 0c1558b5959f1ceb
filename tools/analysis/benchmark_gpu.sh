#!/usr/bin/env bash
# The one prepared GPU benchmark command (issue 13): on a bare GPU machine
# (torch, triton, timm; no OpenMMLab packages, no network) install the
# wheels carried in .whl/ (tools/misc/download_gpu_wheels.sh fills it) into a
# private folder, then run tools/analysis/benchmark_gpu.py.
#
# Usage: bash tools/analysis/benchmark_gpu.sh [OUT_DIR] [benchmark options]
#   OUT_DIR defaults to $OUT (the device tool's result folder) or
#   work_dirs/gpu_benchmark. Writes gpu_benchmark.md, gpu_benchmark.json and
#   proposed_cuda_rules.json there. Budget: 330 s (--budget to change);
#   a watchdog writes the report and ends the run 10% past it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${PYTHON:-python3}"
OUT_DIR="${1:-${OUT:-$ROOT/work_dirs/gpu_benchmark}}"
[ "$#" -gt 0 ] && shift

if ! "$PY" -c "import mmengine, mmcv" >/dev/null 2>&1; then
  if ls "$ROOT"/.whl/*.whl >/dev/null 2>&1; then
    SITE="${TMPDIR:-/tmp}/lkmm-gpu-site"
    echo "[benchmark_gpu] installing carried wheels into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile \
      --no-cache-dir --upgrade --target "$SITE" "$ROOT"/.whl/*.whl
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "[benchmark_gpu] no mmengine/mmcv and no .whl/ folder: the AMP and" \
      "model sections will be skipped (run tools/misc/download_gpu_wheels.sh" \
      "where there is network, and carry .whl/)"
  fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
"$PY" -c 'import torch; print("[benchmark_gpu] torch", torch.__version__,
      "cuda", torch.version.cuda, "devices", torch.cuda.device_count())'
exec "$PY" "$ROOT/tools/analysis/benchmark_gpu.py" --out "$OUT_DIR" "$@"
