"""``tools/analysis/kernel_scaling.py``: parameters of a ConvNeXt-layout
model whose stage kernels are all K, per large-kernel form (PeLK Fig. 6);
the counting is :mod:`lkmm.analysis.kernel_scaling`'s.

Usage::

    python tools/analysis/kernel_scaling.py [CONFIG] [--kernels 7,31,...]
        [--forms dense,stripe,...] [--centre-size N] [--out PLOT.png]
        [--json COUNTS.json] [--cfg-options ...]

Exit status: 0; 1 with a message for bad options or a config without an
lkmm.LargeKernelConvNeXt backbone.
"""
import argparse
import json
import logging
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.logging import MMLogger

from lkmm.analysis.kernel_scaling import (
    SCALING_FORMS,
    SCALING_KERNEL_SIZES,
    KernelScalingRow,
    format_kernel_scaling_table,
    kernel_scaling,
)
from lkmm.engine.runner import load_config
from lkmm.utils.fileio import atomic_write_bytes
from lkmm.utils.plotting import figure_png, pyplot

from .options import add_cfg_options_option, exit_status, int_list, name_list

__all__ = ['parse_kernel_scaling_args', 'run_kernel_scaling',
           'kernel_scaling_main', 'scaling_png']

#: ConvNeXt-T (3-3-9-3 blocks, widths 96-768, 1000-class head) with lkmm's
#: large-kernel blocks: the model PeLK Fig. 6 scales. Relative to the
#: repository root (or the working directory).
DEFAULT_CONFIG = osp.join('configs', 'pelk',
                          'convnext-31-t_32xb64-120e_in1k.py')
_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_kernel_scaling_args(argv: Optional[List[str]] = None
                              ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/kernel_scaling.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``kernels``, ``forms``,
        ``centre_size``, ``out``, ``json``, ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Model parameters against kernel size, dense vs stripe '
        'vs peripheral (PeLK Fig. 6): every stage kernel set to K, the real '
        'model built and counted (training form)')
    parser.add_argument(
        'config', nargs='?', default=DEFAULT_CONFIG,
        help='config whose model has an lkmm.LargeKernelConvNeXt backbone; '
        'its arch gives depths and widths (default: ConvNeXt-T, '
        f'{DEFAULT_CONFIG})')
    parser.add_argument(
        '--kernels', type=int_list,
        default=list(SCALING_KERNEL_SIZES),
        help='comma-separated odd kernel sizes >= 3 (default: ' +
        ','.join(map(str, SCALING_KERNEL_SIZES)) + ')')
    parser.add_argument(
        '--forms', type=name_list, default=list(SCALING_FORMS),
        help='comma-separated forms among ' + ', '.join(SCALING_FORMS) +
        ' (default: all)')
    parser.add_argument(
        '--centre-size', type=int,
        help='fixed fine-grained centre of the peripheral kernels (default: '
        '5x5 up to K=99, 7x7 from 101, 9x9 from 151, as lkmm\'s PeLK, '
        'PeLK-101 and PeLK-151 configs)')
    parser.add_argument('--out', help='PNG: params against K, log scale')
    parser.add_argument('--json', help='JSON file with every count')
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def scaling_png(rows: Sequence[KernelScalingRow]) -> bytes:
    """PNG bytes: model params (left) and large-kernel params per channel
    (right) against K, one line per form, log-scaled params."""
    plt = pyplot()
    from matplotlib.ticker import ScalarFormatter
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for form in dict.fromkeys(r.form for r in rows):
        mine = sorted((r for r in rows if r.form == form),
                      key=lambda r: r.kernel_size)
        kernels = [r.kernel_size for r in mine]
        left.plot(kernels, [r.params / 1e6 for r in mine], marker='o',
                  label=form)
        if form != 'peripheral+pe':  # same kernel weights as peripheral
            right.plot(kernels, [r.kernel_params_per_channel for r in mine],
                       marker='o', label=form)
    left.set_ylabel('model parameters (M), training form')
    right.set_ylabel('large-kernel parameters per channel and layer')
    for ax in (left, right):
        ax.set_yscale('log')
        ax.set_xlabel('kernel size K (all stages)')
        ax.grid(True, which='both', alpha=.3)
        ax.legend(fontsize=8)
    left.yaxis.set_major_formatter(ScalarFormatter())
    left.yaxis.set_minor_formatter(ScalarFormatter())
    fig.suptitle('Kernel scaling (PeLK Fig. 6)', fontsize=10)
    fig.tight_layout()
    return figure_png(fig)


def run_kernel_scaling(args: argparse.Namespace) -> List[KernelScalingRow]:
    """Build and count every model, print the table, write PNG / JSON.

    Args:
        args (argparse.Namespace): From :func:`parse_kernel_scaling_args`.

    Returns:
        list[KernelScalingRow]: The counts.

    Raises:
        SystemExit: bad ``--forms`` / ``--kernels`` / ``--centre-size``, a
            missing config or one the forms cannot be built from.
    """
    bad = [f for f in args.forms if f not in SCALING_FORMS]
    if bad or not args.forms:
        raise SystemExit(f'kernel_scaling: --forms takes names among '
                         f'{", ".join(SCALING_FORMS)}; got '
                         f'{",".join(args.forms) or "nothing"}')
    bad = [k for k in args.kernels if k < 3 or k % 2 == 0]
    if bad or not args.kernels:
        raise SystemExit('kernel_scaling: --kernels must be odd sizes >= 3, '
                         f'got {",".join(map(str, args.kernels)) or "none"}')
    if args.centre_size is not None and (
            args.centre_size < 1 or args.centre_size % 2 == 0):
        raise SystemExit('kernel_scaling: --centre-size must be a positive '
                         f'odd int, got {args.centre_size}')
    if args.config == DEFAULT_CONFIG and not osp.isfile(args.config):
        args.config = osp.join(_REPO, DEFAULT_CONFIG)  # run from elsewhere
    try:
        cfg = load_config(args.config, args.cfg_options, work_dir='')
    except FileNotFoundError as err:
        raise SystemExit(f'kernel_scaling: {err}')

    def progress(i, total, row):
        grid = '' if row.sharing_grid is None else \
            f', half grid {row.sharing_grid}'
        print(f'[{i}/{total}] {row.form} K={row.kernel_size}: '
              f'{row.params / 1e6:.2f}M params, '
              f'{row.kernel_params_per_channel} kernel params per channel'
              f'{grid} ({row.build_s:.1f} s)', flush=True)

    print(f'building {len(args.forms) * len(args.kernels)} models from '
          f'{args.config} (training form, parameters only)', flush=True)
    # mmpretrain's data preprocessor logs a line per build (batch
    # augmentations switch on one-hot labels): keep the progress readable.
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        rows = kernel_scaling(cfg, args.kernels, args.forms,
                              centre_size=args.centre_size,
                              progress=progress)
    except ValueError as err:
        raise SystemExit(f'kernel_scaling: {err}')
    finally:
        logger.setLevel(level)
    print(format_kernel_scaling_table(rows), flush=True)
    if args.out:
        atomic_write_bytes(scaling_png(rows), args.out)
        print(f'wrote {args.out}', flush=True)
    if args.json:
        report = dict(config=args.config, counted='training form',
                      kernel_sizes=args.kernels, forms=args.forms,
                      rows=[r.to_dict() for r in rows])
        atomic_write_bytes(json.dumps(report, indent=1).encode(), args.json)
        print(f'wrote {args.json}', flush=True)
    return rows


def kernel_scaling_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/kernel_scaling.py``; user errors exit with a
    message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_kernel_scaling_args, run_kernel_scaling, argv)
