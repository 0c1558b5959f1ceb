"""``tools/analysis/benchmark_oversized_conv.py``: oversized-conv speed,
torch vs spatial vs 1-D FFT, per ParCNetV2 stage
(:mod:`lkmm.analysis.oversized_conv_benchmark`)."""
import argparse
import json
from dataclasses import asdict
from typing import Optional, Sequence

from lkmm.analysis.oversized_conv_benchmark import (
    MODES,
    benchmark_oversized_conv,
    format_oversized_conv_table,
)

from .options import add_device_option, int_list


def parse_args(argv=None):
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


def benchmark_oversized_conv_main(argv: Optional[Sequence[str]] = None
                                  ) -> int:
    args = parse_args(argv)
    cells = benchmark_oversized_conv(args.arch, args.resolutions, args.batch,
                                     args.mode, args.reps, args.device)
    print(format_oversized_conv_table(cells))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([asdict(c) for c in cells], f, indent=1)
    return 0
