"""``tools/deploy/reparameterize.py``: the deployed checkpoint and config of
a trained model (:mod:`lkmm.deploy.reparameterize`).

Usage::

    python tools/deploy/reparameterize.py CONFIG CHECKPOINT OUT.pth
        [--out-config OUT.py] [--shape H W] [--batch-size N] [--device DEV]
        [--tolerance T] [--cfg-options ...]

Exit status: 0; 1 with a ``reparameterize: ...`` message for a bad device,
a missing file, a checkpoint that does not fit or a failed output check.
"""
import argparse
from typing import List, Optional

from lkmm.deploy.reparameterize import (
    CheckpointMismatchError,
    DeployVerificationError,
    reparameterize_checkpoint,
)

from .options import (
    add_cfg_options_option,
    add_check_options,
    add_device_option,
    add_shape_option,
    device_or_exit,
    exit_status,
)

__all__ = ['parse_reparameterize_args', 'run_reparameterize',
           'reparameterize_main']


def parse_reparameterize_args(argv: Optional[List[str]] = None
                              ) -> argparse.Namespace:
    """Arguments of ``tools/deploy/reparameterize.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``checkpoint``, ``out``,
        ``out_config``, ``shape``, ``batch_size``, ``device``, the check
        options and ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Deploy the re-parameterizable branches of a trained '
        'checkpoint: writes the deployed checkpoint and its config')
    parser.add_argument('config', help='training config')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument('out', help='deployed checkpoint to write')
    parser.add_argument(
        '--out-config', help='deployed config to write (default: OUT with a '
        '.py suffix)')
    add_shape_option(parser)
    parser.add_argument('--batch-size', type=int, default=2,
                        help='images in the check batch (default 2)')
    add_device_option(parser)
    add_check_options(parser, 'speed comparison')
    add_cfg_options_option(parser, ' (kept in the deployed config)')
    return parser.parse_args(argv)


def run_reparameterize(args: argparse.Namespace) -> dict:
    """Deploy the checkpoint, check it and write the deployed pair.

    Args:
        args (argparse.Namespace): From :func:`parse_reparameterize_args`.

    Returns:
        dict: What :func:`reparameterize_checkpoint` returns.

    Raises:
        SystemExit: a bad device, a missing file, a checkpoint that does
            not fit or a failed output check (one message, no traceback).
    """
    # Checked first: a bad --device is a usage error, not a crash.
    device = device_or_exit('reparameterize', args.device)
    try:
        return reparameterize_checkpoint(
            args.config, args.checkpoint, args.out,
            out_config=args.out_config, input_shape=args.shape,
            batch_size=args.batch_size, device=device,
            cfg_options=args.cfg_options, tolerance=args.tolerance,
            bench_warmup=args.bench_warmup, bench_iters=args.bench_iters)
    except (CheckpointMismatchError, DeployVerificationError,
            FileNotFoundError) as err:
        raise SystemExit(f'reparameterize: {err}')


def reparameterize_main(argv: Optional[List[str]] = None) -> int:
    """``tools/deploy/reparameterize.py``; user errors exit without a
    traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_reparameterize_args, run_reparameterize, argv)
