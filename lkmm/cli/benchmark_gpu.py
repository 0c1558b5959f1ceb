"""``tools/analysis/benchmark_gpu.py``: lkmm on a GPU, one report
(:mod:`lkmm.analysis.gpu_benchmark`). Needs torch alone."""
import argparse
import sys
from typing import Optional, Sequence

from lkmm.analysis.gpu_benchmark.grid import GRID_KERNELS, GRID_RESOLUTIONS
from lkmm.analysis.gpu_benchmark.run import SECTIONS, run_gpu_benchmark

from .options import int_list, name_list


def parse_args(argv=None):
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


def gpu_benchmark_main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry of ``tools/analysis/benchmark_gpu.py``."""
    args = parse_args(argv)
    try:
        run_gpu_benchmark(
            args.out, device=args.device, budget_s=args.budget,
            dtypes=args.dtypes, resolutions=args.resolutions,
            kernels=args.kernels, batch=args.batch, channels=args.channels,
            layers=args.layers, model_batch=args.model_batch,
            model_size=args.model_size, sections=args.sections,
            smoke=args.smoke, log=lambda m: print(m, flush=True))
    except (ValueError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0
