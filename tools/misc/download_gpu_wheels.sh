#!/usr/bin/env bash
# Fill .whl/ (git-ignored) with what tools/analysis/benchmark_gpu.sh needs on
# a GPU machine that has torch, triton and timm but no OpenMMLab packages and
# no network: mmengine, mmcv's Python part (mmcv-lite: lkmm's backbones need
# no compiled op) and their small pure-Python dependencies. About 1.5 MB.
#
# Usage: bash tools/misc/download_gpu_wheels.sh [PYTHON_VERSION]
#   PYTHON_VERSION of the GPU machine, default 3.12.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYV="${1:-3.12}"
DEST="$ROOT/.whl"
mkdir -p "$DEST"
python -m pip download -q --no-deps --only-binary=:all: \
  --python-version "$PYV" --implementation cp --platform any \
  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  -d "$DEST" mmengine==0.10.7 mmcv-lite==2.1.0 addict yapf termcolor \
  platformdirs
ls -l "$DEST"
