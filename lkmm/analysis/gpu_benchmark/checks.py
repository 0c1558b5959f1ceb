"""Correctness on the benchmarked device, before anything is timed.

* every part implementation against a float64 ``F.conv2d`` reference of the
  same (rounded) values: fp32, fp16, bf16, NCHW and channels-last, a kernel
  larger than the map and SLaK-style stripes; for fp32 also the Triton
  kernels' opt-in ``tf32x3`` dots (``'triton:tf32x3'`` rows);
* AMP: one training step of a small model of each family under autocast
  (fp16 with a gradient scaler, bf16) with every forced implementation:
  finite loss and finite gradients.
"""
import contextlib
from typing import List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from lkmm.ops import DWCONV_PARTS, depthwise_conv_impl, depthwise_conv_part

from .grid import part_impls
from .timing import Deadline

__all__ = ['check_parts', 'check_amp_steps', 'HALF_TOLERANCE']

#: Largest error allowed, relative to the reference's largest magnitude:
#: twice the half-ulp output rounding of each dtype (fp32: FFT rounding).
HALF_TOLERANCE = {
    torch.float32: 1e-5,
    torch.float16: 1e-3,
    torch.bfloat16: 8e-3
}
_SHAPES = [(4, 16, 32, 32, 31, 31), (2, 8, 14, 14, 51, 51),
           (2, 8, 24, 20, 5, 27), (2, 8, 20, 24, 27, 5),
           (3, 8, 17, 13, 7, 7)]


