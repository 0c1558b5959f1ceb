#!/usr/bin/env bash
# Do the suite's thresholds hold on any 2-core machine of this kind, busy or
# not? Seeded CPU training is deterministic on one CPU only: AVX2 and AVX-512
# kernels round fp32 differently and the trajectory follows. This runs
#
#   tests  the demo-style tests (classification, segmentation and detection
#          demos, each asserting learning against a threshold) once per
#          variation: this CPU's default kernels, AVX2 kernels forced, torch's
#          depth-wise kernel instead of lkmm's, two other seeds, and a CPU hog
#          beside them; prints each run's figures as a table;
#   demos  the README's demos (tools/run_demo.sh's segmentation run and the
#          classification demo, at their documented sizes) under the same
#          variations, printing the figures the READMEs quote;
#   suite  the whole test suite once with a CPU hog beside it;
#   all    tests, then suite (the default).
#
# Usage: bash tools/misc/check_portability.sh [tests|demos|suite|all]
# Figures go to work_dirs/portability/ (one log per run) and to stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
MODE="${1:-all}"
OUT=work_dirs/portability
mkdir -p "$OUT"
AVX2="ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2"
# name|environment|busy (1: a CPU hog runs beside it)
VARIATIONS=(
  "default||0"
  "avx2|$AVX2|0"
  "torch-dwconv|LKMM_DWCONV_IMPL=torch|0"
  "seed-1|LKMM_TEST_SEED=1|0"
  "seed-2|LKMM_TEST_SEED=2|0"
  "busy||1"
)
DEMO_TESTS=(
  tests/test_cli/test_classification_demo.py::test_classification_demo_learns_and_reports_top1_top5
  tests/test_cli/test_train_test.py::test_demo_learns_and_test_tool_reports_it
  tests/test_cli/test_downstream_runs.py::test_detection_demo_learns
)
HOG=""
start_hog() { python -c 'while True: pass' & HOG=$!; }
stop_hog() { [ -n "$HOG" ] && kill "$HOG" 2>/dev/null; HOG=""; }
trap stop_hog EXIT
FAILED=0

cpu_name() { lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1; }

run_variation() {  # name env busy log -- command...
  local name=$1 vars=$2 busy=$3 log=$4
  shift 5
  [ "$busy" = 1 ] && start_hog
  # shellcheck disable=SC2086
  env $vars "$@" >"$log" 2>&1
  local rc=$?
  stop_hog
  [ $rc = 0 ] || FAILED=1
  return $rc
}

demo_tests() {
  echo "== demo-style tests, one run per variation ($(cpu_name), $(nproc) cores)"
  for v in "${VARIATIONS[@]}"; do
    IFS='|' read -r name vars busy <<<"$v"
    log="$OUT/tests-$name.log"
    if run_variation "$name" "$vars" "$busy" "$log" -- \
        python -m pytest -q -s "${DEMO_TESTS[@]}"; then
      status=passed
    else
      status="FAILED (see $log)"
    fi
    echo "-- $name: $status"
    grep -h '^\[demo figure\]' "$log" | sed 's/^/   /'
  done
}

demo_figures() {
  echo "== README demos, one run per variation ($(cpu_name), $(nproc) cores)"
  python tools/misc/make_demo_data.py --root data/lkmm_shapes >/dev/null
  python tools/misc/make_demo_data.py --task classification --num-train 48 \
    >/dev/null
  for v in "${VARIATIONS[@]}"; do
    IFS='|' read -r name vars busy <<<"$v"
    seed=$(sed -n 's/.*LKMM_TEST_SEED=\([0-9]*\).*/\1/p' <<<"$vars")
    opts=()
    [ -n "$seed" ] && opts=(--cfg-options "randomness.seed=$seed")
    for demo in seg cls; do
      if [ $demo = seg ]; then
        cfg=configs/demo/upernet_replknet-tiny_shapes.py; key=mIoU
      else
        cfg=configs/demo/replknet-tiny_shapes-cls.py; key=accuracy/top1
      fi
      wd="$OUT/demo-$demo-$name"
      rm -rf "$wd"
      log="$wd.log"
      run_variation "$name" "$vars" "$busy" "$log" -- \
        python tools/train.py "$cfg" --work-dir "$wd" "${opts[@]}"
      echo "-- $demo $name: $(grep -o "$key: untrained.*" "$log" | tail -1)"
    done
  done
}

whole_suite() {
  echo "== the whole suite with a CPU hog beside it ($(cpu_name), $(nproc) cores)"
  start_hog
  python -m pytest tests -q 2>&1 | tee "$OUT/suite-busy.log" | tail -3
  [ "${PIPESTATUS[0]}" = 0 ] || FAILED=1
  stop_hog
}

case "$MODE" in
  tests) demo_tests ;;
  demos) demo_figures ;;
  suite) whole_suite ;;
  all) demo_tests; whole_suite ;;
  *) echo "check_portability.sh: unknown mode '$MODE' (allowed: tests, demos, suite, all)" >&2; exit 2 ;;
esac
exit $FAILED
