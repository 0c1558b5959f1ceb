"""``tools/analysis/shape_bias.py``: the shape bias of an ImageNet-1k
classifier (any mmpretrain config, lkmm backbones included) on the
cue-conflict images (:mod:`lkmm.analysis.shape_bias`; RepLKNet Sec. 5,
Fig. 5). Prints the per-category table and writes OUT.png (the plot),
OUT.json (the table and every decision) and OUT.csv (one row per image).

Usage::

    python tools/analysis/shape_bias.py CONFIG CHECKPOINT --data DIR
        --out PREFIX [--name NAME] [--input-size N] [--batch-size N]
        [--compare EARLIER.json ...] [--device DEV] [--cfg-options ...]

Exit status: 0; 1 with a ``shape_bias: ...`` message for bad options, a
folder that is not the cue-conflict set, a checkpoint that does not fit or
a model that is not a 1000-class classifier.
"""
import argparse
import csv
import io
import json
import math
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch

from lkmm.analysis.shape_bias import (
    EXPECTED_LAYOUT,
    count_decisions,
    decide_in_batches,
    decision_outcome,
    find_cue_conflict_images,
    format_shape_bias_table,
    shape_bias_png,
)
from lkmm.utils.fileio import atomic_write_bytes

from .model_loading import load_trained_model
from .options import (
    add_cfg_options_option,
    add_device_option,
    device_or_exit,
    exit_status,
)

__all__ = ['parse_shape_bias_args', 'run_shape_bias', 'shape_bias_main',
           'classifier_logits_fn', 'load_batch', 'load_compared_table']

TOOL = 'shape_bias'


