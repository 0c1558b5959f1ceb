"""``tools/analysis/analyze_erf.py``: the area-ratio table of one or more
contribution matrices written by ``visualize_erf.py``, and one PNG
comparing them (RepLKNet Fig. 1).

Usage::

    python tools/analysis/analyze_erf.py A.npy [B.npy ...] [--names A B]
        [--thresholds T ...] [--out OUT.png]

Exit status: 0; 1 with a message for unreadable or non-2-D matrices.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from lkmm.analysis.erf import ERF_THRESHOLDS, erf_area_ratios, format_erf_table
from lkmm.utils.fileio import atomic_write_bytes

from .options import exit_status
from .visualize_erf import heatmap_png

__all__ = ['parse_analyze_erf_args', 'run_analyze_erf', 'analyze_erf_main']


def parse_analyze_erf_args(argv: Optional[List[str]] = None
                           ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/analyze_erf.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``matrices``, ``names``, ``thresholds``,
        ``out``.
    """
    parser = argparse.ArgumentParser(
        description='ERF table (smallest centred square holding t of the '
        'scaled contribution) of contribution matrices, side by side')
    parser.add_argument('matrices', nargs='+', help='.npy files')
    parser.add_argument('--names', nargs='+',
                        help='row names (default: the file names)')
    parser.add_argument('--thresholds', type=float, nargs='+',
                        default=list(ERF_THRESHOLDS),
                        help='default: 0.2 0.3 0.5 0.99')
    parser.add_argument('--out', help='PNG comparing the heatmaps')
    return parser.parse_args(argv)


def run_analyze_erf(args: argparse.Namespace) -> Dict[str, List[dict]]:
    """Print the table (and write the PNG).

    Args:
        args (argparse.Namespace): From :func:`parse_analyze_erf_args`.

    Returns:
        dict[str, list[dict]]: The area-ratio rows by name.

    Raises:
        SystemExit: a matrix that cannot be read or is not 2-D, or names
            that do not match the matrices.
    """
    names = args.names or [osp.splitext(osp.basename(p))[0]
                           for p in args.matrices]
    if len(names) != len(args.matrices):
        raise SystemExit(f'analyze_erf: {len(names)} --names for '
                         f'{len(args.matrices)} matrices')
    matrices = []
    for path in args.matrices:
        try:
            matrix = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise SystemExit(f'analyze_erf: cannot read {path}: {err}')
        if matrix.ndim != 2:
            raise SystemExit(f'analyze_erf: {path} holds a {matrix.ndim}-D '
                             'array, not a contribution matrix (H, W)')
        matrices.append(matrix)
    try:
        rows = {n: erf_area_ratios(m, args.thresholds)
                for n, m in zip(names, matrices)}
    except ValueError as err:
        raise SystemExit(f'analyze_erf: {err}')
    print(format_erf_table(rows), flush=True)
    if args.out:
        atomic_write_bytes(heatmap_png(matrices, names), args.out)
        print(f'wrote {args.out}', flush=True)
    return rows


def analyze_erf_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/analyze_erf.py``; bad input exits with a message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_analyze_erf_args, run_analyze_erf, argv)
