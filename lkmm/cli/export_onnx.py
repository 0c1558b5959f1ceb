"""``tools/deploy/export_onnx.py``: a deployed model as a checked ONNX file
(:mod:`lkmm.deploy.onnx_export`).

Usage::

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT OUT.onnx
        [--shape H W] [--batch-size N] [--dynamic] [--device DEV]
        [--opset 17] [--tolerance T] [--cfg-options ...]

Exit status: 0; 1 with an ``export_onnx: ...`` message for bad options, a
checkpoint that does not fit, a failed export or check, or a missing
package.
"""
import argparse
from typing import List, Optional

from .options import (
    add_cfg_options_option,
    add_check_options,
    add_device_option,
    add_shape_option,
    device_or_exit,
    exit_status,
    shape_or_exit,
)

__all__ = ['parse_export_onnx_args', 'run_export_onnx', 'export_onnx_main']


def parse_export_onnx_args(argv: Optional[List[str]] = None
                           ) -> argparse.Namespace:
    """Arguments of ``tools/deploy/export_onnx.py``.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: ``config``, ``checkpoint``, ``out``, ``shape``,
        ``batch_size``, ``dynamic``, ``device``, ``opset``, the check
        options and ``cfg_options``.
    """
    parser = argparse.ArgumentParser(
        description='Deploy a trained checkpoint and export it to ONNX (plain '
        'convolutions, no FFT), checked with onnxruntime against PyTorch')
    parser.add_argument('config', help='training or deployed config')
    parser.add_argument('checkpoint', help='its checkpoint (loaded strictly)')
    parser.add_argument('out', help='the .onnx file to write')
    add_shape_option(parser)
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images in the example batch (default 1)')
    parser.add_argument(
        '--dynamic', action='store_true',
        help='dynamic batch, and dynamic height and width where the model '
        'allows (checked on a batch of another size)')
    add_device_option(parser)
    parser.add_argument('--opset', type=int, default=17,
                        help='ONNX opset, >= 17 (default 17)')
    add_check_options(parser, 'latency comparison')
    add_cfg_options_option(parser)
    return parser.parse_args(argv)


def run_export_onnx(args: argparse.Namespace) -> dict:
    """Deploy, export, check against PyTorch and print a summary line.

    Args:
        args (argparse.Namespace): From :func:`parse_export_onnx_args`.

    Returns:
        dict: What :func:`lkmm.deploy.onnx_export.export_onnx` returns.

    Raises:
        SystemExit: bad options, a checkpoint that does not fit, a failed
            export or check, or a missing package (one message, no
            traceback).
    """
    device = device_or_exit('export_onnx', args.device)
    shape = shape_or_exit('export_onnx', args.shape)
    if args.batch_size < 1:
        raise SystemExit('export_onnx: --batch-size must be positive')
    if args.opset < 17:
        raise SystemExit(f'export_onnx: --opset must be >= 17, got '
                         f'{args.opset}')
    from lkmm.deploy.onnx_export import (
        OnnxExportError,
        UnsupportedModelError,
        export_onnx,
    )
    from lkmm.deploy.reparameterize import (
        CheckpointMismatchError,
        DeployVerificationError,
    )
    try:
        result = export_onnx(
            args.config, args.checkpoint, args.out, input_shape=shape,
            batch_size=args.batch_size, dynamic=args.dynamic, device=device,
            cfg_options=args.cfg_options, opset=args.opset,
            tolerance=args.tolerance, bench_warmup=args.bench_warmup,
            bench_iters=args.bench_iters)
    except (CheckpointMismatchError, DeployVerificationError,
            OnnxExportError, UnsupportedModelError, FileNotFoundError,
            ImportError) as err:
        raise SystemExit(f'export_onnx: {err}')
    print(f'{result["out"]}: {result["file_size"] / 2**20:.2f} MiB, max '
          f'relative difference to PyTorch {result["relative_diff"]:.3g}, '
          f'dynamic axes: {", ".join(result["dynamic_axes"]) or "none"}',
          flush=True)
    return result


def export_onnx_main(argv: Optional[List[str]] = None) -> int:
    """``tools/deploy/export_onnx.py``; user errors exit without a
    traceback.

    Args:
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.

    Returns:
        int: The exit status, 0.
    """
    return exit_status(parse_export_onnx_args, run_export_onnx, argv)
