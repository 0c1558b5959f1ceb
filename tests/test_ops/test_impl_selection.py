"""One selection mechanism for lkmm's ops: each precedence level overrides
the next (docs/depthwise_conv.md, "Which kernel runs"), implementations
are a table looked up by name, and a new one is one registration."""
import json

import pytest
import torch

import lkmm.ops.depthwise_conv_plan as plan_mod
from lkmm.layers import DepthwiseConv2d, OversizedConv2d
from lkmm.ops import (
    DWCONV_IMPLS,
    DWCONV_PART_IMPLS,
    DWCONV_REGISTRY,
    OVERSIZED_CONV_IMPLS,
    PLAN_SOURCES,
    DepthwiseConvImpl,
    DepthwiseConvPlan,
    ImplRegistry,
    PlanRule,
    depthwise_conv2d,
    depthwise_conv_impl,
    depthwise_conv_part,
    oversized_conv_impl,
    plan_depthwise_conv,
    select_depthwise_conv_plan,
    select_oversized_conv_plan,
    set_cuda_plan_rules,
    triton_available,
)
from lkmm.ops.depthwise_conv import _DepthwiseConv2dFunction
from lkmm.ops.dwconv_impls import get_impl

CUDA = torch.device('cuda')  # planning only: no GPU needed
SHAPE, KERNEL = (2, 8, 32, 32), (31, 31)


def _rule(part, impl):
    return PlanRule(part, impl, ('float32', ), (1, 151), (1, 256))


@pytest.fixture(autouse=True)
def clean_sources(monkeypatch):
    monkeypatch.delenv('LKMM_DWCONV_IMPL', raising=False)
    monkeypatch.delenv('LKMM_DWCONV_CUDA_RULES', raising=False)
    set_cuda_plan_rules(None)
    yield
    set_cuda_plan_rules(None)


# The depth-wise op's levels, highest first: (name, expected plan). Each
# case turns on its level and every level below it, each with a different
# outcome, so the plan shows which one won.
DWCONV_LEVELS = [
    ('argument', ('torch', 'torch', 'torch')),
    ('switch', ('fft', 'fft', 'fft')),
    ('env', ('torch', 'torch', 'torch')),
    (plan_mod.SOURCE_RULES_SET, ('channels_last', 'torch', 'torch')),
    (plan_mod.SOURCE_RULES_FILE, ('fft', 'torch', 'torch')),
    (plan_mod.SOURCE_RULES_BUILTIN, ('torch', 'torch', 'channels_last')),
]


def _turn_on(level, monkeypatch, tmp_path, stack):
    """Activate ``level`` (an entry of DWCONV_LEVELS); returns the impl
    argument to pass (None unless the level is 'argument')."""
    if level == 'switch':
        stack.enter_context(depthwise_conv_impl('fft'))
    elif level == 'env':
        monkeypatch.setenv('LKMM_DWCONV_IMPL', 'torch')
    elif level == plan_mod.SOURCE_RULES_SET:
        set_cuda_plan_rules([_rule('forward', 'channels_last')])
    elif level == plan_mod.SOURCE_RULES_FILE:
        path = tmp_path / 'rules.json'
        path.write_text(json.dumps([_rule('forward', 'fft').to_dict()]))
        monkeypatch.setenv('LKMM_DWCONV_CUDA_RULES', str(path))
    elif level == plan_mod.SOURCE_RULES_BUILTIN:
        monkeypatch.setattr(plan_mod, 'CUDA_PLAN_RULES',
                            (_rule('grad_weight', 'channels_last'), ))
    return 'torch' if level == 'argument' else None


@pytest.mark.parametrize('index', range(len(DWCONV_LEVELS)),
                         ids=[name for name, _ in DWCONV_LEVELS])
def test_each_dwconv_level_overrides_the_next(index, monkeypatch, tmp_path):
    from contextlib import ExitStack
    with ExitStack() as stack:
        impl = None
        # Lowest first, so that the level under test is set up last.
        for name, _ in reversed(DWCONV_LEVELS[index:]):
            impl = _turn_on(name, monkeypatch, tmp_path, stack) or impl
        plan = select_depthwise_conv_plan(SHAPE, KERNEL, CUDA,
                                          torch.float32, impl)
        name, parts = DWCONV_LEVELS[index]
        assert (plan.forward, plan.grad_input, plan.grad_weight) == parts
        assert plan.source == name
        assert plan_depthwise_conv(SHAPE, KERNEL, CUDA, torch.float32,
                                   impl) == plan.as_dict()


