"""Whole models on one device: throughput, DW-conv share, peak memory.

Needs mmengine and mmcv's Python part (``mmcv-lite`` will do) besides torch
and timm: lkmm's backbones are OpenMMLab modules. Each model is a classifier
(backbone, global average pooling, 1000-way linear head); inference runs the
deployed form, as the papers' throughput tables do.

``lkmm`` columns run lkmm's depth-wise op with the plan in effect (the CUDA
rules), ``torch`` columns force ``nn.Conv2d``'s kernel everywhere
(``depthwise_conv_impl('torch')``), both in the same process.
"""
import copy
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterator, List, Optional

import torch
import torch.nn as nn

from lkmm.ops import depthwise_conv2d, depthwise_conv_impl

from .timing import Deadline, median, sync, time_fn

__all__ = ['ModelResult', 'model_builders', 'measure_models',
           'dwconv_share', 'model_plan', 'HEADLINE_MODELS']


class _Classifier(nn.Module):
    """Backbone -> last output -> (pool) -> linear head."""

    def __init__(self, backbone: nn.Module, num_classes: int = 1000,
                 probe_size: int = 64):
        super().__init__()
        self.backbone = backbone
        with torch.no_grad():
            was_training = backbone.training
            backbone.eval()
            feat = self._features(torch.zeros(1, 3, probe_size, probe_size))
            backbone.train(was_training)
        self.head = nn.Linear(feat.shape[1], num_classes)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        return out.mean((2, 3)) if out.dim() == 4 else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(x))

    def switch_to_deploy(self):
        if hasattr(self.backbone, 'switch_to_deploy'):
            self.backbone.switch_to_deploy()
        return self


def model_builders(smoke: bool = False) -> Dict[str, Callable[[], nn.Module]]:
    """Name -> builder of the benchmarked classifiers (tiny ones for a CPU
    smoke run)."""
    from lkmm.models import LargeKernelConvNeXt, ParCNetV2, RepLKNet

    if smoke:
        lk = dict(depths=[1, 1, 1, 1], channels=[16, 16, 24, 32])
        return {
            'RepLKNet-31B': lambda: _Classifier(RepLKNet(
                arch=dict(channels=[8, 16, 24, 32], layers=[1, 1, 1, 1],
                          kernel_sizes=[13, 11, 9, 7], small_kernel=3,
                          dw_ratio=1, ffn_ratio=2))),
            'Swin-B': _timm('resnet18'),
            'PeLK-T': lambda: _Classifier(LargeKernelConvNeXt(arch=dict(
                lk, kernel_sizes=[15, 13, 11, 7], form='peripheral',
                partial_ratio=3 / 8, pos_embed=True, centre_size=3))),
            'SLaK-T': lambda: _Classifier(LargeKernelConvNeXt(arch=dict(
                lk, kernel_sizes=[15, 13, 11, 7], form='stripe'))),
            'PeLK-101-T': lambda: _Classifier(LargeKernelConvNeXt(arch=dict(
                lk, kernel_sizes=[21, 13, 11, 7], form='peripheral',
                partial_ratio=3 / 8, pos_embed=True, centre_size=3))),
            'ParCNetV2-26M': lambda: _Classifier(ParCNetV2(
                arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 24, 32]),
                train_size=64)),
        }
    pelk_101_t = dict(LargeKernelConvNeXt.arch_zoo['pelk-t'],
                      kernel_sizes=[101, 69, 67, 13], centre_size=7)
    return {
        'RepLKNet-31B': lambda: _Classifier(RepLKNet(arch='31B')),
        'Swin-B': _timm('swin_base_patch4_window7_224'),
        'PeLK-T': lambda: _Classifier(LargeKernelConvNeXt(arch='pelk-t')),
        'SLaK-T': lambda: _Classifier(LargeKernelConvNeXt(arch='slak-t')),
        'PeLK-101-T': lambda: _Classifier(
            LargeKernelConvNeXt(arch=pelk_101_t)),
        'ParCNetV2-26M': lambda: _Classifier(ParCNetV2(arch='26m')),
    }


