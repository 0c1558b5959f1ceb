#!/usr/bin/env bash
# Install lkmm and its OpenMMLab stack into the current Python environment.
#
# Idempotent: when everything is already installed this takes a few seconds.
# mmcv 2.1.0 has no wheel for current torch, so it is built from its sdist with
# compiled ops (CPU; CUDA too when nvcc and a GPU are present). The built wheel is
# cached under $LKMM_CACHE (default ~/.cache/lkmm), keyed by mmcv, torch and
# python versions, so a second install on the same machine skips the ~10 minute build.
#
# Usage: bash tools/install.sh [--dev]   (--dev also installs the test and deploy
# requirements: pytest, ruff, onnx, onnxruntime, onnxscript)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python}"
PIP=("$PY" -m pip --disable-pip-version-check)
CACHE="${LKMM_CACHE:-$HOME/.cache/lkmm}"
MMCV_VERSION="2.1.0"
MMCV_SHA256="d387bcab66b467479b6660310e23746cfc79c6e57acf04094680adb499a5cd3f"
DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    *) echo "install.sh: unknown argument '$arg' (allowed: --dev)" >&2; exit 2 ;;
  esac
done

log() { echo "[lkmm install] $*"; }

# 1. torch + torchvision: the registry's standard builds (they also run on CPU).
if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  log "installing torch + torchvision"
  "${PIP[@]}" install -q -r "$ROOT/requirements/torch.txt"
fi

# 2. mmcv with compiled ops, from a cached wheel or built once from the sdist.
mmcv_ok() {
  "$PY" - "$MMCV_VERSION" <<'PY' >/dev/null 2>&1
import sys
import mmcv
from mmcv.ops import nms  # noqa: F401  (fails when the compiled ops are missing)
sys.exit(0 if mmcv.__version__ == sys.argv[1] else 1)
PY
}
if ! mmcv_ok; then
  KEY="$("$PY" -c "import sys, torch; print(f'torch{torch.__version__.split(\"+\")[0]}-py{sys.version_info[0]}{sys.version_info[1]}')")"
  WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-$KEY"
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION with ops for $KEY (about 10 minutes on 2 cores, done once)"
    # mmcv's setup.py imports pkg_resources, which setuptools >= 81 no longer ships.
    "${PIP[@]}" install -q "setuptools<81" wheel ninja psutil
    "$PY" "$ROOT/tools/misc/build_mmcv_wheel.py" --version "$MMCV_VERSION" \
      --sha256 "$MMCV_SHA256" --out "$WHEEL_DIR"
  else
    log "using cached mmcv wheel from $WHEEL_DIR"
  fi
  # --force-reinstall replaces an mmcv without ops; the second call pulls
  # mmcv's own runtime dependencies.
  "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
  "${PIP[@]}" install -q "$WHEEL_DIR"/mmcv-*.whl
  mmcv_ok || { log "mmcv $MMCV_VERSION with ops failed to import after install" >&2; exit 1; }
fi

# 3. The rest of the stack and lkmm itself (editable, so configs/ and tools/ stay in place).
# lkmm must resolve to this checkout (another clone may be installed).
lkmm_here() {
  (cd / && "$PY" - "$ROOT" <<'PY' >/dev/null 2>&1)
import os, sys
import lkmm, mmpretrain, mmseg, mmdet, timm  # noqa: F401
here = os.path.realpath(os.path.join(sys.argv[1], 'lkmm'))
sys.exit(0 if os.path.realpath(os.path.dirname(lkmm.__file__)) == here else 1)
PY
}
if ! lkmm_here; then
  log "installing the OpenMMLab stack and lkmm"
  "${PIP[@]}" install -q -r "$ROOT/requirements.txt"
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
fi
# --dev: the test requirements and the deploy extra (the ONNX export tests
# need onnx, onnxruntime and onnxscript); skipped when all of them import.
dev_ready() {
  "$PY" -c "import pytest, onnx, onnxruntime, onnxscript" >/dev/null 2>&1 &&
    "$PY" -m ruff --version >/dev/null 2>&1
}
if [ "$DEV" = 1 ] && ! dev_ready; then
  log "installing the test and deploy requirements"
  "${PIP[@]}" install -q -r "$ROOT/requirements/tests.txt" -r "$ROOT/requirements/deploy.txt"
fi
log "ready: $("$PY" -c 'import torch, mmcv, mmengine, mmpretrain, mmseg, mmdet, timm, lkmm; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmpretrain {mmpretrain.__version__}, mmseg {mmseg.__version__}, mmdet {mmdet.__version__}, timm {timm.__version__}, lkmm {lkmm.__version__}")')"
