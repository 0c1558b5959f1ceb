"""Where a model's time goes, by layer type: large and small depth-wise
convolutions, pointwise layers, dense convolutions, norms, activations and
the rest, for a deployed forward or a training step.

Why: a model can be slower than its peers for reasons that have nothing
to do with its large kernels; the breakdown says which part holds it.

How: one run under ``torch.profiler`` (CPU self time of every operator).
While profiling, every module that answers :func:`module_category` opens a
``record_function`` label around its forward, so an operator is charged to
the innermost labelled module around it (the FFTs of a large-kernel layer
count as that layer), or else to its own kind (``aten::gelu`` is an
activation, a ``(C, 1, k, k)`` convolution weight a depth-wise one).
Backward work is charged to the category of the forward operator that
created it (the profiler's sequence numbers link the two). A module may
declare its category in the class attribute ``breakdown_category``.
"""
import copy
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _NormBase
from torch.profiler import ProfilerActivity, profile, record_function

__all__ = [
    'CATEGORIES', 'TimeBreakdown', 'module_category', 'op_category',
    'profile_breakdown', 'model_breakdown', 'format_breakdowns'
]

DW_LARGE, DW_SMALL = 'depth-wise large', 'depth-wise small'
POINTWISE, DENSE_CONV = 'pointwise', 'dense conv'
NORM, ACTIVATION, REST = 'norm', 'activation', 'rest'
#: The categories, in the order tables list them.
CATEGORIES = (DW_LARGE, DW_SMALL, POINTWISE, DENSE_CONV, NORM, ACTIVATION,
              REST)
#: Kernels wider than this count as large (RepLKNet's small kernel is 5,
#: ConvNeXt's 7).
LARGE_KERNEL = 7
_LABEL = 'lkmm.breakdown::'
_BACKWARD = 'autograd::engine::evaluate_function'
_CONV_OPS = ('aten::conv2d', 'aten::convolution', 'aten::_convolution',
             'aten::convolution_backward')
_NORM_OPS = ('aten::batch_norm', 'aten::layer_norm', 'aten::group_norm',
             'aten::native_batch_norm', 'aten::native_layer_norm',
             'aten::native_group_norm', 'aten::_batch_norm_impl_index')
_ACTIVATION_OPS = ('aten::gelu', 'aten::relu', 'aten::relu_', 'aten::silu',
                   'aten::silu_', 'aten::sigmoid', 'aten::hardswish',
                   'aten::hardswish_', 'aten::hardtanh', 'aten::hardtanh_',
                   'aten::leaky_relu', 'aten::leaky_relu_', 'aten::elu',
                   'aten::tanh', 'aten::softplus', 'aten::mish')
_LINEAR_OPS = ('aten::linear', 'aten::addmm')


def _conv_category(weight_shape: Sequence[int], groups: int,
                   in_channels: int) -> str:
    """Category of a 2-D convolution from its weight ``(O, I/g, KH, KW)``."""
    kh, kw = weight_shape[-2:]
    if kh == kw == 1:
        return POINTWISE
    if weight_shape[1] == 1 and groups == in_channels and groups > 1:
        return DW_LARGE if max(kh, kw) > LARGE_KERNEL else DW_SMALL
    return DENSE_CONV


def module_category(module: nn.Module) -> Optional[str]:
    """The category a module's forward is charged to, or None.

    Args:
        module (nn.Module): Any module.

    Returns:
        str | None: Its ``breakdown_category`` if it declares one; a
        depth-wise category by its ``depthwise_kernel_size`` if it has one
        (lkmm's large-kernel layers); else from its type (convolutions by
        weight shape, ``nn.Linear`` pointwise, norms, ``torch.nn``
        activations); None for containers and others.
    """
    declared = getattr(module, 'breakdown_category', None)
    if declared is not None:
        return declared
    kernel = getattr(module, 'depthwise_kernel_size', None)
    if isinstance(kernel, int):  # lkmm's large-kernel layers say so
        return DW_LARGE if kernel > LARGE_KERNEL else DW_SMALL
    if isinstance(module, nn.Conv2d):
        return _conv_category(module.weight.shape, module.groups,
                              module.in_channels)
    if isinstance(module, nn.Linear):
        return POINTWISE
    if isinstance(module, (_NormBase, nn.LayerNorm, nn.GroupNorm)) or \
            type(module).__name__.endswith(('Norm', 'Norm2d')):
        return NORM
    if type(module).__module__ == 'torch.nn.modules.activation':
        return ACTIVATION
    return None


