"""Which implementation computes each part of a depth-wise convolution.

The op (:func:`lkmm.ops.depthwise_conv2d`) has three parts -- forward,
input gradient, weight gradient -- and four implementations of each:

* ``'torch'``: ``F.conv2d`` / ``convolution_backward`` on the tensors as
  they come (oneDNN on CPU; on CUDA ATen's depth-wise kernel for NCHW fp32,
  cuDNN for channels-last);
* ``'channels_last'``: the same after converting NCHW tensors to
  channels-last (on CUDA this selects cuDNN's kernels);
* ``'fft'``: FFTs (:mod:`lkmm.ops.fft_depthwise_conv`; cuFFT on CUDA);
* ``'triton'``: lkmm's Triton kernels (:mod:`lkmm.ops.triton_depthwise_conv`;
  on CPU only under ``TRITON_INTERPRET=1``).

On CPU the rules below come from the grids in docs/depthwise_conv.md. On
CUDA the plan follows :func:`cuda_plan_rules`: measured rules, each naming
the report it comes from. Until a GPU has measured a rule the list is empty
and torch's own kernel runs every part. ``LKMM_DWCONV_CUDA_RULES=rules.json``
(or :func:`set_cuda_plan_rules`) tries other rules, e.g. the ones
``tools/analysis/benchmark_gpu.sh`` proposes from its grid, without
editing code.

The switch (:func:`set_depthwise_conv_impl`, :func:`depthwise_conv_impl`,
``LKMM_DWCONV_IMPL``) forces one implementation everywhere it applies.
"""
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from .fft_depthwise_conv import fft_supports, kernel_reach
from .impl_switch import ImplSwitch
from .triton_depthwise_conv import (
    TRITON_DTYPES,
    triton_available,
    triton_unavailable_reason,
)

__all__ = [
    'DWCONV_IMPLS', 'DWCONV_PART_IMPLS', 'DWCONV_PARTS', 'PlanRule',
    'plan_depthwise_conv', 'set_depthwise_conv_impl',
    'get_depthwise_conv_impl', 'depthwise_conv_impl', 'cuda_plan_rules',
    'set_cuda_plan_rules', 'load_plan_rules', 'CUDA_PLAN_RULES'
]

#: Allowed values of the implementation switch.
DWCONV_IMPLS = ('auto', 'torch', 'fft', 'triton')
#: What can compute one part.
DWCONV_PART_IMPLS = ('torch', 'channels_last', 'fft', 'triton')
#: The parts of the op, in the order of a training step.
DWCONV_PARTS = ('forward', 'grad_input', 'grad_weight')
_DTYPE_NAMES = {
    torch.float32: 'float32', torch.float16: 'float16',
    torch.bfloat16: 'bfloat16', torch.float64: 'float64'
}
_MEMORY_FORMATS = ('any', 'nchw', 'channels_last')

# The widest kernel oneDNN's depth-wise kernel handles at full speed on CPU
# (measured with torch 2.14: 145 GFLOP/s at 13x13, 7 GFLOP/s at 14x14; only
# the kernel *width* matters: 31x13 still runs at ~90 GFLOP/s).
_ONEDNN_MAX_FAST_WIDTH = 13
# Map area from which the FFT weight gradient beats torch's for 5x5 kernels.
_FFT_MIN_WEIGHT_GRAD_AREA_5X5 = 400

_switch = ImplSwitch(DWCONV_IMPLS, env='LKMM_DWCONV_IMPL')


# --------------------------------------------------------------------------
# The switch
# --------------------------------------------------------------------------


def get_depthwise_conv_impl() -> str:
    """The implementation switch in effect in this thread.

    Returns:
        str: ``'auto'`` (choose per part and shape), ``'torch'`` (reference
        ``F.conv2d`` everywhere), ``'fft'`` or ``'triton'`` (that
        implementation everywhere it applies).
    """
    return _switch.get()


def set_depthwise_conv_impl(impl: Optional[str]) -> None:
    """Set the implementation switch for this thread.

    Args:
        impl (str, optional): One of :data:`DWCONV_IMPLS`; None goes back to
            the environment (``LKMM_DWCONV_IMPL``, default ``'auto'``).
    """
    _switch.set(impl)


@contextmanager
def depthwise_conv_impl(impl: str) -> Iterator[None]:
    """Use ``impl`` for depth-wise convolutions inside the ``with`` block.

    Args:
        impl (str): One of :data:`DWCONV_IMPLS`.

    Example:
        >>> with depthwise_conv_impl('torch'):  # the reference path
        ...     out = model(x)
    """
    with _switch.use(impl):
        yield


