"""``tools/analysis/benchmark_oversized_conv.py``: oversized-conv speed,
torch vs spatial vs 1-D FFT, per ParCNetV2 stage
(:mod:`lkmm.analysis.oversized_conv_benchmark`).

Usage::

    python tools/analysis/benchmark_oversized_conv.py [--arch 26m]
        [--resolutions 224,512,1024] [--batch N]
        [--mode forward|forward_backward] [--reps R] [--device cpu|cuda]
        [--out CELLS.json]

Exit status: 0.
"""
import argparse
import json
from dataclasses import asdict
from typing import List, Optional, Sequence

from lkmm.analysis.oversized_conv_benchmark import (
    MODES,
    benchmark_oversized_conv,
    format_oversized_conv_table,
)

from .options import add_device_option, exit_status, int_list

__all__ = ['parse_benchmark_oversized_conv_args',
           'run_benchmark_oversized_conv', 'benchmark_oversized_conv_main']


def parse_benchmark_oversized_conv_args(
        argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Arguments of ``tools/analysis/benchmark_oversized_conv.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``arch``, ``resolutions``, ``batch``, ``mode``,
        ``reps``, ``device``, ``out``.
    """
    parser = argparse.ArgumentParser(
        description='Oversized-conv speed: torch vs spatial (lkmm op) vs '
        '1-D FFT, per ParCNetV2 stage and input resolution')
    parser.add_argument('--arch', default='26m',
                        help='ParCNetV2 arch whose global channels are used')
    parser.add_argument('--resolutions', type=int_list,
                        default=[224, 512, 1024])
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--mode', choices=MODES, default='forward_backward')
    parser.add_argument('--reps', type=int, default=5)
    add_device_option(parser, default='cpu')
    parser.add_argument('--out', help='write the cells as JSON here')
    return parser.parse_args(argv)


def run_benchmark_oversized_conv(args: argparse.Namespace) -> List:
    """Time every stage and resolution, print the table (and write the
    JSON).

    Args:
        args (argparse.Namespace): From
            :func:`parse_benchmark_oversized_conv_args`.

    Returns:
        list: The measured cells.
    """
    cells = benchmark_oversized_conv(args.arch, args.resolutions, args.batch,
                                     args.mode, args.reps, args.device)
    print(format_oversized_conv_table(cells))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([asdict(c) for c in cells], f, indent=1)
    return cells


def benchmark_oversized_conv_main(argv: Optional[Sequence[str]] = None
                                  ) -> int:
    """``tools/analysis/benchmark_oversized_conv.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_benchmark_oversized_conv_args,
                       run_benchmark_oversized_conv, argv)