def test_sources_are_documented_in_order():
    assert PLAN_SOURCES[:3] == ('argument', 'switch', 'env')
    assert [name for name, _ in DWCONV_LEVELS] == list(PLAN_SOURCES[:6])
    # 'auto' as an argument also outranks the switch: the plan decides.
    with depthwise_conv_impl('torch'):
        plan = select_depthwise_conv_plan(SHAPE, KERNEL, 'cpu',
                                          torch.float32, 'auto')
    assert plan == DepthwiseConvPlan.every('fft', 'cpu_heuristics')


def test_cpu_heuristics_ignore_cuda_rules_and_reference_fallbacks():
    set_cuda_plan_rules([_rule('forward', 'channels_last')])
    plan = select_depthwise_conv_plan(SHAPE, (7, 7), 'cpu')
    assert plan == DepthwiseConvPlan('torch', 'torch', 'fft',
                                     'cpu_heuristics')
    # Whatever the level: 1x1 kernels, integers, and a forced kernel that
    # does not take the dtype run the reference.
    for args in ((SHAPE, (1, 1), 'cpu', torch.float32, 'fft'),
                 (SHAPE, KERNEL, 'cpu', torch.int64, 'fft'),
                 (SHAPE, KERNEL, 'cpu', torch.float64, 'triton'),
                 (SHAPE, KERNEL, 'meta', torch.float32, 'auto')):
        plan = select_depthwise_conv_plan(*args)
        assert plan == DepthwiseConvPlan.every('torch', 'reference'), args


def test_rule_for_an_implementation_that_cannot_run_gives_way(monkeypatch):
    # A rule naming Triton where it cannot run falls back to torch; forcing
    # it there raises, naming what forced it.
    import lkmm.ops.dwconv_impls.triton_impl as triton_impl
    monkeypatch.setattr(triton_impl, 'triton_unavailable_reason',
                        lambda device, dtype: 'not here')
    set_cuda_plan_rules([_rule('forward', 'triton')])
    plan = select_depthwise_conv_plan(SHAPE, KERNEL, CUDA)
    assert plan == DepthwiseConvPlan.every('torch',
                                           plan_mod.SOURCE_RULES_SET)
    with pytest.raises(RuntimeError, match='impl argument.*not here'):
        select_depthwise_conv_plan(SHAPE, KERNEL, CUDA, impl='triton')
    with depthwise_conv_impl('triton'):
        with pytest.raises(RuntimeError, match='depthwise_conv_impl'):
            select_depthwise_conv_plan(SHAPE, KERNEL, CUDA)


def _grad_fn_name(module, x):
    return type(module(x.requires_grad_()).grad_fn).__name__


def test_module_impl_outranks_switch_and_environment(monkeypatch):
    x = torch.randn(1, 2, 16, 16)
    forced = DepthwiseConv2d(2, 31, impl='torch')
    auto = DepthwiseConv2d(2, 31)
    assert 'impl' not in repr(auto) and "impl='torch'" in repr(forced)
    with depthwise_conv_impl('fft'):
        assert 'Convolution' in _grad_fn_name(forced, x)
        assert 'DepthwiseConv2dFunction' in _grad_fn_name(auto, x)
    monkeypatch.setenv('LKMM_DWCONV_IMPL', 'fft')
    assert 'Convolution' in _grad_fn_name(forced, x)
    assert 'DepthwiseConv2dFunction' in _grad_fn_name(auto, x)
    # Same result either way.
    auto.load_state_dict(forced.state_dict())
    assert torch.allclose(forced(x), auto(x), atol=1e-5)
    # The function's own argument is the same level.
    with depthwise_conv_impl('fft'):
        out = depthwise_conv2d(x.requires_grad_(), forced.weight,
                               impl='torch')
    assert 'Convolution' in type(out.grad_fn).__name__


def test_tracing_outranks_every_level():
    module = DepthwiseConv2d(2, 9, impl='fft')
    graph = torch.jit.trace(module, torch.randn(1, 2, 12, 12)).graph
    assert 'aten::_convolution' in str(graph)


def test_module_impl_is_validated_when_built():
    with pytest.raises(ValueError, match=r"impl must be one of \('auto', "
                       r"'torch', 'fft', 'triton'\), got 'cudnn'"):
        DepthwiseConv2d(4, 7, impl='cudnn')


