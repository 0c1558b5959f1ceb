"""The command-line layer: one module per script under ``tools/``. For a
tool ``tools/.../X.py``: ``parse_X_args(argv)`` (its options),
``run_X(args)`` (the work; returns what the tests check: a dict, list,
array or Runner; the converters' is ``convert(args)``) and
``X_main(argv) -> int`` (the exit status; the script is
``sys.exit(X_main())``). The logic they run lives in the rest of the
package.

Nothing is imported here, so that ``tools/analysis/benchmark_gpu.py`` runs
with torch alone.
"""
