"""The command-line layer: one module per script under ``tools/``, each with
its argument parser and ``*_main(argv)``. The scripts call these; the logic
they run lives in the rest of the package.

Nothing is imported here, so that ``tools/analysis/benchmark_gpu.py`` runs
with torch alone.
"""
