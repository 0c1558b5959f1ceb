"""The device a tool or analysis runs on."""
from typing import Union

import torch

__all__ = ['DeviceType', 'resolve_device']

DeviceType = Union[str, torch.device, None]


def resolve_device(device: DeviceType = None) -> torch.device:
    """The device to run on, with a clear error for unusable CUDA requests.

    Args:
        device (str | torch.device, optional): ``'cpu'``, ``'cuda'``,
            ``'cuda:N'``...; None picks CUDA when available, else CPU.

    Returns:
        torch.device: The device.

    Raises:
        RuntimeError: CUDA was requested but is not usable here.
    """
    if device is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(device)
    if device.type != 'cuda':
        return device
    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            why = f'this torch build ({torch.__version__}) has no CUDA support'
        else:
            why = (f'torch {torch.__version__} was built with CUDA '
                   f'{torch.version.cuda} but finds no usable GPU (no device '
                   'or no driver)')
        raise RuntimeError(
            f'device "{device}" was requested but CUDA is not available: '
            f'{why}. Use --device cpu (device="cpu").')
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(
            f'device "{device}" was requested but only '
            f'{torch.cuda.device_count()} CUDA device(s) are visible')
    return device
