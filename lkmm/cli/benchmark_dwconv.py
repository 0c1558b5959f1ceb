"""``tools/analysis/benchmark_dwconv.py``: depth-wise KxK convolution speed,
torch vs lkmm, in the layout of RepLKNet Table 1
(:mod:`lkmm.analysis.dwconv_benchmark`).

Usage::

    python tools/analysis/benchmark_dwconv.py [--kernels 3,5,...]
        [--resolutions 16,32,64] [--batch N] [--channels C] [--layers L]
        [--modes forward,forward_backward] [--device cpu|cuda]
        [--dtype fp32|fp16|bf16] [--reps R] [--warmup W] [--out CELLS.json]

Exit status: 0; 2 with one ``error:`` line for bad modes or kernels, an
unavailable CUDA device or a grid that cannot be run.
"""
import argparse
import json
from typing import List, Optional, Sequence

import torch

from lkmm.analysis.dwconv_benchmark import (
    DTYPES,
    MODES,
    PAPER_KERNELS,
    PAPER_RESOLUTIONS,
    benchmark_dwconv_grid,
    format_dwconv_tables,
)

from .options import add_device_option, exit_status, int_list

__all__ = ['parse_benchmark_dwconv_args', 'run_benchmark_dwconv',
           'benchmark_dwconv_main']


def parse_benchmark_dwconv_args(argv: Optional[Sequence[str]] = None
                                ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/benchmark_dwconv.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``kernels``, ``resolutions``, ``batch``,
        ``channels``, ``layers``, ``modes``, ``device``, ``dtype``,
        ``reps``, ``warmup``, ``out``.
    """
    parser = argparse.ArgumentParser(
        description='Depth-wise KxK convolution speed, torch vs lkmm, in the '
        'layout of RepLKNet Table 1 (both measured in the same run)')
    parser.add_argument('--kernels', type=int_list,
                        default=list(PAPER_KERNELS),
                        help='comma-separated odd kernel sizes '
                        '(default: Table 1: 3,5,7,9,13,17,21,27,29,31)')
    parser.add_argument('--resolutions', type=int_list,
                        default=list(PAPER_RESOLUTIONS),
                        help='comma-separated R (default: 16,32,64)')
    parser.add_argument('--batch', type=int, default=8,
                        help='N (paper: 64; default: 8)')
    parser.add_argument('--channels', type=int, default=384,
                        help='C (default: 384, as the paper)')
    parser.add_argument('--layers', type=int, default=1,
                        help='depth of the stack (paper: 24; default: 1)')
    parser.add_argument('--modes', default='forward,forward_backward',
                        help='comma-separated subset of forward, '
                        'forward_backward (default: both)')
    add_device_option(parser, default='cpu')
    parser.add_argument('--dtype', default='fp32', choices=sorted(DTYPES))
    parser.add_argument('--reps', type=int, default=3,
                        help='timed rounds per implementation (median)')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--out', help='also write the cells as JSON here')
    return parser.parse_args(argv)


def run_benchmark_dwconv(args: argparse.Namespace) -> List:
    """Time the grid, print the tables (and write the JSON).

    Args:
        args (argparse.Namespace): From :func:`parse_benchmark_dwconv_args`.

    Returns:
        list[DWConvCell]: The measured cells.

    Raises:
        ValueError: bad ``--modes`` or ``--kernels``, CUDA requested but
            unavailable, or a grid the benchmark cannot run.
    """
    modes = [m.strip() for m in args.modes.split(',') if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f'--modes must be a subset of {", ".join(MODES)}, '
                         f'got {args.modes!r}')
    bad = [k for k in args.kernels if k < 1 or k % 2 != 1]
    if bad or not args.kernels:
        raise ValueError(f'--kernels must be positive odd sizes, got {bad}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError('--device cuda requested but CUDA is not available')
    cells = benchmark_dwconv_grid(
        kernels=args.kernels, resolutions=args.resolutions, modes=modes,
        batch=args.batch, channels=args.channels, layers=args.layers,
        device=args.device, dtype=DTYPES[args.dtype], reps=args.reps,
        warmup=args.warmup)
    print(f'\ndepth-wise conv stack: {args.layers} layer(s), input '
          f'({args.batch}, {args.channels}, R, R), {args.dtype}, '
          f'{args.device}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    print(format_dwconv_tables(cells))
    if args.out:
        from lkmm.utils.fileio import atomic_write_bytes
        atomic_write_bytes(
            json.dumps([c.to_dict() for c in cells], indent=1).encode(),
            args.out)
        print(f'cells written to {args.out}')
    return cells


def benchmark_dwconv_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/analysis/benchmark_dwconv.py``: bad input gets one
    ``error:`` line, not a traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status: 0, or 2 for the failures
        :func:`run_benchmark_dwconv` raises as ValueError.
    """
    return exit_status(parse_benchmark_dwconv_args, run_benchmark_dwconv,
                       argv, errors=(ValueError, ), status=2)