def _timm(name: str) -> Callable[[], nn.Module]:
    def build():
        import timm
        return timm.create_model(name, pretrained=False, num_classes=1000)

    return build


@dataclass
class ModelResult:
    """One model, one mode, one dtype, one implementation.

    Args:
        model (str): Name.
        mode (str): ``'inference'`` (deployed form) or ``'train'`` (a full
            SGD step).
        dtype (str): ``'fp32'`` or ``'bf16'`` (AMP).
        impl (str): ``'lkmm'`` or ``'torch'``.
        batch (int): Images per step.
        ms (float, optional): Median ms per step (None: not measured).
        peak_mem_gib (float, optional): Peak allocated memory (CUDA).
        dwconv_share (float, optional): Fraction of the step spent in
            depth-wise convolutions (train, RepLKNet-31B).
        note (str): Why something is missing.
    """
    model: str
    mode: str
    dtype: str
    impl: str
    batch: int
    ms: Optional[float] = None
    peak_mem_gib: Optional[float] = None
    dwconv_share: Optional[float] = None
    note: str = ''
    extra: Dict[str, float] = field(default_factory=dict)

    @property
    def images_per_s(self) -> Optional[float]:
        return None if not self.ms else self.batch / self.ms * 1e3

    def to_dict(self) -> dict:
        out = asdict(self)
        out['images_per_s'] = self.images_per_s
        return out


def _autocast(device: torch.device, dtype: str):
    if dtype == 'fp32':
        return nullcontext()
    return torch.autocast(device.type, dtype=dict(
        bf16=torch.bfloat16, fp16=torch.float16)[dtype])


@contextmanager
def _impl(impl: str) -> Iterator[None]:
    with depthwise_conv_impl('torch' if impl == 'torch' else 'auto'):
        yield


def _train_step(model, x, labels, opt, device, dtype):
    def step():
        with _autocast(device, dtype):
            loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    return step


def _infer(model, x, device, dtype):
    def run():
        with torch.no_grad(), _autocast(device, dtype):
            return model(x)

    return run


def _reset_peak(device):
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device) -> Optional[float]:
    if device.type != 'cuda':
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30


def dwconv_share(model: nn.Module, x: torch.Tensor, step_ms: float,
                 device: torch.device, dtype: str, impl: str) -> float:
    """Share of a training step spent in lkmm's depth-wise convolutions.

    Records every :class:`~lkmm.layers.DepthwiseConv2d` call of one forward
    (input shape, dtype, memory format, kernel), then times the same
    convolutions' forward + backward alone, in order, with the same autocast
    and implementation, and divides by the whole step's time.
    """
    from lkmm.layers import DepthwiseConv2d
    calls = []

    def hook(module, inputs, output):
        t = inputs[0]
        if module.uses_fast_op:
            calls.append((tuple(t.shape), t.dtype,
                          t.is_contiguous(memory_format=torch.channels_last)
                          and not t.is_contiguous(), module.kernel_size,
                          module.bias is not None))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, DepthwiseConv2d)]
    try:
        with torch.no_grad(), _autocast(device, dtype), _impl(impl):
            model(x)
    finally:
        for h in handles:
            h.remove()
    tensors = []
    for shape, t_dtype, cl, (kh, kw), has_bias in calls:
        xi = torch.randn(shape, device=device, dtype=t_dtype)
        if cl:
            xi = xi.contiguous(memory_format=torch.channels_last)
        w = torch.randn(shape[1], 1, kh, kw, device=device) / (kh * kw)
        b = torch.zeros(shape[1], device=device) if has_bias else None
        tensors.append((xi.requires_grad_(), w.requires_grad_(),
                        None if b is None else b.requires_grad_()))

    def replay():
        with _autocast(device, dtype), _impl(impl):
            for xi, w, b in tensors:
                out = depthwise_conv2d(xi, w, b)
                out.backward(torch.ones_like(out))

    replay_ms = median(time_fn(replay, device))
    return replay_ms / step_ms


