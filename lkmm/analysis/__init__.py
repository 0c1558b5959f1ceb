"""Params/FLOPs as the papers count them, throughput benchmarks.

The counting and CPU benchmark modules need mmengine; the GPU benchmark
(:mod:`lkmm.analysis.gpu_benchmark`) runs its kernel grid with torch alone.
"""
import importlib.util

__all__ = []
if importlib.util.find_spec('mmengine') is not None:
    from .benchmark import (
        BenchmarkResult,
        TrainDeployComparison,
        benchmark_model,
        compare_train_vs_deploy,
        format_benchmark_table,
    )
    from .complexity import (
        extrapolated_flops,
        inference_complexity,
        sparse_complexity,
        to_deploy_form,
    )

    __all__ += [
        'inference_complexity', 'extrapolated_flops', 'sparse_complexity',
        'to_deploy_form',
        'BenchmarkResult', 'TrainDeployComparison', 'benchmark_model',
        'compare_train_vs_deploy', 'format_benchmark_table'
    ]
