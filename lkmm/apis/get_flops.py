"""The logic behind ``tools/analysis/get_flops.py``."""
import argparse
from typing import List, Optional

from mmengine.config import DictAction

from lkmm.analysis.benchmark import input_shape_from_cfg
from lkmm.analysis.complexity import config_input_shape, inference_complexity
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
    model = build_model_from_cfg(cfg)
    in_channels = input_shape_from_cfg(cfg, shape)[0]
    result = inference_complexity(
        model, (in_channels, *shape), deploy=not args.train_form)
    form = 'training form' if args.train_form else 'inference form'
    line = '=' * 50
    print(f'{line}\nConfig: {args.config}\n'
          f'Model: {type(model).__name__} ({form})\n'
          f'Input shape: {in_channels}x{shape[0]}x{shape[1]} '
          f'(from {source})\n'
          f'Params: {result["params_str"]}\n'
          f'FLOPs: {result["flops_str"]}\n{line}')
    result.update(shape=shape, form=form)
    return result
