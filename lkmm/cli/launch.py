"""``tools/train.py`` and ``tools/test.py``: one entry point for mmpretrain,
mmseg and mmdet configs (see :mod:`lkmm.engine.runner`); what differs per
library (visualization hook fields) is handled here.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [PTH]] [--amp]
        [--auto-scale-lr] [--cfg-options ...] [--launcher ...]
    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out P.pkl]
        [--show] [--show-dir DIR] [--tta] [--cfg-options ...]

(``tools/dist_*.sh`` and ``tools/slurm_*.sh`` start them per process.)
Exit status: 0; 1 with a ``train: ...`` / ``test: ...`` message for a
missing dataset or a checkpoint file that cannot be loaded.
"""
import argparse
import os
from typing import List, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from lkmm.engine.data_check import DatasetNotFoundError, check_data_roots
from lkmm.engine.runner import (
    apply_tta,
    build_runner,
    enable_amp,
    finish_distributed,
    load_config,
)
from lkmm.utils.pretrained import check_pretrained_set, checkpoint_file_problem

from .options import add_cfg_options_option, exit_status

__all__ = ['parse_train_args', 'run_train', 'train_main', 'parse_test_args',
           'run_test', 'test_main', 'LAUNCHERS']

LAUNCHERS = ['none', 'pytorch', 'slurm', 'mpi']


def _add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--work-dir', help='folder for logs and checkpoints (default: '
        'work_dirs/<config name>)')
    add_cfg_options_option(parser, ' train_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher', choices=LAUNCHERS, default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (older: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def _parse_common(parser: argparse.ArgumentParser,
                  argv: Optional[List[str]]) -> argparse.Namespace:
    """Add the options train and test share, parse, export LOCAL_RANK."""
    _add_common_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _check_data_or_exit(tool: str, cfg: Config, loaders) -> None:
    """A missing dataset is a usage error: one message, no traceback."""
    try:
        check_data_roots(cfg, loaders)
    except DatasetNotFoundError as err:
        raise SystemExit(f'{tool}: {err}')


def _check_checkpoint_or_exit(tool: str, path: str) -> None:
    """An empty, truncated or foreign file: one message, no traceback."""
    problem = checkpoint_file_problem(path)
    if problem:
        raise SystemExit(f'{tool}: {problem}')


def parse_train_args(argv: Optional[List[str]] = None
                     ) -> argparse.Namespace:
    """Arguments of ``tools/train.py``; exports ``LOCAL_RANK``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``resume``, ``amp``,
        ``auto_scale_lr`` and the common ``work_dir``, ``cfg_options``,
        ``launcher``, ``local_rank``.
    """
    parser = argparse.ArgumentParser(
        description='Train an lkmm model (classification, segmentation or '
        'detection config)')
    parser.add_argument('config', help='train config file')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by the actual total batch size '
        '(needs auto_scale_lr.base_batch_size in the config)')
    return _parse_common(parser, argv)


def run_train(args: argparse.Namespace) -> Runner:
    """Build a Runner from a config and train.

    Args:
        args (argparse.Namespace): From :func:`parse_train_args`.

    Returns:
        Runner: The runner, after training.

    Raises:
        SystemExit: a missing dataset, or a ``load_from`` checkpoint file
            that cannot be loaded (one message, no traceback).
        ValueError: ``--auto-scale-lr`` without
            ``auto_scale_lr.base_batch_size`` in the config.
    """
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    if args.amp:
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs '
                             'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    loaders = ['train_dataloader']
    if cfg.get('val_cfg') and cfg.get('val_dataloader'):
        loaders.append('val_dataloader')
    _check_data_or_exit('train', cfg, loaders)
    if cfg.get('load_from') and not cfg.get('resume'):
        _check_checkpoint_or_exit('train', cfg.load_from)
    check_pretrained_set(cfg)
    runner = build_runner(cfg, args.launcher)
    runner.train()
    finish_distributed()
    return runner


def train_main(argv: Optional[List[str]] = None) -> int:
    """``tools/train.py``; a missing dataset or checkpoint exits with a
    message, other errors keep their traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_train_args, run_train, argv)


def parse_test_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Arguments of ``tools/test.py``; exports ``LOCAL_RANK``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``checkpoint``, ``out``, ``show``,
        ``show_dir``, ``wait_time``, ``tta`` and the common ``work_dir``,
        ``cfg_options``, ``launcher``, ``local_rank``.
    """
    parser = argparse.ArgumentParser(
        description='Evaluate an lkmm model checkpoint')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument(
        '--show', action='store_true', help='show predictions in a window')
    parser.add_argument(
        '--show-dir', help='save painted predictions to this folder')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='--show interval (s)')
    parser.add_argument(
        '--tta', action='store_true',
        help='test-time augmentation: the config\'s tta_pipeline (e.g. '
        'multi-scale + flip) and tta_model')
    return _parse_common(parser, argv)


def _enable_visualization(cfg: Config, args) -> None:
    hooks = cfg.get('default_hooks', {})
    if 'visualization' not in hooks:
        raise ValueError('--show / --show-dir need a "visualization" hook '
                         'in default_hooks')
    hook = hooks.visualization
    scope = cfg.get('default_scope')
    if scope == 'mmpretrain':
        hook.enable = True
        if args.show_dir:
            hook.out_dir = args.show_dir
    else:
        hook.draw = True
        if args.show_dir:
            if scope == 'mmdet':
                hook.test_out_dir = args.show_dir
            else:
                cfg.visualizer.save_dir = args.show_dir
    if args.show:
        hook.show = True
        hook.wait_time = args.wait_time


def run_test(args: argparse.Namespace) -> dict:
    """Evaluate a checkpoint.

    Args:
        args (argparse.Namespace): From :func:`parse_test_args`.

    Returns:
        dict: The metrics.

    Raises:
        SystemExit: a missing dataset, or a checkpoint file that cannot be
            loaded (one message, no traceback).
        ValueError: ``--out`` not a .pkl file, or ``--show`` /
            ``--show-dir`` without a visualization hook.
    """
    cfg = load_config(args.config, args.cfg_options, args.work_dir)
    _check_checkpoint_or_exit('test', args.checkpoint)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.show or args.show_dir:
        _enable_visualization(cfg, args)
    if args.tta:
        apply_tta(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must end with .pkl or .pickle, got '
                             f'{args.out}')
        evaluator = cfg.test_evaluator
        dump = dict(type='mmengine.DumpResults', out_file_path=args.out)
        cfg.test_evaluator = (list(evaluator) if isinstance(
            evaluator, (list, tuple)) else [evaluator]) + [dump]
    _check_data_or_exit('test', cfg, ['test_dataloader'])
    runner = build_runner(cfg, args.launcher)
    metrics = runner.test()
    finish_distributed()
    return metrics


def test_main(argv: Optional[List[str]] = None) -> int:
    """``tools/test.py``; a missing dataset or checkpoint exits with a
    message, other errors keep their traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_test_args, run_test, argv)