def _reference(x, w, g):
    x64 = x.double().requires_grad_()
    w64 = w.double().requires_grad_()
    kh, kw = w.shape[-2:]
    out = F.conv2d(x64, w64, padding=(kh // 2, kw // 2), groups=x.shape[1])
    gi, gw = torch.autograd.grad(out, (x64, w64), g.double())
    return dict(forward=out, grad_input=gi, grad_weight=gw)


def _checked_impls(device: torch.device, dtype: torch.dtype) -> List[str]:
    """The part implementations to check; for fp32 Triton also its opt-in
    ``tf32x3`` dots (``'triton:tf32x3'``), whose error the report shows."""
    impls = part_impls(device, dtype)
    if 'triton' in impls and dtype == torch.float32:
        impls.append('triton:tf32x3')
    return impls


def _precision(impl: str):
    if impl == 'triton:tf32x3':
        from lkmm.ops.triton_depthwise_conv import triton_fp32_precision
        return triton_fp32_precision('tf32x3')
    return contextlib.nullcontext()


def check_parts(device: torch.device, shapes=None, log=print,
                deadline: Optional[Deadline] = None) -> List[dict]:
    """One row per (shape, dtype, memory format, part, impl): the error and
    whether it is within :data:`HALF_TOLERANCE`.

    Args:
        device (torch.device): Where to run.
        shapes (list, optional): ``(N, C, H, W, KH, KW)`` tuples; a default
            set (31x31, 51x51 on 14x14, stripes, 7x7) when None.
        deadline (Deadline, optional): Shapes not started by then are left
            out (with a log line).
    """
    rows = []
    for shape in shapes or _SHAPES:
        if deadline is not None and deadline.passed():
            if log is not None:
                log(f'[checks] time budget: shape {shape} and after not '
                    f'checked')
            break
        n, c, h, w, kh, kw = shape
        gen = torch.Generator().manual_seed(sum(shape))
        base = [torch.randn(n, c, h, w, generator=gen),
                torch.randn(c, 1, kh, kw, generator=gen) / (kh * kw)**0.5,
                torch.randn(n, c, h, w, generator=gen)]
        for dtype in HALF_TOLERANCE:
            x, wt, g = (t.to(device, dtype) for t in base)
            want = _reference(x, wt, g)
            for fmt in ('nchw', 'channels_last'):
                if fmt == 'channels_last':
                    x = x.contiguous(memory_format=torch.channels_last)
                    g = g.contiguous(memory_format=torch.channels_last)
                for impl in _checked_impls(x.device, dtype):
                    for part in DWCONV_PARTS:
                        try:
                            with _precision(impl):
                                got = depthwise_conv_part(
                                    part, impl.split(':')[0], x, wt, g)
                            ref = want[part]
                            err = (got.double() - ref).abs().max().item()
                            rel = err / max(ref.abs().max().item(), 1e-12)
                            ok = rel <= HALF_TOLERANCE[dtype]
                            note = ''
                        except Exception as e:  # reported, not fatal
                            rel, ok = None, False
                            note = f'{type(e).__name__}: {e}'[:200]
                        rows.append(dict(shape=shape, dtype=str(dtype)[6:],
                                         format=fmt, impl=impl, part=part,
                                         rel_error=rel, ok=ok, note=note))
    bad = [r for r in rows if not r['ok']]
    if log is not None:
        log(f'[checks] {len(rows) - len(bad)}/{len(rows)} part checks '
            f'within tolerance' + ''.join(
                f'\n  FAILED {r}' for r in bad[:10]))
    return rows


def _tiny_models():
    from lkmm.models import LargeKernelConvNeXt, ParCNetV2, RepLKNet

    from .models import _Classifier
    lk = dict(depths=[1, 1, 1, 1], channels=[16, 16, 24, 32])
    return {
        'RepLKNet': lambda: _Classifier(RepLKNet(arch=dict(
            channels=[16, 16, 24, 32], layers=[1, 1, 1, 1],
            kernel_sizes=[31, 29, 27, 13], small_kernel=5, dw_ratio=1,
            ffn_ratio=2)), num_classes=10),
        'PeLK': lambda: _Classifier(LargeKernelConvNeXt(arch=dict(
            lk, kernel_sizes=[51, 49, 47, 13], form='peripheral',
            partial_ratio=3 / 8, pos_embed=True)), num_classes=10),
        'SLaK': lambda: _Classifier(LargeKernelConvNeXt(arch=dict(
            lk, kernel_sizes=[51, 49, 47, 13], form='stripe')),
            num_classes=10),
        'ParCNetV2': lambda: _Classifier(ParCNetV2(
            arch=dict(depths=[1, 1, 2, 1], channels=[16, 16, 24, 32]),
            train_size=128), num_classes=10),
    }


def check_amp_steps(device: torch.device, size: int = 128, impls=None,
                    log=print, deadline: Optional[Deadline] = None
                    ) -> List[dict]:
    """One AMP training step per family, dtype and forced implementation:
    is the loss finite, are all gradients finite.

    Args:
        device (torch.device): Where to run.
        size (int): Input size. Defaults to 128.
        impls (list[str], optional): Switch values to run; ``auto``,
            ``torch``, ``fft`` and (where it runs) ``triton`` when None.
        deadline (Deadline, optional): Families not started by then are
            left out (with a log line).
    """
    rows = []
    if impls is None:
        impls = ['auto', 'torch', 'fft']
        if 'triton' in part_impls(device, torch.float16):
            impls.append('triton')
    for name, build in _tiny_models().items():
        if deadline is not None and deadline.passed():
            if log is not None:
                log(f'[checks] time budget: AMP steps of {name} and after '
                    f'not run')
            break
        torch.manual_seed(0)
        model = build().to(device).train()
        x = torch.randn(4, 3, size, size, device=device)
        labels = torch.randint(0, 10, (4, ), device=device)
        for dtype in (torch.float16, torch.bfloat16):
            for impl in impls:
                # A modest scale: the check is about the op, not about
                # the scaler's first-step overflow search.
                scaler = torch.amp.GradScaler(
                    device.type, init_scale=256.,
                    enabled=dtype == torch.float16)
                model.zero_grad(set_to_none=True)
                try:
                    with depthwise_conv_impl(impl), torch.autocast(
                            device.type, dtype=dtype):
                        loss = nn.functional.cross_entropy(model(x), labels)
                    scaler.scale(loss).backward()
                    grads_ok = all(
                        torch.isfinite(p.grad).all().item()
                        for p in model.parameters() if p.grad is not None)
                    rows.append(dict(model=name, dtype=str(dtype)[6:],
                                     impl=impl, loss=loss.item(),
                                     ok=bool(torch.isfinite(loss).item()
                                             and grads_ok), note=''))
                except Exception as e:  # reported, not fatal
                    rows.append(dict(model=name, dtype=str(dtype)[6:],
                                     impl=impl, loss=None, ok=False,
                                     note=f'{type(e).__name__}: {e}'[:200]))
    if log is not None:
        bad = [r for r in rows if not r['ok']]
        log(f'[checks] AMP steps: {len(rows) - len(bad)}/{len(rows)} finite'
            + ''.join(f'\n  FAILED {r}' for r in bad))
    return rows
