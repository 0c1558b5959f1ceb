#!/usr/bin/env bash
# The test suite, on a fresh machine: install (if needed), then pytest.
# Usage: bash tools/run_tests.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh --dev
# Lint first (ruff.toml): a finding fails the run, as in CI.
python -m ruff check .
python -m pytest tests -q "$@"