# --------------------------------------------------------------------------
# CUDA rules
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRule:
    """Run ``part`` with ``impl`` on CUDA for the shapes in range.

    Ranges are inclusive and apply to the kernel *cropped* to the taps that
    meet the map (``kernel`` = its larger side) and to the map's smaller
    side (``map_size``).

    Args:
        part (str): ``'forward'``, ``'grad_input'`` or ``'grad_weight'``.
        impl (str): One of :data:`DWCONV_PART_IMPLS`.
        dtypes (tuple[str]): Input dtypes, e.g. ``('float32',)``.
        kernel (tuple[int, int]): Range of the cropped kernel's larger side.
        map_size (tuple[int, int]): Range of ``min(H, W)``.
        memory_format (str): ``'any'``, ``'nchw'`` or ``'channels_last'``.
        source (str): The measurement behind the rule (report and figures).
    """
    part: str
    impl: str
    dtypes: Tuple[str, ...]
    kernel: Tuple[int, int]
    map_size: Tuple[int, int]
    memory_format: str = 'any'
    source: str = ''

    def __post_init__(self):
        if self.part not in DWCONV_PARTS:
            raise ValueError(f'PlanRule.part must be one of {DWCONV_PARTS}, '
                             f'got {self.part!r}')
        if self.impl not in DWCONV_PART_IMPLS:
            raise ValueError(f'PlanRule.impl must be one of '
                             f'{DWCONV_PART_IMPLS}, got {self.impl!r}')
        if self.memory_format not in _MEMORY_FORMATS:
            raise ValueError(f'PlanRule.memory_format must be one of '
                             f'{_MEMORY_FORMATS}, got {self.memory_format!r}')
        allowed = tuple(_DTYPE_NAMES.values())
        bad = [d for d in self.dtypes if d not in allowed]
        if bad or not self.dtypes:
            raise ValueError(f'PlanRule.dtypes must be a non-empty subset of '
                             f'{allowed}, got {self.dtypes!r}')
        for name in ('kernel', 'map_size'):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f'PlanRule.{name} must be a range (lo, hi) '
                                 f'with 1 <= lo <= hi, got ({lo}, {hi})')
        object.__setattr__(self, 'dtypes', tuple(self.dtypes))
        object.__setattr__(self, 'kernel', tuple(self.kernel))
        object.__setattr__(self, 'map_size', tuple(self.map_size))

    def matches(self, part: str, dtype: torch.dtype, kernel: int,
                map_size: int, channels_last: bool) -> bool:
        """Whether the rule covers this part and shape."""
        fmt_ok = self.memory_format == 'any' or (
            self.memory_format == 'channels_last') == channels_last
        return (part == self.part and fmt_ok
                and _DTYPE_NAMES.get(dtype) in self.dtypes
                and self.kernel[0] <= kernel <= self.kernel[1]
                and self.map_size[0] <= map_size <= self.map_size[1])

    def to_dict(self) -> dict:
        return asdict(self)


#: Measured CUDA rules, first match wins. Empty until a GPU has measured the
#: grid (docs/depthwise_conv.md, "GPU"): torch's kernel runs every part.
CUDA_PLAN_RULES: Tuple[PlanRule, ...] = ()


