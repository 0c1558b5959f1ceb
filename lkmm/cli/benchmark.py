"""``tools/analysis/benchmark.py``: training structure vs deployed form,
nn.Conv2d vs lkmm depth-wise convolutions (``--compare dwconv``), where
the time goes by layer type (``--compare breakdown``), or two models side
by side (``--against OTHER``, a config or ``timm:NAME``); the
measurements are :mod:`lkmm.analysis.benchmark`'s and
:mod:`lkmm.analysis.breakdown`'s.

Usage::

    python tools/analysis/benchmark.py CONFIG [--checkpoint PTH]
        [--compare deploy|dwconv|breakdown | --against OTHER [--train-form]]
        [--shape H W] [--batch-size N] [--warmup N] [--iters N]
        [--device DEV] [--threads N] [--cfg-options ...]

Exit status: 0; 1 with a ``benchmark: ...`` message for conflicting
options, a missing config / checkpoint or an unusable ``--against``.
"""
import argparse
import math
import os.path as osp
import sys
from typing import List, Optional, Union

import torch

from lkmm.analysis.benchmark import (
    DWCONV_MODES,
    DWConvComparison,
    ModelComparison,
    TrainDeployComparison,
    build_timm_model,
    compare_dwconv_impls,
    compare_models,
    compare_train_vs_deploy,
    format_benchmark_table,
    format_dwconv_comparison,
)
from lkmm.analysis.breakdown import (
    TimeBreakdown,
    format_breakdowns,
    model_breakdown,
)
from lkmm.analysis.complexity import input_shape_from_cfg, to_deploy_form
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.utils.model_outputs import as_tensor_module, random_batch

from .options import (
    add_cfg_options_option,
    add_device_option,
    add_shape_option,
    device_or_exit,
    exit_status,
)


def parse_benchmark_args(argv: Optional[List[str]] = None
                         ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/benchmark.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``checkpoint``, ``shape``,
        ``batch_size``, ``warmup``, ``iters``, ``device``, ``threads``,
        ``compare``, ``against``, ``train_form``, ``dwconv_mode``,
        ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Inference speed of a model from a config: training '
        'structure vs deployed (re-parameterized) form, nn.Conv2d vs lkmm '
        'depth-wise convolutions, or against a second model (--against)')
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
        '--compare', choices=['deploy', 'dwconv', 'breakdown'],
        help='deploy: training structure vs deployed form (inference); '
        'dwconv: the same model with nn.Conv2d vs lkmm depth-wise '
        'convolutions; breakdown: ms per layer type (depth-wise large / '
        'small, pointwise, dense conv, norm, activation, rest) of the '
        'deployed inference and of a training step, profiled '
        '(default: deploy; not with --against)')
    parser.add_argument(
        '--steps', type=int, default=3,
        help='with --compare breakdown: profiled steps per form, after one '
        'unprofiled (default 3)')
    parser.add_argument(
        '--against', metavar='OTHER',
        help='time CONFIG against a second model in the same run: a config '
        'file or timm:NAME (e.g. timm:swin_base_patch4_window7_224, random '
        'weights); both in deploy form (deployed where they can be), same '
        'batch and --shape (default: CONFIG\'s), interleaved; prints the '
        'speed ratio CONFIG/OTHER. --checkpoint and --cfg-options apply to '
        'CONFIG only')
    parser.add_argument(
        '--train-form', action='store_true',
        help='with --against: time both models as built (eval mode, '
        're-parameterization branches not deployed), e.g. SLaK with its '
        'stripes instead of the KxK kernel they merge into')
    parser.add_argument(
        '--dwconv-mode', choices=list(DWCONV_MODES), default='train',
        help='with --compare dwconv: train = forward+backward of a training '
        'step, deploy = inference of the deployed form (default: train)')
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def _config_name(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def _build_against(spec: str):
    """The second model of ``--against`` and its label (and its config,
    None for a timm model)."""
    if spec.startswith('timm:'):
        name = spec[len('timm:'):].strip()
        if not name:
            raise SystemExit('benchmark: --against timm:NAME needs a model '
                             'name, e.g. timm:swin_base_patch4_window7_224')
        print(f'building timm model {name} (random weights)', flush=True)
        try:
            return build_timm_model(name), spec, None
        except ImportError:
            raise SystemExit('benchmark: --against timm:... needs timm '
                             '(pip install timm)')
        except ValueError as err:
            raise SystemExit(f'benchmark: --against {spec}: {err}')
    try:
        cfg = load_config(spec)
    except FileNotFoundError as err:
        raise SystemExit(f'benchmark: --against takes a config file or '
                         f'timm:NAME: {err}')
    print(f'building {cfg.model.get("type", "model")} from {spec}',
          flush=True)
    return build_model_from_cfg(cfg), _config_name(spec), cfg


def run_benchmark(args: argparse.Namespace
                  ) -> Union[TrainDeployComparison, DWConvComparison,
                             List[TimeBreakdown], ModelComparison]:
    """Build, time, print a table.

    Args:
        args (argparse.Namespace): From :func:`parse_benchmark_args`.

    Returns:
        TrainDeployComparison | DWConvComparison | list[TimeBreakdown] |
        ModelComparison: The measurements (``--compare deploy``,
        ``dwconv``, ``breakdown`` or ``--against``).

    Raises:
        SystemExit: conflicting options, a bad device or ``--threads``, a
            missing config / checkpoint or an unusable ``--against``.
    """
    if args.train_form and args.against is None:
        raise SystemExit('benchmark: --train-form applies to --against '
                         '(the deploy comparison times both forms anyway)')
    if args.against is not None and args.compare is not None:
        raise SystemExit('benchmark: --against times two models in '
                         'deploy form; it does not combine with '
                         f'--compare {args.compare}')
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
    if args.against is not None:
        # Fail on a bad OTHER before the (slow) first model is built.
        other, other_name, other_cfg = _build_against(args.against)
    print(f'building {cfg.model.get("type", "model")} from {args.config}',
          flush=True)
    model = build_model_from_cfg(cfg)
    if args.checkpoint is not None:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    if args.batch_size is None:
        args.batch_size = 2 if (args.compare == 'breakdown' or (
            args.compare == 'dwconv' and args.dwconv_mode == 'train')) else 1
    if args.against is not None:
        return _compare_two(args, model, other, other_name, other_cfg,
                            input_shape, device)
    if args.compare == 'breakdown':
        return _breakdown(args, model, input_shape, device)
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


def benchmark_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/benchmark.py``; user errors exit with a message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_benchmark_args, run_benchmark, argv)


