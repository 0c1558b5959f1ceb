"""``tools/analysis/benchmark_dwconv.py``: depth-wise KxK convolution speed,
torch vs lkmm, in the layout of RepLKNet Table 1
(:mod:`lkmm.analysis.dwconv_benchmark`)."""
import argparse
import json
import sys
from typing import Optional, Sequence

import torch

from lkmm.analysis.dwconv_benchmark import (
    DTYPES,
    MODES,
    PAPER_KERNELS,
    PAPER_RESOLUTIONS,
    benchmark_dwconv_grid,
    format_dwconv_tables,
)

from .options import add_device_option, int_list


def parse_args(argv=None):
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


def benchmark_dwconv_main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry of ``tools/analysis/benchmark_dwconv.py``."""
    args = parse_args(argv)
    modes = [m.strip() for m in args.modes.split(',') if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        print(f'error: --modes must be a subset of {", ".join(MODES)}, '
              f'got {args.modes!r}', file=sys.stderr)
        return 2
    bad = [k for k in args.kernels if k < 1 or k % 2 != 1]
    if bad or not args.kernels:
        print(f'error: --kernels must be positive odd sizes, got {bad}',
              file=sys.stderr)
        return 2
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        print('error: --device cuda requested but CUDA is not available',
              file=sys.stderr)
        return 2
    try:
        cells = benchmark_dwconv_grid(
            kernels=args.kernels, resolutions=args.resolutions, modes=modes,
            batch=args.batch, channels=args.channels, layers=args.layers,
            device=args.device, dtype=DTYPES[args.dtype], reps=args.reps,
            warmup=args.warmup)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
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
    return 0
