"""``tools/analysis/visualize_kernels.py``: the deployed weights of one large
depth-wise layer per model (:mod:`lkmm.analysis.kernels`; RepLKNet
Appendix D), side by side, e.g. a model with and one without small-kernel
re-parameterization. Writes OUT.png (one rescaled heatmap per model) and
OUT.<i>.npy (the i-th model's aggregated matrix, before rescaling).

Usage::

    python tools/analysis/visualize_kernels.py CONFIG CHECKPOINT
        [CONFIG CHECKPOINT ...] --out PREFIX [--layer NAME ...]
        [--names NAME ...] [--min-kernel N] [--input-size N]
        [--cfg-options ...]
    python tools/analysis/visualize_kernels.py CONFIG CHECKPOINT
        --list-layers

Exit status: 0; 1 with a ``visualize_kernels: ...`` message for bad
options, a checkpoint that does not fit or a model without a large
depth-wise kernel.
"""
import argparse
import io
import os.path as osp
from typing import List, Optional

import numpy as np
import torch

from lkmm.analysis.kernels import (
    aggregate_kernel,
    default_kernel_layer,
    deploy_kernel,
    find_kernel_layers,
    format_kernel_layers,
    kernel_heatmap_png,
    kernel_summary,
    layer_input_sizes,
    select_kernel_layer,
)
from lkmm.utils.fileio import atomic_write_bytes

from .model_loading import load_trained_model
from .options import add_cfg_options_option, exit_status

__all__ = ['parse_visualize_kernels_args', 'run_visualize_kernels',
           'visualize_kernels_main']

TOOL = 'visualize_kernels'


