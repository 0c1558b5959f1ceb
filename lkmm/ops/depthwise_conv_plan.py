"""Which implementation computes each part of a depth-wise convolution.

The op (:func:`lkmm.ops.depthwise_conv2d`) has three parts -- forward,
input gradient, weight gradient -- and the implementations registered in
:mod:`lkmm.ops.dwconv_impls` (:data:`DWCONV_PART_IMPLS`):

* ``'torch'``: ``F.conv2d`` / ``convolution_backward`` on the tensors as
  they come (oneDNN on CPU; on CUDA ATen's depth-wise kernel for NCHW fp32,
  cuDNN for channels-last);
* ``'channels_last'``: the same after converting NCHW tensors to
  channels-last (on CUDA this selects cuDNN's kernels; rules only);
* ``'fft'``: FFTs (:mod:`lkmm.ops.fft_depthwise_conv`; cuFFT on CUDA);
* ``'triton'``: lkmm's Triton kernels (:mod:`lkmm.ops.triton_depthwise_conv`;
  on CPU only under ``TRITON_INTERPRET=1``).

:func:`select_depthwise_conv_plan` is the one place that decides; it
returns a :class:`DepthwiseConvPlan` naming the implementation of each part
and the level below that chose it. Precedence, first match wins:

1. the ``impl`` argument: of :func:`lkmm.ops.depthwise_conv2d` or of this
   function, or a module's ``impl=`` (:class:`lkmm.layers.DepthwiseConv2d`)
   when it is not ``'auto'``;
2. the thread's switch: :func:`set_depthwise_conv_impl`,
   :func:`depthwise_conv_impl`;
3. the environment variable ``LKMM_DWCONV_IMPL``;
4. with ``'auto'`` on CUDA, the plan rules (:func:`cuda_plan_rules`):
   :func:`set_cuda_plan_rules`, else the file ``LKMM_DWCONV_CUDA_RULES``
   names, else the built-in :data:`CUDA_PLAN_RULES` (empty until a GPU has
   measured them: torch's kernel runs every part); first matching rule per
   part, torch's kernel where none matches or its implementation cannot run
   there (e.g. triton missing);
5. with ``'auto'`` on CPU, heuristics from the grids in
   docs/depthwise_conv.md; on other devices, torch's kernel.

Whatever the level, a 1x1 kernel or a dtype no plan covers (integer,
complex) runs torch's kernel, and so does a forced implementation that does
not take the dtype (``'triton'`` with float64); a forced implementation
that cannot run on the device raises. Levels 1-3 are the mechanism every
lkmm op shares (:meth:`lkmm.ops.ImplSwitch.resolve`); the op itself runs
``F.conv2d`` under tracing, scripting and ONNX export, before any of them.
"""
import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from .dwconv_impls import DWCONV_REGISTRY, get_impl
from .fft_depthwise_conv import kernel_reach
from .impl_switch import SOURCE_ARGUMENT, SOURCE_ENV, SOURCE_SWITCH, ImplSwitch

__all__ = [
    'DWCONV_IMPLS', 'DWCONV_PART_IMPLS', 'DWCONV_PARTS', 'PlanRule',
    'DepthwiseConvPlan', 'select_depthwise_conv_plan',
    'plan_depthwise_conv', 'set_depthwise_conv_impl',
    'get_depthwise_conv_impl', 'depthwise_conv_impl',
    'check_depthwise_conv_impl', 'cuda_plan_rules', 'set_cuda_plan_rules',
    'load_plan_rules', 'rules_summary', 'CUDA_PLAN_RULES', 'PLAN_SOURCES'
]

#: What can compute one part: the registered implementations, in order.
DWCONV_PART_IMPLS = DWCONV_REGISTRY.names()
#: Allowed values of the implementation switch: ``'auto'`` and the
#: implementations that may be forced for every part.
DWCONV_IMPLS = ('auto', ) + tuple(i.name for i in DWCONV_REGISTRY
                                  if i.forcible)
