"""``tools/analysis/benchmark.py``: training structure vs deployed form, or
nn.Conv2d vs lkmm depth-wise convolutions (``--compare dwconv``); the
measurements are :mod:`lkmm.analysis.benchmark`'s."""
import argparse
import math
import os.path as osp
import sys
from typing import List, Optional, Union

import torch

from lkmm.analysis.benchmark import (DWCONV_MODES, DWConvComparison,
                                     TrainDeployComparison,
                                     compare_dwconv_impls,
                                     compare_train_vs_deploy,
                                     format_benchmark_table,
                                     format_dwconv_comparison)
from lkmm.analysis.complexity import input_shape_from_cfg
from lkmm.engine.runner import build_model_from_cfg, load_config
from .options import (add_cfg_options_option, add_device_option,
                      add_shape_option, device_or_exit)


def parse_benchmark_args(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(
        description='Inference speed of a model from a config: training '
        'structure vs deployed (re-parameterized) form')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--checkpoint', help='checkpoint to load (weights do not change the '
        'speed, but make the output comparison meaningful)')
    add_shape_option(parser)
    parser.add_argument('--batch-size', type=int,
                        help='images per forward (default 1; 2 for '
                        '--compare dwconv in train mode, where BN needs '
                        'more than one value per channel)')
    parser.add_argument('--warmup', type=int, default=5,
                        help='untimed iterations per form (default 5)')
    parser.add_argument('--iters', type=int, default=30,
                        help='timed iterations per form (default 30)')
    add_device_option(parser)
    parser.add_argument('--threads', type=int,
                        help='CPU threads for torch (default: torch\'s)')
    parser.add_argument(
        '--compare', choices=['deploy', 'dwconv'], default='deploy',
        help='deploy: training structure vs deployed form (inference); '
        'dwconv: the same model with nn.Conv2d vs lkmm depth-wise '
        'convolutions (default: deploy)')
    parser.add_argument(
        '--dwconv-mode', choices=list(DWCONV_MODES), default='train',
        help='with --compare dwconv: train = forward+backward of a training '
        'step, deploy = inference of the deployed form (default: train)')
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def benchmark_main(argv: Optional[List[str]] = None
                   ) -> Union[TrainDeployComparison, DWConvComparison]:
    """``tools/analysis/benchmark.py``: build, time, print a table.

    Args:
        argv (list[str], optional): Command-line arguments; ``sys.argv``
            when None.

    Returns:
        TrainDeployComparison | DWConvComparison: The measurements
        (``--compare deploy`` or ``--compare dwconv``).
    """
    args = parse_benchmark_args(argv)
    device = device_or_exit('benchmark', args.device)
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit('benchmark: --threads must be >= 1')
        torch.set_num_threads(args.threads)
    if args.checkpoint is not None and '://' not in args.checkpoint \
            and not osp.isfile(args.checkpoint):
        raise SystemExit(f'benchmark: checkpoint not found: '
                         f'{args.checkpoint}')

    try:
        cfg = load_config(args.config, args.cfg_options)
    except FileNotFoundError as err:
        raise SystemExit(f'benchmark: {err}')
    input_shape = input_shape_from_cfg(cfg, args.shape)
    print(f'building {cfg.model.get("type", "model")} from {args.config}',
          flush=True)
    model = build_model_from_cfg(cfg)
    if args.checkpoint is not None:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    if args.batch_size is None:
        args.batch_size = 2 if (args.compare == 'dwconv' and
                                args.dwconv_mode == 'train') else 1
    if args.compare == 'dwconv':
        print(f'timing {args.dwconv_mode} steps with nn.Conv2d and with '
              f'lkmm depth-wise convolutions on {device}: {args.warmup} '
              f'warm-up + {args.iters} timed each, interleaved', flush=True)
        result = compare_dwconv_impls(
            model, input_shape=input_shape, batch_size=args.batch_size,
            warmup=args.warmup, iters=args.iters, device=device,
            mode=args.dwconv_mode)
        print(format_dwconv_comparison(result), flush=True)
        return result
    print(f'timing train form and deployed form on {device}: '
          f'{args.warmup} warm-up + {args.iters} timed iterations each, '
          'interleaved', flush=True)
    result = compare_train_vs_deploy(
        model, input_shape=input_shape, batch_size=args.batch_size,
        warmup=args.warmup, iters=args.iters, device=device)
    print(format_benchmark_table(result), flush=True)
    if not math.isfinite(result.max_abs_diff):
        print('warning: the outputs contain NaN/Inf', file=sys.stderr)
    return result
