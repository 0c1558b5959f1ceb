"""Options that several tools share, defined once, and
:func:`exit_status`, the one way a tool's ``*_main`` turns its run into an
exit status."""
import argparse
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple, Type

__all__ = ['add_device_option', 'add_shape_option', 'add_cfg_options_option',
           'add_check_options', 'device_or_exit', 'shape_or_exit',
           'int_list', 'name_list', 'exit_status']


def add_device_option(parser: argparse.ArgumentParser,
                      default: Optional[str] = None) -> None:
    """``--device``: cpu, cuda or cuda:N."""
    what = 'cuda when available, else cpu' if default is None else default
    parser.add_argument('--device', default=default,
                        help=f'cpu, cuda or cuda:N (default: {what})')


def add_shape_option(parser: argparse.ArgumentParser,
                     square: bool = False) -> None:
    """``--shape H W`` (or one N for NxN with ``square``), default from the
    config."""
    parser.add_argument(
        '--shape', type=int, nargs='+' if square else 2,
        metavar='N' if square else ('H', 'W'),
        help='input height and width' + (' (or one N for NxN)'
                                         if square else '') +
        '; default: the config\'s test pipeline or data preprocessor size, '
        'else 224 224')


def add_cfg_options_option(parser: argparse.ArgumentParser,
                           extra: str = '') -> None:
    """``--cfg-options key=value ...`` (mmengine's DictAction)."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. model.backbone.with_cp=False'
        + extra)


def add_check_options(parser: argparse.ArgumentParser,
                      comparison: str) -> None:
    """The deploy tools' ``--tolerance`` of the output check and the
    ``--bench-warmup`` / ``--bench-iters`` of their timing."""
    parser.add_argument(
        '--tolerance', type=float, default=1e-4,
        help='largest allowed output difference relative to the output '
        'scale (default 1e-4)')
    parser.add_argument('--bench-warmup', type=int, default=2,
                        help=f'warm-up runs of the {comparison}')
    parser.add_argument(
        '--bench-iters', type=int, default=5,
        help=f'timed runs of the {comparison} (0 skips it)')


def device_or_exit(tool: str, device: Optional[str]):
    """The resolved device; a usage error (no traceback) when unusable."""
    from lkmm.utils.device import resolve_device
    try:
        return resolve_device(device)
    except RuntimeError as err:
        raise SystemExit(f'{tool}: {err}')


def shape_or_exit(tool: str, shape: Optional[List[int]]):
    """``(H, W)`` from ``--shape`` (None stays None); a usage error for a
    wrong count or non-positive values."""
    if shape is None:
        return None
    if len(shape) == 1:
        shape = [shape[0], shape[0]]
    if len(shape) != 2:
        raise SystemExit(f'{tool}: --shape takes H W or one N, got '
                         f'{len(shape)} values')
    if min(shape) < 1:
        raise SystemExit(f'{tool}: --shape values must be positive, got '
                         f'{tuple(shape)}')
    return tuple(shape)


def int_list(text: str) -> List[int]:
    """argparse type: comma-separated integers."""
    try:
        return [int(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'expected comma-separated integers, got {text!r}') from None


def name_list(text: str) -> List[str]:
    """argparse type: comma-separated names."""
    return [v.strip() for v in text.split(',') if v.strip()]


def exit_status(
        parse: Callable[[Optional[Sequence[str]]], argparse.Namespace],
        run: Callable[[argparse.Namespace], Any],
        argv: Optional[Sequence[str]] = None,
        errors: Tuple[Type[Exception], ...] = (),
        status: int = 1) -> int:
    """Parse ``argv``, run the tool, return its exit status.

    Every ``*_main`` goes through here, so that a tool script is
    ``sys.exit(x_main())`` and tests use ``run_x(parse_x_args(...))`` for
    the rich result.

    Args:
        parse (callable): The tool's ``parse_<tool>_args``.
        run (callable): The tool's ``run_<tool>``; its result is dropped.
        argv (list[str], optional): Command line without the program name;
            ``sys.argv[1:]`` when None.
        errors (tuple[type]): The failures the tool expects: each becomes
            one ``error: ...`` line on stderr and ``status``.
        status (int): Exit status of those failures.

    Returns:
        int: 0 once ``run`` returns, else ``status``.

    Raises:
        SystemExit: passed on as the tool raises it: argparse's usage
            errors (status 2) and the ``tool: message`` exits of its
            checks (status 1).
    """
    args = parse(argv)
    try:
        run(args)
    except errors as err:
        print(f'error: {err}', file=sys.stderr)
        return status
    return 0