#: The parts of the op, in the order of a training step.
DWCONV_PARTS = ('forward', 'grad_input', 'grad_weight')
#: The dtypes plans and rules cover (the others run torch's kernel).
_DTYPE_NAMES = {
    torch.float32: 'float32', torch.float16: 'float16',
    torch.bfloat16: 'bfloat16', torch.float64: 'float64'
}
_MEMORY_FORMATS = ('any', 'nchw', 'channels_last')
_REFERENCE = 'torch'

#: :attr:`DepthwiseConvPlan.source` values, by precedence level.
SOURCE_RULES_SET = 'cuda_rules:set_cuda_plan_rules'
SOURCE_RULES_FILE = 'cuda_rules:LKMM_DWCONV_CUDA_RULES'
SOURCE_RULES_BUILTIN = 'cuda_rules:built-in'
SOURCE_CPU = 'cpu_heuristics'
SOURCE_REFERENCE = 'reference'
PLAN_SOURCES = (SOURCE_ARGUMENT, SOURCE_SWITCH, SOURCE_ENV, SOURCE_RULES_SET,
                SOURCE_RULES_FILE, SOURCE_RULES_BUILTIN, SOURCE_CPU,
                SOURCE_REFERENCE)
# What forced an implementation, for error messages.
_FORCED_BY = {
    SOURCE_ARGUMENT: 'the impl argument',
    SOURCE_SWITCH: 'depthwise_conv_impl / set_depthwise_conv_impl',
    SOURCE_ENV: 'LKMM_DWCONV_IMPL',
}

# The widest kernel oneDNN's depth-wise kernel handles at full speed on CPU
# (measured with torch 2.14: 145 GFLOP/s at 13x13, 7 GFLOP/s at 14x14; only
# the kernel *width* matters: 31x13 still runs at ~90 GFLOP/s).
_ONEDNN_MAX_FAST_WIDTH = 13
# Map area from which the FFT weight gradient beats torch's for 5x5 kernels.
_FFT_MIN_WEIGHT_GRAD_AREA_5X5 = 400

_switch = ImplSwitch(DWCONV_IMPLS, env='LKMM_DWCONV_IMPL')


# --------------------------------------------------------------------------
# The switch (precedence levels 2 and 3)
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

    Raises:
        ValueError: ``impl`` is not one of :data:`DWCONV_IMPLS`.
    """
    _switch.set(impl)


@contextmanager
def depthwise_conv_impl(impl: str) -> Iterator[None]:
    """Use ``impl`` for depth-wise convolutions inside the ``with`` block.

    Args:
        impl (str): One of :data:`DWCONV_IMPLS`.

    Raises:
        ValueError: ``impl`` is not one of :data:`DWCONV_IMPLS`.

    Example:
        >>> with depthwise_conv_impl('torch'):  # the reference path
        ...     out = model(x)
    """
    with _switch.use(impl):
        yield


def check_depthwise_conv_impl(impl: str) -> str:
    """``impl`` if it is one of :data:`DWCONV_IMPLS` (a module's ``impl=``
    is checked when the module is built, not at its first forward).

    Args:
        impl (str): The value to check.

    Returns:
        str: ``impl``.

    Raises:
        ValueError: Naming the allowed values.
    """
    return _switch.check(impl)


# --------------------------------------------------------------------------
# CUDA rules (precedence level 4)
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

    Raises:
        ValueError: A field is out of its domain (the message names it).
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
        if self.impl not in DWCONV_REGISTRY:
            raise ValueError(f'PlanRule.impl must be one of '
                             f'{DWCONV_REGISTRY.names()}, got {self.impl!r}')
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

    Returns:
        tuple[PlanRule]: The rules, in the file's order.

    Raises:
        FileNotFoundError: The file cannot be read.
        ValueError: It is not JSON or holds no list of rules.
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
    wide); None goes back to the environment / the built-in rules.

    Args:
        rules (Sequence[PlanRule], optional): The rules, first match wins.
    """
    global _rules_override
    _rules_override = None if rules is None else tuple(rules)


def _cuda_rules_and_source() -> Tuple[Tuple[PlanRule, ...], str]:
    """The CUDA rules in effect and where they come from."""
    if _rules_override is not None:
        return _rules_override, SOURCE_RULES_SET
    path = os.environ.get('LKMM_DWCONV_CUDA_RULES', '').strip()
    if path:
        if path not in _env_rules_cache:
            _env_rules_cache[path] = load_plan_rules(path)
        return _env_rules_cache[path], SOURCE_RULES_FILE
    return CUDA_PLAN_RULES, SOURCE_RULES_BUILTIN