def parse_shape_bias_args(argv: Optional[List[str]] = None
                          ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/shape_bias.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``checkpoint``, ``data``, ``out``,
        ``name``, ``input_size``, ``batch_size``, ``compare``, ``device``,
        ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Shape bias on cue-conflict images (Geirhos et al.; '
        'RepLKNet Fig. 5): shape / (shape + texture) decisions of a '
        '1000-class ImageNet classifier mapped to 16 categories')
    parser.add_argument('config', help='mmpretrain classifier config')
    parser.add_argument('checkpoint', help='trained weights of the model')
    parser.add_argument('--data', required=True,
                        help=f'cue-conflict folder: {EXPECTED_LAYOUT}')
    parser.add_argument('--out', required=True,
                        help='output prefix: writes OUT.png, OUT.json and '
                        'OUT.csv')
    parser.add_argument('--name',
                        help='model name in the table and plot (default: '
                        'the config file name)')
    parser.add_argument('--input-size', type=int,
                        help='resize images to NxN (default: as stored, '
                        'as the toolbox feeds the 224x224 stimuli)')
    parser.add_argument('--batch-size', type=int, default=16,
                        help='images per forward (default 16)')
    parser.add_argument('--compare', nargs='+', default=[], metavar='JSON',
                        help='OUT.json files of earlier runs, drawn in the '
                        'same plot')
    add_device_option(parser)
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def load_batch(paths: List[str], size: Optional[int]) -> List[torch.Tensor]:
    """``(3, H, W)`` uint8 tensors in BGR order, as OpenMMLab's
    ``LoadImageFromFile`` gives them to a model's data preprocessor."""
    from PIL import Image
    batch = []
    for path in paths:
        with Image.open(path) as img:
            img = img.convert('RGB')
            if size is not None:
                img = img.resize((size, size), Image.BILINEAR)
            array = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
        batch.append(torch.from_numpy(array).permute(2, 0, 1))
    sizes = {tuple(x.shape[1:]) for x in batch}
    if len(sizes) > 1:
        raise SystemExit(f'{TOOL}: images of different sizes {sorted(sizes)}'
                         ' in one batch; pass --input-size N')
    return batch


def classifier_logits_fn(model, size: Optional[int]):
    """Paths -> ``(N, classes)`` logits of an mmpretrain classifier, the
    images normalized by the model's own data preprocessor."""

    @torch.no_grad()
    def logits_fn(paths):
        data = model.data_preprocessor(dict(inputs=load_batch(paths, size)),
                                       False)
        out = model(data['inputs'], mode='tensor')
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or \
                out.shape[1] != 1000:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else \
                type(out).__name__
            raise SystemExit(
                f'{TOOL}: the model gives {got}, not (N, 1000) ImageNet-1k '
                'logits: the 16 categories are groups of ImageNet-1k '
                'classes, so the model must be a 1000-class classifier')
        return out.float().cpu()

    return logits_fn


def _json_row(row: Dict[str, float]) -> Dict[str, float]:
    # NaN is not JSON: an undefined shape bias is written as null.
    return {k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in row.items()}


def load_compared_table(path: str) -> tuple:
    """``(name, table)`` from an OUT.json of an earlier run."""
    try:
        with open(path) as f:
            saved = json.load(f)
        table = {c: {k: (math.nan if v is None else v) for k, v in r.items()}
                 for c, r in saved['table'].items()}
        return saved['name'], table
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise SystemExit(f'{TOOL}: --compare {path} is not an OUT.json of '
                         f'this tool ({type(err).__name__}: {err})')


def run_shape_bias(args: argparse.Namespace) -> dict:
    """Decide every image, print the table, write OUT.png/.json/.csv.

    Args:
        args (argparse.Namespace): From :func:`parse_shape_bias_args`.

    Returns:
        dict: The table of :func:`count_decisions`.

    Raises:
        SystemExit: bad options or data, a checkpoint that does not fit,
            or a model that does not give ImageNet-1k logits.
    """
    from mmengine.utils import ProgressBar
    if args.batch_size < 1:
        raise SystemExit(f'{TOOL}: --batch-size must be >= 1, got '
                         f'{args.batch_size}')
    if args.input_size is not None and args.input_size < 1:
        raise SystemExit(f'{TOOL}: --input-size must be >= 1, got '
                         f'{args.input_size}')
    try:
        images = find_cue_conflict_images(args.data)
    except ValueError as err:
        raise SystemExit(f'{TOOL}: --data {err}')
    compared = [load_compared_table(p) for p in args.compare]
    device = device_or_exit(TOOL, args.device)
    _, model = load_trained_model(TOOL, args.config, args.checkpoint,
                                  args.cfg_options)
    model.to(device)
    name = args.name or osp.splitext(osp.basename(args.config))[0]
    print(f'{len(images)} cue-conflict images, '
          f'{sum(im.conflict for im in images)} with a conflict; '
          f'model {name} on {device}', flush=True)
    bar = ProgressBar(len(images))
    decisions = decide_in_batches(
        images, classifier_logits_fn(model, args.input_size),
        args.batch_size,
        progress=bar.update)
    print()
    table = count_decisions(images, decisions)
    print(format_shape_bias_table(table), flush=True)

    rows = [dict(path=osp.relpath(im.path, args.data), shape=im.shape,
                 texture=im.texture, decision=d,
                 outcome=decision_outcome(im, d))
            for im, d in zip(images, decisions)]
    summary = dict(name=name, config=args.config,
                   checkpoint=args.checkpoint, data=args.data,
                   input_size=args.input_size,
                   table={c: _json_row(r) for c, r in table.items()},
                   decisions=rows)
    atomic_write_bytes(json.dumps(summary, indent=1).encode(),
                       args.out + '.json')
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(text.getvalue().encode(), args.out + '.csv')
    atomic_write_bytes(shape_bias_png(dict([(name, table)] + compared)),
                       args.out + '.png')
    print(f'wrote {args.out}.png, {args.out}.json and {args.out}.csv',
          flush=True)
    return table


def shape_bias_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/shape_bias.py``; user errors exit with a message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_shape_bias_args, run_shape_bias, argv)