def _compare_two(args, model, other, other_name: str, other_cfg,
                 input_shape, device) -> ModelComparison:
    """``--against``: time both models, print the table and the ratio."""
    name = _config_name(args.config)
    if other_name == name:
        other_name += ' (against)'
    if other_cfg is not None and args.shape is None:
        own = input_shape_from_cfg(other_cfg, None)
        if tuple(own) != tuple(input_shape):
            print(f'note: {other_name} defaults to {own[1]}x{own[2]}; both '
                  f'run at {input_shape[1]}x{input_shape[2]} (--shape '
                  'sets it)', flush=True)
    form = 'training structure (eval)' if args.train_form else \
        'deploy form'
    print(f'timing {name} and {other_name} in {form} on {device}: '
          f'batch {args.batch_size}, {args.warmup} warm-up + {args.iters} '
          'timed iterations each, interleaved', flush=True)
    result = compare_models(
        model, other, input_shape=input_shape, batch_size=args.batch_size,
        warmup=args.warmup, iters=args.iters, device=device,
        names=(name, other_name), deploy=not args.train_form, verbose=True)
    print(format_benchmark_table(result), flush=True)
    return result


def _breakdown(args, model, input_shape, device) -> List[TimeBreakdown]:
    """``--compare breakdown``: profile the deployed inference and a
    training step, print ms and share per layer type."""
    if args.steps < 1:
        raise SystemExit('benchmark: --steps must be >= 1')
    inputs = random_batch(input_shape, args.batch_size, device, 0)
    print(f'profiling the deployed inference and a training step on '
          f'{device}: batch {args.batch_size}, 1 unprofiled + {args.steps} '
          'profiled steps each', flush=True)
    deployed = as_tensor_module(to_deploy_form(model).to(device))
    result = [model_breakdown(deployed, inputs, 'deploy', args.steps),
              model_breakdown(as_tensor_module(model.to(device)), inputs,
                              'train', args.steps)]
    print(format_breakdowns(result), flush=True)
    return result
