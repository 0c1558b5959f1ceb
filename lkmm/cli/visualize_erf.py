"""``tools/analysis/visualize_erf.py``: the effective receptive field of a
model from any mmpretrain / mmseg / mmdet config, over a folder of images
(:mod:`lkmm.analysis.erf`). Writes the contribution matrix (.npy) and a
heatmap (.png).

Usage::

    python tools/analysis/visualize_erf.py CONFIG [CHECKPOINT]
        --images DIR --out PREFIX [--input-size N] [--num-images N]
        [--stage I] [--seed S] [--cfg-options ...]

Exit status: 0; 1 with a ``visualize_erf: ...`` message for bad options or
a folder without images.
"""
import argparse
import io
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import torch

from lkmm.analysis.erf import (
    backbone_feature_fn,
    erf_area_ratios,
    erf_contribution,
    format_erf_table,
    scale_contribution,
)
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.utils.fileio import atomic_write_bytes
from lkmm.utils.plotting import figure_png, pyplot

from .options import add_cfg_options_option, exit_status

__all__ = ['parse_visualize_erf_args', 'run_visualize_erf',
           'visualize_erf_main', 'heatmap_png', 'list_images',
           'load_images']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
# ImageNet statistics (RGB, 0-255), used when the config has none.
_MEAN, _STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def parse_visualize_erf_args(argv: Optional[List[str]] = None
                             ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/visualize_erf.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``checkpoint``, ``images``, ``out``,
        ``input_size``, ``num_images``, ``stage``, ``seed``,
        ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Effective receptive field of a model (RepLKNet Fig. 1, '
        'Appendix B): contribution matrix (.npy) and heatmap (.png)')
    parser.add_argument('config', help='config file (any library)')
    parser.add_argument('checkpoint', nargs='?',
                        help='weights; without it, the model at '
                        'initialization')
    parser.add_argument('--images', required=True,
                        help='folder of images (e.g. 50 validation images)')
    parser.add_argument('--out', required=True,
                        help='output prefix: writes OUT.npy and OUT.png')
    parser.add_argument('--input-size', type=int, default=1024,
                        help='images are resized to NxN (default 1024, '
                        'as the paper)')
    parser.add_argument('--num-images', type=int, default=50,
                        help='images used, sorted by name (default 50)')
    parser.add_argument('--stage', type=int,
                        help='backbone stage whose output is measured '
                        '(default: the last one the backbone returns)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the initialization without a '
                        'checkpoint (default 0)')
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def list_images(folder: str, count: int) -> List[str]:
    """The first ``count`` images of ``folder``, sorted by name."""
    if not osp.isdir(folder):
        raise SystemExit(f'visualize_erf: --images {folder} is not a folder')
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        kinds = ', '.join(IMAGE_EXTENSIONS)
        raise SystemExit(f'visualize_erf: no images ({kinds}) in {folder}')
    return [osp.join(folder, n) for n in names[:count]]


def _normalization(cfg):
    pre = cfg.get('model', {}).get('data_preprocessor') or \
        cfg.get('data_preprocessor') or {}
    mean = pre.get('mean') or _MEAN
    std = pre.get('std') or _STD
    return (torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1),
            torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))


def load_images(paths: List[str], size: int, mean: torch.Tensor,
                std: torch.Tensor):
    """Yield ``(1, 3, size, size)`` normalized RGB images."""
    from PIL import Image
    for path in paths:
        with Image.open(path) as img:
            img = img.convert('RGB').resize((size, size), Image.BILINEAR)
            array = np.asarray(img, dtype=np.float32)
        x = torch.from_numpy(array).permute(2, 0, 1)[None]
        yield (x - mean) / std


def heatmap_png(matrices, names) -> bytes:
    """PNG bytes of the scaled matrices side by side."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(matrices),
                             figsize=(4 * len(matrices), 4), squeeze=False)
    for ax, matrix, name in zip(axes[0], matrices, names):
        ax.imshow(scale_contribution(matrix), cmap='RdYlGn', vmin=0,
                  vmax=1)
        ax.set_title(name, fontsize=9)
        ax.axis('off')
    fig.tight_layout()
    return figure_png(fig)


def run_visualize_erf(args: argparse.Namespace) -> np.ndarray:
    """Measure, print the area-ratio table, write OUT.npy and OUT.png.

    Args:
        args (argparse.Namespace): From :func:`parse_visualize_erf_args`.

    Returns:
        np.ndarray: The contribution matrix.

    Raises:
        SystemExit: bad ``--input-size`` / ``--num-images``, or no images.
    """
    from mmengine.utils import ProgressBar
    if args.input_size < 32 or args.num_images < 1:
        raise SystemExit('visualize_erf: --input-size must be >= 32 and '
                         '--num-images >= 1')
    paths = list_images(args.images, args.num_images)
    cfg = load_config(args.config, args.cfg_options, work_dir='')
    if args.stage is not None:
        cfg.model.backbone.out_indices = (args.stage, )
    torch.manual_seed(args.seed)
    model = build_model_from_cfg(cfg)
    if args.checkpoint:
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    else:
        getattr(model, 'init_weights', lambda: None)()
    # Only the input's gradient is measured: frozen weights spare the
    # weight-gradient kernels (half the backward of a large DW conv).
    model.eval().requires_grad_(False)
    mean, std = _normalization(cfg)
    bar = ProgressBar(len(paths))
    matrix = erf_contribution(
        backbone_feature_fn(model),
        load_images(paths, args.input_size, mean, std),
        progress=lambda _: bar.update())
    print()
    name = osp.splitext(osp.basename(args.config))[0]
    print(format_erf_table({name: erf_area_ratios(matrix)}), flush=True)
    buffer = io.BytesIO()
    np.save(buffer, matrix)
    atomic_write_bytes(buffer.getvalue(), args.out + '.npy')
    atomic_write_bytes(heatmap_png([matrix], [name]), args.out + '.png')
    print(f'wrote {args.out}.npy and {args.out}.png', flush=True)
    return matrix


def visualize_erf_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/visualize_erf.py``; user errors exit with a
    message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_visualize_erf_args, run_visualize_erf, argv)