def parse_visualize_kernels_args(argv: Optional[List[str]] = None
                                 ) -> argparse.Namespace:
    """Arguments of ``tools/analysis/visualize_kernels.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``models`` (config, checkpoint, ...), ``out``,
        ``layer``, ``list_layers``, ``names``, ``min_kernel``,
        ``input_size``, ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Deployed weights of a large depth-wise kernel (RepLKNet '
        'Appendix D): |kernel| summed over channels, rescaled to [0, 1] by '
        'the maximum, as heatmaps side by side')
    parser.add_argument('models', nargs='+', metavar='CONFIG CHECKPOINT',
                        help='one or more pairs of config and trained '
                        'weights')
    parser.add_argument('--out',
                        help='output prefix: writes OUT.png and OUT.<i>.npy '
                        'for the i-th pair (from 0); required unless '
                        '--list-layers')
    parser.add_argument('--layer', nargs='+', metavar='NAME',
                        help='module name of the layer (or of the block '
                        'holding it), one for all models or one per model '
                        '(default: the first stride-1 large kernel of the '
                        'last stage, as the paper)')
    parser.add_argument('--list-layers', action='store_true',
                        help='print the large-kernel layers of each model '
                        'and exit')
    parser.add_argument('--names', nargs='+',
                        help='panel names, one per model (default: the '
                        'config file names)')
    parser.add_argument('--min-kernel', type=int, default=5,
                        help='smallest kernel side counted as large '
                        '(default 5)')
    parser.add_argument('--input-size', type=int, default=224,
                        help='NxN zero image run once to find each layer\'s '
                        'input map, hence the last stage (default 224)')
    add_cfg_options_option(parser, ' (applied to every config)')
    return parser.parse_args(argv)


def _per_model(option: str, values: Optional[List[str]], count: int):
    if values is None:
        return [None] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise SystemExit(f'{TOOL}: {len(values)} {option} for {count} '
                         'models: give one, or one per model')
    return values


def _input_sizes(model, layers, size):
    backbone = getattr(model, 'backbone', model)
    image = torch.zeros(1, 3, size, size)
    try:
        return layer_input_sizes(lambda: backbone(image), layers)
    except Exception as err:  # any model, any failure: say what to do
        raise SystemExit(
            f'{TOOL}: running {type(backbone).__name__} on a {size}x{size} '
            f'image failed ({type(err).__name__}: {err}); pass --layer or '
            'another --input-size')


def _checked_models(args: argparse.Namespace):
    """The ``(config, checkpoint)`` pairs, their names and wanted layers.

    Raises:
        SystemExit: the paths do not pair up, ``--out`` is missing, a count
            is below 1, or ``--names`` / ``--layer`` do not fit the models.
    """
    if len(args.models) % 2:
        raise SystemExit(f'{TOOL}: models come as CONFIG CHECKPOINT pairs, '
                         f'got {len(args.models)} paths')
    if not args.list_layers and not args.out:
        raise SystemExit(f'{TOOL}: --out is required (or pass '
                         '--list-layers)')
    if args.min_kernel < 1 or args.input_size < 1:
        raise SystemExit(f'{TOOL}: --min-kernel and --input-size must be '
                         '>= 1')
    pairs = list(zip(args.models[0::2], args.models[1::2]))
    layer_names = _per_model('--layer', args.layer, len(pairs))
    names = args.names or [osp.splitext(osp.basename(c))[0]
                           for c, _ in pairs]
    if len(names) != len(pairs):
        raise SystemExit(f'{TOOL}: {len(names)} --names for {len(pairs)} '
                         'models')
    return pairs, names, layer_names


def _write_outputs(results: List[dict], out: str) -> None:
    """Each model's matrix as ``OUT.i.npy`` and all of them as
    ``OUT.png``, atomically."""
    for i, result in enumerate(results):
        buffer = io.BytesIO()
        np.save(buffer, result['matrix'])
        atomic_write_bytes(buffer.getvalue(), f'{out}.{i}.npy')
    titles = [f'{r["name"]}\n{r["layer"]} '
              f'({"x".join(map(str, r["matrix"].shape))})' for r in results]
    atomic_write_bytes(
        kernel_heatmap_png([r['matrix'] for r in results], titles),
        out + '.png')
    print(f'wrote {out}.png and {len(results)} .npy file(s) '
          f'({out}.0.npy ...)', flush=True)


def run_visualize_kernels(args: argparse.Namespace) -> List[dict]:
    """List the layers, or deploy, aggregate and draw one layer per model.

    Args:
        args (argparse.Namespace): From
            :func:`parse_visualize_kernels_args`.

    Returns:
        list[dict]: Per model ``name``, ``layer`` (module name), ``kind`` and
        ``matrix`` (the aggregated kernel before rescaling); empty with
        ``--list-layers``.

    Raises:
        SystemExit: bad options, a checkpoint that does not fit, or a model
            without a large depth-wise kernel / the named layer.
    """
    pairs, names, layer_names = _checked_models(args)
    results = []
    for i, ((config, checkpoint), name, wanted) in enumerate(
            zip(pairs, names, layer_names)):
        _, model = load_trained_model(TOOL, config, checkpoint,
                                      args.cfg_options)
        layers = find_kernel_layers(model, args.min_kernel)
        if not layers:
            raise SystemExit(
                f'{TOOL}: {config} has no depth-wise layer with a kernel of '
                f'{args.min_kernel} or more (lower --min-kernel?). Kinds '
                'found: re-parameterized large kernels (RepLKNet, SLaK '
                'stripes, PeLK peripheral), depth-wise conv(-BN), ParCNetV2 '
                'oversized convs')
        if wanted is None or args.list_layers:
            sizes = _input_sizes(model, layers, args.input_size)
            chosen = default_kernel_layer(layers, sizes)
        if args.list_layers:
            print(f'{name} ({config}); * = default, input at '
                  f'{args.input_size}x{args.input_size}:')
            print(format_kernel_layers(layers, sizes, chosen.name),
                  flush=True)
            continue
        if wanted is not None:
            try:
                chosen = select_kernel_layer(layers, wanted, model)
            except KeyError as err:
                raise SystemExit(f'{TOOL}: --layer {err.args[0]}')
        matrix = aggregate_kernel(deploy_kernel(chosen))
        results.append(dict(name=name, layer=chosen.name, kind=chosen.kind,
                            matrix=matrix))
        summary = kernel_summary(matrix)
        print(f'[{i}] {name}: {chosen.name} ({chosen.kind}, '
              f'{"x".join(map(str, matrix.shape))}); rescaled means: ' +
              ', '.join(f'{k} {v:.3f}' for k, v in summary.items()),
              flush=True)
    if args.list_layers:
        return []
    _write_outputs(results, args.out)
    return results


def visualize_kernels_main(argv: Optional[List[str]] = None) -> int:
    """``tools/analysis/visualize_kernels.py``; user errors exit with a
    message.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_visualize_kernels_args, run_visualize_kernels,
                       argv)
