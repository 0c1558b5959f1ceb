"""lkmm on a GPU: kernel checks, RepLKNet Table 1 grid (torch NCHW /
channels-last / FFT / Triton), proposed CUDA plan rules, model throughput.

Usage: python tools/analysis/benchmark_gpu.py [--out DIR] [--budget S]
           [--dtypes fp32,bf16] [--resolutions 16,32,64] [--kernels ...]
           [--sections checks,grid,amp,models] [--smoke --device cpu]

On a bare GPU machine run ``bash tools/analysis/benchmark_gpu.sh`` instead
(it installs the carried wheels first). See ``-h``; the logic lives in
:mod:`lkmm.cli.benchmark_gpu`.
"""
import os.path as osp
import sys

# Runs from a plain checkout too (a GPU machine without lkmm installed).
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(
    __file__)))))

from lkmm.cli.benchmark_gpu import benchmark_gpu_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(benchmark_gpu_main())
