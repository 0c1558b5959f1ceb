"""The GPU benchmark (``tools/analysis/benchmark_gpu.sh``): kernel checks,
RepLKNet Table 1's grid for every implementation, CUDA plan rules proposed
from it, and model throughput, in one report. The grid needs torch alone."""
from .grid import GRID_KERNELS, GRID_RESOLUTIONS, GridCell
from .rules import propose_rules
from .run import run_gpu_benchmark

__all__ = [
    'GRID_KERNELS', 'GRID_RESOLUTIONS', 'GridCell', 'propose_rules',
    'run_gpu_benchmark'
]