#: The rows the targets need, measured before the rest: (model, mode,
#: dtype, impl).
HEADLINE_MODELS = (
    ('RepLKNet-31B', 'inference', 'fp32', 'lkmm'),
    ('Swin-B', 'inference', 'fp32', 'torch'),
    ('PeLK-T', 'inference', 'fp32', 'lkmm'),
    ('SLaK-T', 'inference', 'fp32', 'lkmm'),
    ('RepLKNet-31B', 'train', 'fp32', 'lkmm'),
)


def model_plan() -> List[tuple]:
    """Every row of the model section: RepLKNet-31B train and inference,
    fp32 and bf16, lkmm and torch, DW share of the train step, peak memory;
    Swin-B (timm) the same with its own kernels; PeLK-T, SLaK-T, PeLK-101-T
    and ParCNetV2-26M: fp32 inference, lkmm and torch."""
    plan = []
    for dtype in ('fp32', 'bf16'):
        for mode in ('inference', 'train'):
            for impl in ('lkmm', 'torch'):
                plan.append(('RepLKNet-31B', mode, dtype, impl))
            plan.append(('Swin-B', mode, dtype, 'torch'))
    for name in ('PeLK-T', 'SLaK-T', 'PeLK-101-T', 'ParCNetV2-26M'):
        for impl in ('lkmm', 'torch'):
            plan.append((name, 'inference', 'fp32', impl))
    return plan


def measure_models(device: torch.device, deadline: Deadline,
                   batch: int = 64, size: int = 224, smoke: bool = False,
                   log=print, plan: Optional[List[tuple]] = None,
                   results: Optional[List[ModelResult]] = None,
                   after_each: Optional[Callable[[], None]] = None
                   ) -> List[ModelResult]:
    """Measure the rows of ``plan`` (:func:`model_plan` when None).

    Args:
        results (list, optional): Each row's result is appended here as it
            starts (the report shows it as soon as it exists).
        after_each (callable, optional): Called after each row.

    Returns:
        list[ModelResult]: ``results`` with the new rows.
    """
    builders = model_builders(smoke)
    results = [] if results is None else results
    built: Dict[str, nn.Module] = {}
    for name, mode, dtype, impl in (model_plan() if plan is None else plan):
        result = ModelResult(name, mode, dtype, impl, batch)
        results.append(result)
        if deadline.passed():
            result.note = 'not measured (time budget)'
            continue
        try:
            if name not in built:
                built.clear()  # one model on the device at a time
                if device.type == 'cuda':
                    torch.cuda.empty_cache()
                torch.manual_seed(0)
                built[name] = builders[name]().to(device)
            model = built[name]
            if mode == 'inference':
                model = copy.deepcopy(model).eval()
                if hasattr(model, 'switch_to_deploy'):
                    model.switch_to_deploy()
            else:
                model.train()
            # Made on the device (host generation and copies cost seconds).
            gen = torch.Generator(device=device).manual_seed(1)
            x = torch.randn(batch, 3, size, size, generator=gen,
                            device=device)
            labels = torch.randint(0, 1000, (batch, ), generator=gen,
                                   device=device)
            if mode == 'train':
                opt = torch.optim.SGD(model.parameters(), lr=1e-4,
                                      momentum=0.9)
                fn = _train_step(model, x, labels, opt, device, dtype)
            else:
                fn = _infer(model, x, device, dtype)
            with _impl(impl):
                _reset_peak(device)
                result.ms = median(time_fn(fn, device, min_reps=5,
                                           min_seconds=0.5))
                sync(device)
                result.peak_mem_gib = _peak(device)
            if mode == 'train' and name == 'RepLKNet-31B':
                result.dwconv_share = dwconv_share(model, x, result.ms,
                                                   device, dtype, impl)
            del model
        except Exception as err:  # report, go on with the next model
            result.note = f'failed: {type(err).__name__}: {err}'[:300]
        if log is not None:
            log(f'[models] {name} {mode} {dtype} {impl}: ' + (
                f'{result.images_per_s:.1f} img/s' if result.ms else
                result.note) + (f', DW share {result.dwconv_share:.1%}'
                                if result.dwconv_share is not None else ''))
        if after_each is not None:
            after_each()
    return results