def op_category(name: str, input_shapes: Sequence) -> Optional[str]:
    """The category of one profiled operator by its own kind, or None.

    Args:
        name (str): The operator (``'aten::gelu'``) or a label this module
            writes (``'lkmm.breakdown::norm'``).
        input_shapes (Sequence): The profiler's recorded input shapes.

    Returns:
        str | None: The category, or None when the operator alone does not
        say (an addition, an FFT, a copy).
    """
    if name.startswith(_LABEL):
        return name[len(_LABEL):]
    if name in _ACTIVATION_OPS:
        return ACTIVATION
    if name in _NORM_OPS:
        return NORM
    if name in _LINEAR_OPS:
        return POINTWISE
    if name in _CONV_OPS and len(input_shapes) > 2:
        x, w = input_shapes[:2] if name != 'aten::convolution_backward' \
            else input_shapes[1:3]
        if len(x) == 4 and len(w) == 4 and w[1]:
            return _conv_category(w, x[1] // w[1], x[1])
    return None


@dataclass
class TimeBreakdown:
    """Milliseconds per step by category.

    Attributes:
        name (str): What was measured (e.g. ``'deploy'``, ``'train'``).
        steps (int): Profiled steps the figures are averaged over.
        ms (dict): Category -> ms per step (every category present).
    """
    name: str
    steps: int
    ms: Dict[str, float] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        """All profiled operator time per step."""
        return sum(self.ms.values())

    def share(self, category: str) -> float:
        """``category``'s fraction of :attr:`total_ms`."""
        return self.ms[category] / self.total_ms if self.total_ms else 0.


class _ModuleLabels:
    """Forward hooks that wrap each categorised module's forward in a
    ``record_function`` label while installed (a context manager)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.handles: List = []

    def __enter__(self):
        for module in self.model.modules():
            category = module_category(module)
            if category is not None:
                self.handles.append(module.register_forward_pre_hook(
                    _enter_label(_LABEL + category)))
                self.handles.append(module.register_forward_hook(
                    _exit_label))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.handles = []


def _enter_label(label: str) -> Callable:
    def hook(module, args):
        context = record_function(label)
        context.__enter__()
        module.__dict__.setdefault('_breakdown_labels', []).append(context)
    return hook


def _exit_label(module, args, output):
    module.__dict__['_breakdown_labels'].pop().__exit__(None, None, None)


def _categorise(events) -> Dict[str, float]:
    """Self CPU microseconds by category over the profiled events.

    Two passes: the forward operators' categories first (by sequence
    number), then every event, so the order the profiler lists events in
    (per thread, not always by time) does not matter.
    """
    events = list(events)
    forward_of = {}  # sequence number -> category of its forward operator
    for event in events:
        if event.sequence_nr >= 0:
            category, backward = _event_category(event, {})
            if not backward:
                forward_of.setdefault(event.sequence_nr, category)
    totals = defaultdict(float)
    for event in events:
        category, _ = _event_category(event, forward_of)
        totals[category] += event.self_cpu_time_total
    return totals


def _event_category(event, forward_of: Dict[int, str]):
    """``(category, in backward)`` of one event, in one walk up its
    ancestors: the first of itself and its ancestors that says, where no
    backward node comes before it; else the backward node's forward's."""
    category, node = None, event
    while node is not None:
        if node.name.startswith(_BACKWARD):
            return category or forward_of.get(node.sequence_nr, REST), True
        if category is None:
            category = op_category(node.name, node.input_shapes or ())
        node = node.cpu_parent
    return category or REST, False


def profile_breakdown(step: Callable[[], object], model: nn.Module,
                      steps: int = 3, warmup: int = 1,
                      name: str = 'step') -> TimeBreakdown:
    """Profile ``step()`` and charge its operator time to categories.

    Args:
        step (callable): One step (a forward, or forward and backward).
        model (nn.Module): The modules ``step`` runs, labelled while
            profiling.
        steps (int): Profiled steps (the figures are their mean).
            Defaults to 3.
        warmup (int): Unprofiled steps first. Defaults to 1.
        name (str): Name of the result. Defaults to ``'step'``.

    Returns:
        TimeBreakdown: ms per step by category.

    Raises:
        ValueError: ``steps`` below 1 or ``warmup`` below 0.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f'steps must be >= 1 and warmup >= 0, got steps='
                         f'{steps}, warmup={warmup}')
    for _ in range(warmup):
        step()
    with _ModuleLabels(model), profile(activities=[ProfilerActivity.CPU],
                                       record_shapes=True) as prof:
        for _ in range(steps):
            step()
    totals = _categorise(prof.events())
    return TimeBreakdown(name=name, steps=steps, ms={
        c: totals.get(c, 0.) / 1000 / steps for c in CATEGORIES})


def model_breakdown(model: nn.Module, inputs: torch.Tensor,
                    mode: str = 'deploy', steps: int = 3,
                    warmup: int = 1) -> TimeBreakdown:
    """:func:`profile_breakdown` of a deployed forward or a training step.

    Args:
        model (nn.Module): A module taking ``inputs`` (see
            :func:`lkmm.utils.model_outputs.as_tensor_module`); used as
            given (deploy it first for the deployed form). Not modified.
        inputs (Tensor): The batch.
        mode (str): ``'deploy'`` (eval, no gradients) or ``'train'``
            (forward and backward of the mean squared outputs).
        steps (int): Profiled steps. Defaults to 3.
        warmup (int): Unprofiled steps first. Defaults to 1.

    Returns:
        TimeBreakdown: Named ``mode``.

    Raises:
        ValueError: ``mode`` is neither ``'deploy'`` nor ``'train'``.
    """
    from lkmm.utils.model_outputs import flatten_tensors
    if mode not in ('deploy', 'train'):
        raise ValueError(f"mode must be 'deploy' or 'train', got {mode!r}")
    model = copy.deepcopy(model).train(mode == 'train')

    def step():
        if mode == 'deploy':
            with torch.no_grad():
                return model(inputs)
        model.zero_grad(set_to_none=True)
        outs = flatten_tensors(model(inputs))
        sum(o.float().square().mean() for o in outs).backward()

    return profile_breakdown(step, model, steps, warmup, name=mode)


def format_breakdowns(breakdowns: Sequence[TimeBreakdown]) -> str:
    """A table: one row per category, ms and share per breakdown."""
    head = f'{"layer type":<18}' + ''.join(
        f'{b.name + " ms":>14}{"share":>8}' for b in breakdowns)
    lines = [head, '-' * len(head)]
    for category in CATEGORIES + ('total', ):
        row = f'{category:<18}'
        for b in breakdowns:
            ms = b.total_ms if category == 'total' else b.ms[category]
            share = 1. if category == 'total' else b.share(category)
            row += f'{ms:>14.1f}{share:>8.1%}'
        lines.append(row)
    return '\n'.join(lines)