def test_oversized_levels_override_the_next(monkeypatch):
    # argument > switch > 'auto' (CPU heuristics; the depth-wise op's own
    # plan off the CPU). The oversized op has no environment variable.
    with oversized_conv_impl('spatial'):
        plan = select_oversized_conv_plan((56, 56), impl='torch')
        assert (plan.h, plan.w, plan.source) == ('torch', 'torch',
                                                 'argument')
        plan = select_oversized_conv_plan((56, 56))
        assert (plan.h, plan.w, plan.source) == ('spatial', 'spatial',
                                                 'switch')
    plan = select_oversized_conv_plan((56, 7))
    assert (plan.h, plan.w, plan.source) == ('fft', 'torch',
                                             'cpu_heuristics')
    plan = select_oversized_conv_plan((56, 7), CUDA)
    assert plan.as_tuple() == ('spatial', 'spatial')
    # A module's impl= is the argument level; 'auto' defers to the switch.
    import lkmm.layers.oversized_conv as layer_mod
    seen = []
    real = layer_mod.oversized_conv1d

    def spy(x, kernel, dim, impl):
        seen.append(impl)
        return real(x, kernel, dim, impl)

    monkeypatch.setattr(layer_mod, 'oversized_conv1d', spy)
    x = torch.randn(1, 2, 20, 20)
    with oversized_conv_impl('fft'):
        OversizedConv2d(2, 10, impl='torch')(x)
        OversizedConv2d(2, 10)(x)
    assert seen == ['torch', 'torch', 'fft', 'fft']


def test_implementation_table():
    assert DWCONV_PART_IMPLS == ('torch', 'channels_last', 'fft', 'triton')
    assert DWCONV_IMPLS == ('auto', ) + tuple(
        i.name for i in DWCONV_REGISTRY if i.forcible)
    assert OVERSIZED_CONV_IMPLS == ('auto', 'torch', 'spatial', 'fft')
    cpu = torch.device('cpu')
    assert get_impl('torch').available(cpu, torch.int64)
    assert get_impl('fft').available(cpu, torch.float64)
    assert not get_impl('fft').available(cpu, torch.int64)
    for dtype in (torch.float32, torch.float64):
        assert get_impl('triton').available(CUDA, dtype) == \
            triton_available(CUDA, dtype)
    with pytest.raises(ValueError, match=r"impl must be one of \('torch', "
                       r"'channels_last', 'fft', 'triton'\), got 'x'"):
        get_impl('x')
    with pytest.raises(ValueError, match='already registered'):
        DWCONV_REGISTRY.register(get_impl('fft'))
    with pytest.raises(ValueError, match='impl must be one of'):
        DepthwiseConvPlan('torch', 'x', 'torch', 'argument')


def test_dispatch_has_no_unnamed_fall_through():
    x, w = torch.randn(1, 2, 6, 6), torch.randn(2, 1, 3, 3)
    with pytest.raises(ValueError, match='impl must be one of'):
        depthwise_conv_part('forward', 'cudnn', x, w)
    plan = dict(forward='cudnn', grad_input='torch', grad_weight='torch')
    with pytest.raises(ValueError, match='impl must be one of'):
        _DepthwiseConv2dFunction.apply(x, w, None, plan)


class _DoubledTorch(DepthwiseConvImpl):
    """A made-up implementation: torch's kernel, results doubled."""
    name = 'doubled_torch'
    forcible = False

    def forward(self, x, weight, bias):
        return 2 * get_impl('torch').forward(x, weight, bias)

    def grad_input(self, grad_out, x, weight):
        return 2 * get_impl('torch').grad_input(grad_out, x, weight)

    def grad_weight(self, grad_out, x, weight):
        return 2 * get_impl('torch').grad_weight(grad_out, x, weight)


def test_a_new_implementation_is_one_registration():
    registry = DWCONV_REGISTRY
    registry.register(_DoubledTorch())
    try:
        x, w = torch.randn(1, 2, 6, 6), torch.randn(2, 1, 5, 5)
        g = torch.randn(1, 2, 6, 6)
        for part, args in (('forward', ()), ('grad_input', (g, )),
                           ('grad_weight', (g, ))):
            assert torch.allclose(
                depthwise_conv_part(part, 'doubled_torch', x, w, *args),
                2 * depthwise_conv_part(part, 'torch', x, w, *args))
        # Rules and plans accept it too.
        PlanRule('forward', 'doubled_torch', ('float32', ), (3, 5), (1, 9))
        plan = DepthwiseConvPlan.every('doubled_torch', 'argument')
        out = _DepthwiseConv2dFunction.apply(x, w, None, plan)
        assert torch.allclose(out, 2 * depthwise_conv_part('forward',
                                                           'torch', x, w))
    finally:
        registry._impls.pop('doubled_torch')


def test_generic_registry():
    registry = ImplRegistry('demo')
    with pytest.raises(ValueError, match='has no name'):
        registry.register(object())
    assert registry.names() == () and 'x' not in registry
