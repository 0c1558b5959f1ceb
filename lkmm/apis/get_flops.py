"""The logic behind ``tools/analysis/get_flops.py``."""
import argparse
from typing import List, Optional

import torch
from mmengine.config import DictAction

from lkmm.analysis.benchmark import input_shape_from_cfg
from lkmm.analysis.complexity import (config_input_shape, inference_complexity,
                                     sparse_complexity)
from lkmm.engine.sparsity.allocation import INIT_MODES
from .launch import build_model_from_cfg, load_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of the model of a config, counted '
        'as the papers count: the inference model (re-parameterized '
        'backbone, no auxiliary head), one multiply-add = one FLOP.')
    parser.add_argument(
        'config', help='config file, or package::path of a stock config')
    parser.add_argument(
        '--shape', type=int, nargs='+', metavar='N',
        help='input H W (or one N for NxN); default: from the test '
        'pipeline, else 224x224')
    parser.add_argument(
        '--train-form', action='store_true',
        help='count the training form (branches not folded, auxiliary '
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
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries')
    return parser.parse_args(argv)


def get_flops_main(argv: Optional[List[str]] = None) -> dict:
    """Print and return params and FLOPs of the model of a config."""
    args = parse_args(argv)
    if args.shape is None:
        shape = None
    elif len(args.shape) == 1:
        shape = (args.shape[0], args.shape[0])
    elif len(args.shape) == 2:
        shape = tuple(args.shape)
    else:
        raise SystemExit(
            f'--shape takes H W or one N, got {len(args.shape)} values')
    if shape is not None and min(shape) < 1:
        raise SystemExit(f'--shape values must be positive, got {shape}')

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
        form = 'training form' if args.train_form else 'inference form'
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
        _init_quietly(model)
        sparsity = sparsify_as_config(model, cfg, args.sparse_init,
                                      (in_channels, *shape), args.seed)
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


def _init_quietly(model) -> None:
    """Weights as training starts them (SNIP scores depend on them),
    without mmengine's per-parameter log; a pre-trained ``init_cfg`` is
    not loaded (counting needs no checkpoint)."""
    import logging

    from mmengine.logging import MMLogger
    init_cfg = getattr(model, 'init_cfg', None) or {}
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        return
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def _sparsity_hook_cfg(cfg) -> dict:
    for hook in cfg.get('custom_hooks', None) or []:
        if str(hook.get('type', '')).split('.')[-1] == 'DynamicSparsityHook':
            return hook
    raise SystemExit(
        'the config has no lkmm.DynamicSparsityHook in custom_hooks: '
        '--sparse needs one (or a sparse --checkpoint)')


def _synthetic_classifier_batch(model, shape, seed: int) -> dict:
    """Two random images with random labels, as an mmpretrain dataloader
    gives them (SNIP scores one batch of the training data)."""
    try:
        from mmpretrain.models import ImageClassifier
        from mmpretrain.structures import DataSample
    except ImportError:  # pragma: no cover - mmpretrain is a dependency
        ImageClassifier = None
    if ImageClassifier is None or not isinstance(model, ImageClassifier):
        raise SystemExit(
            f'--sparse-init snip scores a synthetic batch, which lkmm builds '
            f'for mmpretrain classifiers only, not {type(model).__name__}: '
            'use --sparse-init uniform / erk, or a sparse --checkpoint')
    num_classes = getattr(model.head, 'num_classes', 1000)
    gen = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
              for _ in range(2)]
    labels = torch.randint(0, num_classes, (2, ), generator=gen)
    samples = [DataSample().set_gt_label(int(k)) for k in labels]
    return dict(inputs=inputs, data_samples=samples)


def sparsify_as_config(model, cfg, init: Optional[str],
                       input_shape, seed: int = 0) -> str:
    """Mask ``model`` as the config's ``DynamicSparsityHook`` does when
    training starts.

    Args:
        model (nn.Module): The model built from ``cfg``.
        cfg (Config): A config with an ``lkmm.DynamicSparsityHook``.
        init (str, optional): Allocation overriding the hook's ``init``.
        input_shape (tuple): ``(C, H, W)`` of the synthetic SNIP batch.
        seed (int): Seed of the SNIP batch and the mask positions.

    Returns:
        str: A description of the sparsity applied.
    """
    from mmengine.registry import HOOKS
    hook = HOOKS.build(_sparsity_hook_cfg(cfg))
    init = init or hook.init
    if hook.sparsity == 0:
        return 'sparsity 0 in the config: dense'
    masks = hook.make_masks(model)
    gen = torch.Generator().manual_seed(seed)
    if init == 'snip':
        batch = _synthetic_classifier_batch(model, input_shape, seed)
        masks.init('snip', data_batch=batch, generator=gen,
                   snip_positions=hook.snip_positions)
        detail = 'SNIP on a synthetic batch of 2'
    else:
        masks.init(init, generator=gen, erk_power_scale=hook.erk_power_scale)
        detail = init
    return (f'{hook.sparsity:g} of the selected weights, {detail}; '
            f'{len(masks.masks)} of {len(masks.candidates)} layers masked')
