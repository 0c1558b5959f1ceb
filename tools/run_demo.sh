#!/usr/bin/env bash
# The demo, on a fresh machine: install (if needed), generate the shapes
# dataset, train RepLKNet-tiny + UperNet on CPU, then evaluate it.
# Usage: bash tools/run_demo.sh [extra train.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
CONFIG=configs/demo/upernet_replknet-tiny_shapes.py
WORK_DIR=work_dirs/demo
python tools/misc/make_demo_data.py --root data/lkmm_shapes
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
python tools/test.py "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR"
