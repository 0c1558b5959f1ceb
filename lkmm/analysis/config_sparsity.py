"""A model masked as its config's ``lkmm.DynamicSparsityHook`` masks it
when training starts, for counting sparse params and FLOPs as SLaK and PeLK
report them (``tools/analysis/get_flops.py --sparse``)."""
from typing import Optional

import torch

__all__ = ['init_weights_quietly', 'sparsify_as_config']


def init_weights_quietly(model) -> None:
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
    raise ValueError(
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
        raise ValueError(
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
