"""``tools/analysis/triton_resources.py``: registers, spills, shared memory
and useful work of every Triton tile config, compiled for sm_90 on any
machine (:mod:`lkmm.analysis.triton_resources`)."""
import argparse
import json
from typing import Optional, Sequence

from lkmm.analysis.triton_resources import format_resources, tile_resources

from .options import name_list


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compile every tile config of lkmm\'s Triton depth-wise '
        'kernels for sm_90 (no GPU needed) and print registers, spills, '
        'shared memory and the useful fraction of the issued multiply-adds '
        'on RepLKNet Table 1\'s (64, 384, 32, 32) K=31 layer')
    parser.add_argument('--dtypes', type=name_list, default=['fp32', 'bf16'],
                        help='tensor dtypes (fp32, fp16, bf16)')
    parser.add_argument('--out', help='write the rows as JSON here')
    return parser.parse_args(argv)


def triton_resources_main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry; returns the exit status."""
    args = parse_args(argv)
    bad = [d for d in args.dtypes if d not in ('fp32', 'fp16', 'bf16')]
    if bad:
        print(f'error: dtypes must be among fp32, fp16, bf16; got {bad}')
        return 2
    rows = tile_resources(args.dtypes, log=print)
    print(format_resources(rows))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([r.to_dict() for r in rows], f, indent=1)
    return 0
