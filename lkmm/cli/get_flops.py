"""``tools/analysis/get_flops.py``: params and FLOPs as the papers count
them (:mod:`lkmm.analysis.complexity`).

Usage::

    python tools/analysis/get_flops.py CONFIG [--shape N | --shape H W]
        [--train-form] [--sparse [--sparse-init MODE]] [--checkpoint PTH]
        [--seed S] [--cfg-options ...]

Exit status: 0; 1 with a message for conflicting options or a sparsity the
config cannot draw.
"""
import argparse
from typing import List, Optional

import torch

from lkmm.analysis.complexity import (
    config_input_shape,
    inference_complexity,
    input_shape_from_cfg,
    sparse_complexity,
)
from lkmm.analysis.config_sparsity import (
    init_weights_quietly,
    sparsify_as_config,
)
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.engine.sparsity.allocation import INIT_MODES

from .options import (
    add_cfg_options_option,
    add_shape_option,
    exit_status,
    shape_or_exit,
)

__all__ = ['parse_get_flops_args', 'run_get_flops', 'get_flops_main']


def parse_get_flops_args(argv: Optional[List[str]] = None
                         ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/get_flops.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``shape``, ``train_form``,
        ``sparse``, ``sparse_init``, ``checkpoint``, ``seed``,
        ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of the model of a config, counted '
        'as the papers count: the inference model (re-parameterized '
        'backbone, no auxiliary head), one multiply-add = one FLOP.')
    parser.add_argument(
        'config', help='config file, or package::path of a stock config')
    add_shape_option(parser, square=True)
    parser.add_argument(
        '--train-form', action='store_true',
        help='count the training form (branches not deployed, auxiliary '
        'heads kept) instead of the inference model')
    parser.add_argument(
        '--sparse', action='store_true',
        help='count a sparse model as SLaK and PeLK do: non-zero weights, '
        'and the FLOPs of the non-zero weights, training form. The '
        'sparsity is the one the config\'s lkmm.DynamicSparsityHook draws '
        'at the start of training, or that of --checkpoint')
    parser.add_argument(
        '--sparse-init', choices=INIT_MODES,
        help='with --sparse and no --checkpoint: density allocation '
        '(default: the hook\'s init; snip scores one synthetic batch, '
        'classifiers only)')
    parser.add_argument(
        '--checkpoint', help='load these weights before counting (a sparse '
        'checkpoint is counted as it is with --sparse)')
    parser.add_argument(
        '--seed', type=int, default=0,
        help='seed of the weights, the synthetic SNIP batch and the mask '
        'positions (--sparse). Default: 0')
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def run_get_flops(args: argparse.Namespace) -> dict:
    """Print and return params and FLOPs of the model of a config.

    Args:
        args (argparse.Namespace): From :func:`parse_get_flops_args`.

    Returns:
        dict: The counts of :func:`inference_complexity` (dense) or
        :func:`sparse_complexity` (``--sparse``), with ``shape`` and
        ``form``.

    Raises:
        SystemExit: a bad ``--shape``, conflicting sparse options or a
            sparsity the config cannot draw.
    """
    shape = shape_or_exit('get_flops', args.shape)

    cfg = load_config(args.config, args.cfg_options, work_dir='')
    if shape is None:
        shape, source = config_input_shape(cfg)
    else:
        source = '--shape'
    if args.sparse_init is not None and not args.sparse:
        raise SystemExit('--sparse-init needs --sparse')
    if args.sparse_init is not None and args.checkpoint:
        raise SystemExit('--sparse-init draws new masks; a --checkpoint '
                         'already has its own: give one of them')
    torch.manual_seed(args.seed)
    model = build_model_from_cfg(cfg)
    in_channels = input_shape_from_cfg(cfg, shape)[0]
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    line = '=' * 50
    if not args.sparse:
        result = inference_complexity(
            model, (in_channels, *shape), deploy=not args.train_form)
        form = 'training form' if args.train_form else 'deploy form'
        print(f'{line}\nConfig: {args.config}\n'
              f'Model: {type(model).__name__} ({form})\n'
              f'Input shape: {in_channels}x{shape[0]}x{shape[1]} '
              f'(from {source})\n'
              f'Params: {result["params_str"]}\n'
              f'FLOPs: {result["flops_str"]}\n{line}')
        result.update(shape=shape, form=form)
        return result

    if args.checkpoint:
        sparsity = f'as in {args.checkpoint}'
    else:
        init_weights_quietly(model)
        try:
            sparsity = sparsify_as_config(model, cfg, args.sparse_init,
                                          (in_channels, *shape), args.seed)
        except ValueError as err:
            raise SystemExit(f'get_flops: {err}')
    result = sparse_complexity(model, (in_channels, *shape))
    dense_params = result['params']
    print(f'{line}\nConfig: {args.config}\n'
          f'Model: {type(model).__name__} (training form, sparse: '
          f'{sparsity})\n'
          f'Input shape: {in_channels}x{shape[0]}x{shape[1]} '
          f'(from {source})\n'
          f'Params: {result["nonzero_params_str"]} non-zero of '
          f'{dense_params / 1e6:.2f}M\n'
          f'FLOPs: {result["sparse_flops_str"]} (dense '
          f'{result["flops"] / 1e9:.2f}G)\n{line}')
    result.update(shape=shape, form='training form, sparse')
    return result


def get_flops_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/get_flops.py``; user errors exit with a message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_get_flops_args, run_get_flops, argv)
