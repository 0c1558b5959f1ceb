"""``tools/analysis/benchmark_gpu.py``: lkmm on a GPU, one report
(:mod:`lkmm.analysis.gpu_benchmark`). Needs torch alone.

Usage::

    python tools/analysis/benchmark_gpu.py [--out DIR] [--device cuda]
        [--budget S] [--dtypes fp32,bf16] [--sections checks,grid,...]
        [--smoke] [grid and model shape options]

(``tools/analysis/benchmark_gpu.sh`` installs the carried wheels first.)
Exit status: 0; 2 with one ``error:`` line for bad options or a device
that cannot run; the watchdog's own status when the budget runs out.
"""
import argparse
from typing import Optional, Sequence

from lkmm.analysis.gpu_benchmark.grid import GRID_KERNELS, GRID_RESOLUTIONS
from lkmm.analysis.gpu_benchmark.run import SECTIONS, run_gpu_benchmark

from .options import exit_status, int_list, name_list

__all__ = ['parse_benchmark_gpu_args', 'run_benchmark_gpu',
           'benchmark_gpu_main']


def parse_benchmark_gpu_args(argv: Optional[Sequence[str]] = None
                             ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/benchmark_gpu.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``out``, ``device``, ``budget``, ``dtypes``,
        ``resolutions``, ``kernels``, ``batch``, ``channels``, ``layers``,
        ``model_batch``, ``model_size``, ``sections``, ``smoke``.
    """
    parser = argparse.ArgumentParser(
        description='lkmm on a GPU: kernel checks, RepLKNet Table 1 grid '
        '(torch NCHW / channels-last / FFT / Triton), proposed CUDA plan, '
        'model throughput; one report (markdown + JSON)')
    parser.add_argument('--out', default='work_dirs/gpu_benchmark',
                        help='report folder (default: %(default)s)')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--budget', type=float, default=330.,
                        help='seconds (default: 330; a watchdog writes the '
                        'report and ends the run 10%% later, so it ends '
                        'within 6 minutes)')
    parser.add_argument('--dtypes', type=name_list, default=['fp32', 'bf16'])
    parser.add_argument('--resolutions', type=int_list,
                        default=list(GRID_RESOLUTIONS))
    parser.add_argument('--kernels', type=int_list, default=list(GRID_KERNELS))
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--channels', type=int, default=384)
    parser.add_argument('--layers', type=int, default=24)
    parser.add_argument('--model-batch', type=int, default=64)
    parser.add_argument('--model-size', type=int, default=224)
    parser.add_argument('--sections', type=name_list,
                        default=list(SECTIONS))
    parser.add_argument('--smoke', action='store_true',
                        help='tiny models and shapes: tests the script '
                        'itself (e.g. on a CPU)')
    return parser.parse_args(argv)


def run_benchmark_gpu(args: argparse.Namespace) -> dict:
    """Run the benchmark, printing progress, and write its report.

    Args:
        args (argparse.Namespace): From :func:`parse_benchmark_gpu_args`.

    Returns:
        dict: The report (also written as JSON under ``args.out``).

    Raises:
        ValueError: options outside the allowed values.
        RuntimeError: a device the benchmark cannot run on.
    """
    return run_gpu_benchmark(
        args.out, device=args.device, budget_s=args.budget,
        dtypes=args.dtypes, resolutions=args.resolutions,
        kernels=args.kernels, batch=args.batch, channels=args.channels,
        layers=args.layers, model_batch=args.model_batch,
        model_size=args.model_size, sections=args.sections,
        smoke=args.smoke, log=lambda m: print(m, flush=True))


def benchmark_gpu_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/analysis/benchmark_gpu.py``: bad options and unusable
    devices get one ``error:`` line, not a traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status: 0, or 2 for a ValueError / RuntimeError.
    """
    return exit_status(parse_benchmark_gpu_args, run_benchmark_gpu, argv,
                       errors=(ValueError, RuntimeError), status=2)
