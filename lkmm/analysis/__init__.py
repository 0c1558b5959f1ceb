from .benchmark import (BenchmarkResult, TrainDeployComparison,
                        benchmark_model, compare_train_vs_deploy,
                        format_benchmark_table)
from .complexity import (inference_complexity, sparse_complexity,
                         to_inference_form)

__all__ = [
    'inference_complexity', 'sparse_complexity', 'to_inference_form',
    'BenchmarkResult', 'TrainDeployComparison', 'benchmark_model',
    'compare_train_vs_deploy', 'format_benchmark_table'
]
