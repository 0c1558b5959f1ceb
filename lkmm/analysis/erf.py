"""Effective receptive fields, measured as RepLKNet (Fig. 1, Appendix B)
and PeLK measure them.

The gradient of a backbone's centre output with respect to the input,
averaged over images, is the *contribution matrix*
(:func:`erf_contribution`); :func:`erf_area_ratios` gives, for each
threshold t, the smallest centred square holding t of it and its area ratio.
A larger ratio is a larger effective receptive field. The method in full:
``docs/analysis.md``, "Effective receptive field".
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = [
    'ERF_THRESHOLDS', 'erf_contribution', 'scale_contribution',
    'erf_area_ratios', 'format_erf_table', 'backbone_feature_fn'
]

#: Thresholds of RepLKNet's table (Appendix B).
ERF_THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def backbone_feature_fn(model: nn.Module, index: int = -1
                        ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The function from an input batch to one backbone feature map.

    Args:
        model (nn.Module): An OpenMMLab model with a ``backbone``, or a
            backbone.
        index (int): Which of the backbone's returned outputs. Defaults to
            -1 (the last).

    Returns:
        Callable: ``f(x) -> (N, C, h, w)``.
    """
    backbone = getattr(model, 'backbone', model)
    if getattr(backbone, 'gap_before_final_norm', False):
        # A classifier's ConvNeXt-layout backbone pools its output: the
        # ERF needs the map.
        backbone.gap_before_final_norm = False

    def forward(x):
        out = backbone(x)
        if isinstance(out, (tuple, list)):
            out = out[index]
        if out.dim() != 4:
            raise ValueError(
                f'{type(backbone).__name__} returns a {out.dim()}-D output, '
                'not a feature map (N, C, h, w): the ERF needs the map '
                'before pooling')
        return out

    return forward


def erf_contribution(feature_fn: Callable[[torch.Tensor], torch.Tensor],
                     images: Iterable[torch.Tensor],
                     progress: Optional[Callable[[int], None]] = None
                     ) -> np.ndarray:
    """The contribution matrix, averaged over ``images``.

    Args:
        feature_fn (Callable): Input batch -> feature map (see
            :func:`backbone_feature_fn`); the model in eval mode.
        images (Iterable[Tensor]): ``(1, C, H, W)`` normalized images, all
            of one size.
        progress (Callable, optional): Called with the count after each
            image.

    Returns:
        np.ndarray: ``(H, W)`` float64, the mean over images of
        ``relu(d sum(relu(centre)) / d input)`` summed over channels.
    """
    total, count = None, 0
    for image in images:
        x = image.detach().clone().requires_grad_(True)
        out = feature_fn(x)
        h, w = out.shape[-2:]
        centre = torch.relu(out[:, :, h // 2, w // 2]).sum()
        grad, = torch.autograd.grad(centre, x)
        contrib = torch.relu(grad).sum(dim=1)[0].double().cpu().numpy()
        total = contrib if total is None else total + contrib
        count += 1
        if progress is not None:
            progress(count)
    if count == 0:
        raise ValueError('no images given')
    return total / count


def scale_contribution(matrix: np.ndarray) -> np.ndarray:
    """``log10(A + 1)`` divided by its maximum (RepLKNet's scaling)."""
    scaled = np.log10(np.asarray(matrix, dtype=np.float64) + 1)
    peak = scaled.max()
    return scaled / peak if peak > 0 else scaled


def erf_area_ratios(matrix: np.ndarray,
                    thresholds: Sequence[float] = ERF_THRESHOLDS
                    ) -> List[Dict[str, float]]:
    """For each threshold t, the smallest centred square holding at least
    t of the scaled contribution.

    Args:
        matrix (np.ndarray): A contribution matrix ``(H, W)``.
        thresholds (Sequence[float]): In (0, 1]. Defaults to
            :data:`ERF_THRESHOLDS`.

    Returns:
        list[dict]: ``threshold``, ``side`` (pixels) and ``area_ratio``
        (``side^2 / (H W)``) per threshold.
    """
    data = scale_contribution(matrix)
    h, w = data.shape
    total = data.sum()
    cy, cx = h // 2, w // 2
    results = []
    for t in thresholds:
        if not 0 < t <= 1:
            raise ValueError(f'thresholds must be in (0, 1], got {t}')
        # By r = max(h, w) - 1 the window covers the whole map, so the
        # loop always ends with a side.
        for r in range(max(h, w)):
            window = data[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1]
            if total == 0 or window.sum() >= t * total - 1e-12 * total:
                side = min(2 * r + 1, max(h, w))
                break
        results.append(dict(threshold=t, side=side,
                            area_ratio=min(side, h) * min(side, w) / (h * w)))
    return results


def format_erf_table(named: Dict[str, List[Dict[str, float]]]) -> str:
    """A text table of :func:`erf_area_ratios` results, one row per name."""
    thresholds = [r['threshold'] for r in next(iter(named.values()))]
    head = f'{"model":<28}' + ''.join(
        f'{f"t={t:g} side":>12}{"ratio":>9}' for t in thresholds)
    lines = [head]
    for name, rows in named.items():
        lines.append(f'{name:<28}' + ''.join(
            f'{r["side"]:>12d}{r["area_ratio"]:>9.4f}' for r in rows))
    return '\n'.join(lines)