def load_plan_rules(path: str) -> Tuple[PlanRule, ...]:
    """Rules from a JSON file: a list of :class:`PlanRule` fields, or an
    object whose ``rules`` key holds that list (a benchmark report).

    Args:
        path (str): The file.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as err:
        raise FileNotFoundError(
            f'cannot read depth-wise conv plan rules {path!r}: {err}') \
            from None
    except json.JSONDecodeError as err:
        raise ValueError(f'{path!r} is not JSON: {err}') from None
    if isinstance(data, dict):
        data = data.get('rules', data.get('proposed_cuda_rules'))
    if not isinstance(data, list):
        raise ValueError(f'{path!r}: expected a list of rules (or an object '
                         f'with a "rules" list)')
    return tuple(PlanRule(**item) for item in data)


_rules_override: Optional[Tuple[PlanRule, ...]] = None
_env_rules_cache: Dict[str, Tuple[PlanRule, ...]] = {}


def set_cuda_plan_rules(rules: Optional[Sequence[PlanRule]]) -> None:
    """Use ``rules`` on CUDA instead of :data:`CUDA_PLAN_RULES` (process
    wide); None goes back to the environment / the built-in rules."""
    global _rules_override
    _rules_override = None if rules is None else tuple(rules)


def cuda_plan_rules() -> Tuple[PlanRule, ...]:
    """The CUDA rules in effect: :func:`set_cuda_plan_rules`, else the file
    named by ``LKMM_DWCONV_CUDA_RULES``, else :data:`CUDA_PLAN_RULES`."""
    if _rules_override is not None:
        return _rules_override
    path = os.environ.get('LKMM_DWCONV_CUDA_RULES', '').strip()
    if path:
        if path not in _env_rules_cache:
            _env_rules_cache[path] = load_plan_rules(path)
        return _env_rules_cache[path]
    return CUDA_PLAN_RULES


# --------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------


def _cropped_kernel(input_shape: Sequence[int],
                    kernel_size: Sequence[int]) -> Tuple[int, int]:
    h, w = input_shape[-2:]
    return (2 * kernel_reach(h, kernel_size[0]) + 1,
            2 * kernel_reach(w, kernel_size[1]) + 1)


def _cpu_plan(input_shape, kernel_size, dtype) -> Dict[str, str]:
    h, w = input_shape[-2:]
    kh, kw = _cropped_kernel(input_shape, kernel_size)
    if max(kh, kw) <= 3:
        # Memory bound whatever the kernel: nothing to gain.
        return dict.fromkeys(DWCONV_PARTS, 'torch')
    # oneDNN runs the (cropped) kernel at full speed up to 13 wide in fp32
    # and bf16 (fp16 and fp64 have no fast CPU kernel at all).
    fast_direct = kw <= _ONEDNN_MAX_FAST_WIDTH and dtype in (
        torch.float32, torch.bfloat16)
    direct = 'torch' if fast_direct else 'fft'
    # torch's weight gradient runs at ~4-14 GFLOP/s for every kernel above
    # 3x3. Measured against the FFT (2-core AVX-512 CPU, torch 2.14, min of
    # 9): from 7x7 up the FFT wins or ties on every map size tried (7..64);
    # at 5x5 it loses on small maps (0.6-0.9x at 7x7..16x16) and wins from
    # about 20x20 (3-5x at 28..32).
    small_map = h * w < _FFT_MIN_WEIGHT_GRAD_AREA_5X5
    weight = 'fft' if not fast_direct or max(kh, kw) >= 7 or (
        max(kh, kw) >= 5 and not small_map) else 'torch'
    return dict(forward=direct, grad_input=direct, grad_weight=weight)


def _cuda_plan(input_shape, kernel_size, device, dtype,
               channels_last) -> Dict[str, str]:
    kh, kw = _cropped_kernel(input_shape, kernel_size)
    kernel, map_size = max(kh, kw), min(input_shape[-2:])
    plan = {}
    for part in DWCONV_PARTS:
        impl = 'torch'
        for rule in cuda_plan_rules():
            if rule.matches(part, dtype, kernel, map_size, channels_last):
                impl = rule.impl
                break
        if impl == 'triton' and not triton_available(device, dtype):
            impl = 'torch'  # e.g. triton missing: the rule cannot apply
        if impl == 'fft' and not fft_supports(dtype):
            impl = 'torch'
        plan[part] = impl
    return plan


def plan_depthwise_conv(input_shape: Sequence[int],
                        kernel_size: Sequence[int],
                        device: torch.device = torch.device('cpu'),
                        dtype: torch.dtype = torch.float32,
                        impl: Optional[str] = None,
                        channels_last: bool = False) -> Dict[str, str]:
    """Which implementation computes each part of a depth-wise convolution.

    Args:
        input_shape (Sequence[int]): ``(N, C, H, W)``.
        kernel_size (Sequence[int]): ``(KH, KW)``, both odd.
        device (torch.device): Device of the input.
        dtype (torch.dtype): Dtype of the input.
        impl (str, optional): Switch to plan for; the one in effect
            (:func:`get_depthwise_conv_impl`) when None.
        channels_last (bool): Whether the input is channels-last (CUDA
            rules may depend on it). Defaults to False.

    Returns:
        dict: ``forward``, ``grad_input`` and ``grad_weight``, each one of
        :data:`DWCONV_PART_IMPLS`.

    Raises:
        RuntimeError: ``impl='triton'`` where the Triton kernels cannot run
            (no triton; CPU without ``TRITON_INTERPRET=1``).
    """
    impl = get_depthwise_conv_impl() if impl is None else _switch.check(impl)
    device = torch.device(device)
    if impl == 'torch' or max(kernel_size) == 1 or not fft_supports(dtype):
        # Nothing else handles integer / complex tensors or 1x1 kernels.
        return dict.fromkeys(DWCONV_PARTS, 'torch')
    if impl == 'fft':
        return dict.fromkeys(DWCONV_PARTS, 'fft')
    if impl == 'triton':
        if dtype not in TRITON_DTYPES:
            # fp64: as for integer tensors with 'fft', torch's kernel.
            return dict.fromkeys(DWCONV_PARTS, 'torch')
        reason = triton_unavailable_reason(device, dtype)
        if reason is not None:
            raise RuntimeError(
                f'LKMM_DWCONV_IMPL / depthwise_conv_impl is \'triton\', but '
                f'{reason}')
        return dict.fromkeys(DWCONV_PARTS, 'triton')
    if device.type == 'cuda':
        return _cuda_plan(input_shape, kernel_size, device, dtype,
                          channels_last)
    if device.type != 'cpu':
        # Not measured anywhere else: the vendor kernel.
        return dict.fromkeys(DWCONV_PARTS, 'torch')
    return _cpu_plan(input_shape, kernel_size, dtype)


def rules_summary(rules: Sequence[PlanRule]) -> List[str]:
    """One line per rule, for logs and reports."""
    return [
        f'{r.part}: {r.impl} for {"/".join(r.dtypes)}, kernel '
        f'{r.kernel[0]}-{r.kernel[1]}, map {r.map_size[0]}-{r.map_size[1]}'
        f' ({r.memory_format})' for r in rules
    ]
