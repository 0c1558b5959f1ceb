"""``tools/deploy/reparameterize.py``: the folded checkpoint and config of
a trained model (:mod:`lkmm.deploy.reparameterize`)."""
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
)


def parse_reparameterize_args(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(
        description='Fold the re-parameterizable branches of a trained '
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


def reparameterize_main(argv: Optional[List[str]] = None) -> dict:
    """``tools/deploy/reparameterize.py``; user errors exit without a
    traceback.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv`` when None.

    Returns:
        dict: What :func:`reparameterize_checkpoint` returns.
    """
    args = parse_reparameterize_args(argv)
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