def cuda_plan_rules() -> Tuple[PlanRule, ...]:
    """The CUDA rules in effect: :func:`set_cuda_plan_rules`, else the file
    named by ``LKMM_DWCONV_CUDA_RULES``, else :data:`CUDA_PLAN_RULES`.

    Returns:
        tuple[PlanRule]: The rules, first match wins.

    Raises:
        FileNotFoundError, ValueError: As :func:`load_plan_rules`.
    """
    return _cuda_rules_and_source()[0]


def rules_summary(rules: Sequence[PlanRule]) -> List[str]:
    """One line per rule, for logs and reports.

    Args:
        rules (Sequence[PlanRule]): The rules.

    Returns:
        list[str]: One line each.
    """
    return [
        f'{r.part}: {r.impl} for {"/".join(r.dtypes)}, kernel '
        f'{r.kernel[0]}-{r.kernel[1]}, map {r.map_size[0]}-{r.map_size[1]}'
        f' ({r.memory_format})' for r in rules
    ]


# --------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthwiseConvPlan:
    """The implementation of each part, and the precedence level that chose
    it.

    Why: one typed value from one decision, instead of strings read in
    several places; ``plan[part]`` reads like the dict form
    (:func:`plan_depthwise_conv`).

    Args:
        forward (str): Implementation of the forward.
        grad_input (str): Implementation of the input gradient.
        grad_weight (str): Implementation of the weight gradient.
        source (str): One of :data:`PLAN_SOURCES`.

    Raises:
        ValueError: A part names no registered implementation.
    """
    forward: str
    grad_input: str
    grad_weight: str
    source: str

    def __post_init__(self):
        for part in DWCONV_PARTS:
            get_impl(getattr(self, part))

    @classmethod
    def every(cls, impl: str, source: str) -> 'DepthwiseConvPlan':
        """``impl`` for every part.

        Args:
            impl (str): A registered implementation.
            source (str): One of :data:`PLAN_SOURCES`.

        Returns:
            DepthwiseConvPlan: The plan.
        """
        return cls(impl, impl, impl, source)

    def __getitem__(self, part: str) -> str:
        if part not in DWCONV_PARTS:
            raise KeyError(part)
        return getattr(self, part)

    def as_dict(self) -> Dict[str, str]:
        """``{part: implementation}`` in :data:`DWCONV_PARTS` order."""
        return {part: getattr(self, part) for part in DWCONV_PARTS}


def _cropped_kernel(input_shape: Sequence[int],
                    kernel_size: Sequence[int]) -> Tuple[int, int]:
    h, w = input_shape[-2:]
    return (2 * kernel_reach(h, kernel_size[0]) + 1,
            2 * kernel_reach(w, kernel_size[1]) + 1)


def _cpu_plan(input_shape, kernel_size, dtype) -> DepthwiseConvPlan:
    """Level 5: heuristics from the CPU grids (docs/depthwise_conv.md)."""
    h, w = input_shape[-2:]
    kh, kw = _cropped_kernel(input_shape, kernel_size)
    if max(kh, kw) <= 3:
        # Memory bound whatever the kernel: nothing to gain.
        return DepthwiseConvPlan.every(_REFERENCE, SOURCE_CPU)
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
    return DepthwiseConvPlan(direct, direct, weight, SOURCE_CPU)


def _cuda_plan(input_shape, kernel_size, device, dtype,
               channels_last) -> DepthwiseConvPlan:
    """Level 4: the first matching rule per part, where it can run."""
    kh, kw = _cropped_kernel(input_shape, kernel_size)
    kernel, map_size = max(kh, kw), min(input_shape[-2:])
    rules, source = _cuda_rules_and_source()
    parts = []
    for part in DWCONV_PARTS:
        impl = next((rule.impl for rule in rules if rule.matches(
            part, dtype, kernel, map_size, channels_last)), _REFERENCE)
        if not get_impl(impl).available(device, dtype):
            impl = _REFERENCE  # e.g. triton missing: the rule cannot apply
        parts.append(impl)
    return DepthwiseConvPlan(*parts, source)


