#!/usr/bin/env bash
# Do the suite's thresholds hold on any 2-core machine of this kind, busy or
# not? Seeded CPU training is deterministic on one CPU only: AVX2 and AVX-512
# kernels round fp32 differently and the trajectory follows. This runs
#
#   tests  the demo-style tests (classification, segmentation and detection
#          demos, each asserting learning against a threshold) once per
#          variation: this CPU's default kernels, AVX2 kernels forced, torch's
#          depth-wise kernel instead of lkmm's, two other seeds; prints each
#          run's figures;
#   demos  the README's demos (tools/run_demo.sh's segmentation run and the
#          Cityscapes demo at their documented sizes; the classification
#          demo is the test's) under the same variations, printing the
#          figures the READMEs quote;
#   suite  the whole test suite once with a CPU hog beside it (load changes
#          timings, not the figures: the same kernels round the same way);
#   all    tests, then suite (the default).
#
# Usage: bash tools/misc/check_portability.sh [tests|demos|suite|all]
#            [VARIATION ...]
#   VARIATIONs (default: all): default avx2 torch-dwconv seed-1 seed-2.
#   LKMM_CHECK_K=EXPR selects demo tests by pytest's -k (e.g. classification).
# Figures go to work_dirs/portability/ (one log per run) and to stdout.
set -uo pipefail
cd "$(dirname "$0")/../.."
MODE="${1:-all}"
[ "$#" -gt 0 ] && shift
ONLY=("$@")
OUT=work_dirs/portability
mkdir -p "$OUT"
AVX2="ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2"
# name|environment
VARIATIONS=(
  "default|"
  "avx2|$AVX2"
  "torch-dwconv|LKMM_DWCONV_IMPL=torch"
  "seed-1|LKMM_TEST_SEED=1"
  "seed-2|LKMM_TEST_SEED=2"
)
selected() {  # is variation $1 among those asked for?
  [ "${#ONLY[@]}" = 0 ] && return 0
  local v
  for v in "${ONLY[@]}"; do [ "$v" = "$1" ] && return 0; done
  return 1
}
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

run_variation() {  # env log -- command...
  local vars=$1 log=$2
  shift 3
  # shellcheck disable=SC2086
  env $vars "$@" >"$log" 2>&1
  local rc=$?
  [ $rc = 0 ] || FAILED=1
  return $rc
}

demo_tests() {
  echo "== demo-style tests, one run per variation ($(cpu_name), $(nproc) cores)"
  local k=()
  [ -n "${LKMM_CHECK_K:-}" ] && k=(-k "$LKMM_CHECK_K")
  for v in "${VARIATIONS[@]}"; do
    IFS='|' read -r name vars <<<"$v"
    selected "$name" || continue
    log="$OUT/tests-$name${LKMM_CHECK_K:+-$LKMM_CHECK_K}.log"
    if run_variation "$vars" "$log" -- \
        python -m pytest -q -s "${k[@]}" "${DEMO_TESTS[@]}"; then
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
  python tools/misc/make_demo_data.py --task cityscapes >/dev/null
  for v in "${VARIATIONS[@]}"; do
    IFS='|' read -r name vars <<<"$v"
    selected "$name" || continue
    seed=$(sed -n 's/.*LKMM_TEST_SEED=\([0-9]*\).*/\1/p' <<<"$vars")
    opts=()
    [ -n "$seed" ] && opts=(--cfg-options "randomness.seed=$seed")
    for demo in upernet_replknet-tiny_shapes \
        upernet_replknet-tiny_shapes-cityscapes; do
      wd="$OUT/demo-$demo-$name"
      rm -rf "$wd"
      log="$wd.log"
      run_variation "$vars" "$log" -- \
        python tools/train.py "configs/demo/$demo.py" --work-dir "$wd" \
        "${opts[@]}"
      echo "-- $demo $name: $(grep -o "mIoU: untrained.*" "$log" | tail -1)"
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
