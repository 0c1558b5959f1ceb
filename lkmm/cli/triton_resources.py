"""``tools/analysis/triton_resources.py``: registers, spills, shared memory
and useful work of every Triton tile config, compiled for sm_90 on any
machine (:mod:`lkmm.analysis.triton_resources`).

Usage::

    python tools/analysis/triton_resources.py [--dtypes fp32,bf16]
        [--out ROWS.json]

Exit status: 0; 2 with one ``error:`` line for an unknown dtype.
"""
import argparse
import json
from typing import List, Optional, Sequence

from lkmm.analysis.triton_resources import format_resources, tile_resources

from .options import exit_status, name_list

__all__ = ['parse_triton_resources_args', 'run_triton_resources',
           'triton_resources_main']


def parse_triton_resources_args(argv: Optional[Sequence[str]] = None
                                ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/triton_resources.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``dtypes``, ``out``.
    """
    parser = argparse.ArgumentParser(
        description='Compile every tile config of lkmm\'s Triton depth-wise '
        'kernels for sm_90 (no GPU needed) and print registers, spills, '
        'shared memory and the useful fraction of the issued multiply-adds '
        'on RepLKNet Table 1\'s (64, 384, 32, 32) K=31 layer')
    parser.add_argument('--dtypes', type=name_list, default=['fp32', 'bf16'],
                        help='tensor dtypes (fp32, fp16, bf16)')
    parser.add_argument('--out', help='write the rows as JSON here')
    return parser.parse_args(argv)


def run_triton_resources(args: argparse.Namespace) -> List:
    """Compile every tile config, print the table (and write the JSON).

    Args:
        args (argparse.Namespace): From :func:`parse_triton_resources_args`.

    Returns:
        list[TileResources]: One row per kernel, dtype and tile config.

    Raises:
        ValueError: a dtype other than fp32, fp16 and bf16.
    """
    bad = [d for d in args.dtypes if d not in ('fp32', 'fp16', 'bf16')]
    if bad:
        raise ValueError(f'dtypes must be among fp32, fp16, bf16; got {bad}')
    rows = tile_resources(args.dtypes, log=print)
    print(format_resources(rows))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([r.to_dict() for r in rows], f, indent=1)
    return rows


def triton_resources_main(argv: Optional[Sequence[str]] = None) -> int:
    """``tools/analysis/triton_resources.py``: an unknown dtype gets one
    ``error:`` line, not a traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status: 0, or 2 for an unknown dtype.
    """
    return exit_status(parse_triton_resources_args, run_triton_resources,
                       argv, errors=(ValueError, ), status=2)