def _forced_plan(impl: str, source: str, device: torch.device,
                 dtype: torch.dtype) -> DepthwiseConvPlan:
    """Levels 1-3: ``impl`` for every part where it takes the dtype."""
    chosen = get_impl(impl)
    if not chosen.takes(dtype):
        # e.g. 'triton' with float64: as for 'fft' with integers.
        return DepthwiseConvPlan.every(_REFERENCE, SOURCE_REFERENCE)
    reason = chosen.unavailable_reason(device, dtype)
    if reason is not None:
        raise RuntimeError(f'{_FORCED_BY[source]} is {impl!r}, but {reason}')
    return DepthwiseConvPlan.every(impl, source)


def select_depthwise_conv_plan(input_shape: Sequence[int],
                               kernel_size: Sequence[int],
                               device: torch.device = torch.device('cpu'),
                               dtype: torch.dtype = torch.float32,
                               impl: Optional[str] = None,
                               channels_last: bool = False
                               ) -> DepthwiseConvPlan:
    """The implementation of each part, by the precedence in the module
    docstring.

    Why: the only place that decides, so the order of the sources is the
    same for every caller and visible in one function.

    Args:
        input_shape (Sequence[int]): ``(N, C, H, W)``.
        kernel_size (Sequence[int]): ``(KH, KW)``, both odd.
        device (torch.device): Device of the input.
        dtype (torch.dtype): Dtype of the input.
        impl (str, optional): One of :data:`DWCONV_IMPLS` (level 1, above
            the switch; ``'auto'`` too); the switch in effect when None.
        channels_last (bool): Whether the input is channels-last (CUDA
            rules may depend on it). Defaults to False.

    Returns:
        DepthwiseConvPlan: Each part's implementation and the deciding
        level.

    Raises:
        ValueError: ``impl`` (or ``LKMM_DWCONV_IMPL``) is not one of
            :data:`DWCONV_IMPLS`.
        RuntimeError: A forced implementation cannot run here (``'triton'``
            without triton, or on CPU without ``TRITON_INTERPRET=1``).
    """
    choice, source = _switch.resolve(impl)
    device = torch.device(device)
    if max(kernel_size) == 1 or dtype not in _DTYPE_NAMES:
        # Nothing else handles integer / complex tensors or 1x1 kernels.
        return DepthwiseConvPlan.every(
            _REFERENCE, source if choice == _REFERENCE else SOURCE_REFERENCE)
    if choice != 'auto':
        return _forced_plan(choice, source, device, dtype)
    if device.type == 'cuda':
        return _cuda_plan(input_shape, kernel_size, device, dtype,
                          channels_last)
    if device.type == 'cpu':
        return _cpu_plan(input_shape, kernel_size, dtype)
    # Not measured anywhere else: the vendor kernel.
    return DepthwiseConvPlan.every(_REFERENCE, SOURCE_REFERENCE)


def plan_depthwise_conv(input_shape: Sequence[int],
                        kernel_size: Sequence[int],
                        device: torch.device = torch.device('cpu'),
                        dtype: torch.dtype = torch.float32,
                        impl: Optional[str] = None,
                        channels_last: bool = False) -> Dict[str, str]:
    """:func:`select_depthwise_conv_plan` as a dict (what the op, the
    benchmarks and their reports use).

    Args:
        input_shape (Sequence[int]): ``(N, C, H, W)``.
        kernel_size (Sequence[int]): ``(KH, KW)``, both odd.
        device (torch.device): Device of the input.
        dtype (torch.dtype): Dtype of the input.
        impl (str, optional): Choice to plan for; the switch in effect
            (:func:`get_depthwise_conv_impl`) when None.
        channels_last (bool): Whether the input is channels-last (CUDA
            rules may depend on it). Defaults to False.

    Returns:
        dict: ``forward``, ``grad_input`` and ``grad_weight``, each one of
        :data:`DWCONV_PART_IMPLS`.

    Raises:
        ValueError, RuntimeError: As :func:`select_depthwise_conv_plan`.
    """
    return select_depthwise_conv_plan(input_shape, kernel_size, device,
                                      dtype, impl, channels_last).as_dict()
