"""lkmm's Triton depth-wise kernels equal F.conv2d (forward, input and weight
gradients) on odd sizes, batch 1, non-square maps, kernels larger than the
map, stripes, channels-last, fp32 / fp16 / bf16.

Without a GPU they run under Triton's interpreter (TRITON_INTERPRET=1, set
per test), which is slow: the shapes are tiny. With a GPU the same tests run
the compiled kernels on CUDA.
"""
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('triton')

from lkmm.ops import (  # noqa: E402
    depthwise_conv2d,
    depthwise_conv_impl,
    plan_depthwise_conv,  # noqa: E402
)
from lkmm.ops.depthwise_conv import _DepthwiseConv2dFunction  # noqa: E402
from lkmm.ops.triton_depthwise_conv import (  # noqa: E402
    triton_forward,
    triton_grad_input,
    triton_grad_weight,
    triton_unavailable_reason,
)

DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'

# Half-ulp output rounding relative to the largest magnitude, x2: fp16 has
# 10 fraction bits (2^-11 = 4.9e-4), bf16 7 (2^-8 = 3.9e-3). fp32 results
# are compared at 2e-6 of the largest magnitude (measured: at most 8e-7).
TOLERANCE = {
    torch.float32: 2e-6,
    torch.float16: 1e-3,
    torch.bfloat16: 8e-3,
}

# (N, C, H, W, KH, KW)
SHAPES = [
    (2, 3, 9, 7, 5, 5),      # odd, non-square map
    (1, 2, 8, 8, 3, 7),      # batch 1, non-square kernel
    (1, 2, 7, 7, 13, 13),    # RepLKNet stage 4: kernel larger than the map
    (1, 1, 5, 6, 51, 51),    # far larger (PeLK): cropped to the reach
    (2, 2, 12, 5, 9, 3),     # tall kernel: runs on the transposed view
    (1, 2, 11, 17, 5, 15),   # SLaK stripe 5 x K
    (1, 2, 17, 11, 15, 5),   # SLaK stripe K x 5
    (1, 2, 13, 6, 25, 1),    # ParCNetV2 oversized K x 1 (2H - 1)
    (1, 2, 6, 13, 1, 25),    # and 1 x K
    (1, 2, 19, 18, 17, 17),  # spans several 16-wide output tiles
]


@pytest.fixture(autouse=True)
def interpreter(monkeypatch):
    if DEVICE == 'cpu':
        monkeypatch.setenv('TRITON_INTERPRET', '1')


def reference(x, w, b=None):
    kh, kw = w.shape[-2:]
    return F.conv2d(x, w, b, padding=(kh // 2, kw // 2), groups=x.shape[1])


def make(shape, dtype, seed, channels_last=False, bias=True):
    n, c, h, w, kh, kw = shape
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=gen)
    weight = torch.randn(c, 1, kh, kw, generator=gen) / (kh * kw)**0.5
    b = torch.randn(c, generator=gen) if bias else None
    grad = torch.randn(n, c, h, w, generator=gen)
    # Round to the tested dtype first: the reference (float64) then sees
    # exactly the values the kernels see.
    x, weight, grad = (t.to(dtype) for t in (x, weight, grad))
    b = None if b is None else b.to(dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
        grad = grad.contiguous(memory_format=torch.channels_last)
    return x, weight, b, grad


def expected(x, weight, b, grad):
    """Output, input, weight and bias gradients in float64."""
    x64 = x.double().requires_grad_()
    w64 = weight.double().requires_grad_()
    b64 = None if b is None else b.double().requires_grad_()
    out = reference(x64, w64, b64)
    inputs = [t for t in (x64, w64, b64) if t is not None]
    return [out] + list(torch.autograd.grad(out, inputs, grad.double()))


def assert_close(got, want, dtype, name):
    assert got.shape == want.shape, name
    scale = max(want.abs().max().item(), 1e-3)
    err = (got.double() - want).abs().max().item()
    assert err <= TOLERANCE[dtype] * scale, \
        f'{name}: max error {err:.3g} > {TOLERANCE[dtype]} x {scale:.3g}'


@pytest.mark.parametrize('shape', SHAPES, ids=str)
def test_kernels_match_conv2d_fp32(shape):
    x, weight, b, grad = make(shape, torch.float32, sum(shape))
    x, weight, b, grad = (None if t is None else t.to(DEVICE)
                          for t in (x, weight, b, grad))
    out, g_in, g_w, _ = expected(x, weight, b, grad)
    kh, kw = shape[-2:]
    # The kernels themselves, on the uncropped kernel (they mask taps that
    # fall outside the map).
    assert_close(triton_forward(x, weight, b), out, torch.float32, 'output')
    assert_close(triton_grad_input(grad, weight), g_in, torch.float32,
                 'grad_input')
    assert_close(triton_grad_weight(x, grad, (kh, kw)), g_w, torch.float32,
                 'grad_weight')


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16,
                                   torch.bfloat16], ids=str)
@pytest.mark.parametrize('channels_last', [False, True],
                         ids=['nchw', 'channels_last'])
@pytest.mark.parametrize('shape', [(2, 3, 9, 10, 7, 7),
                                   (1, 2, 6, 5, 31, 31)], ids=str)
def test_op_forced_triton_all_parts(shape, dtype, channels_last):
    x, weight, b, grad = make(shape, dtype, 7, channels_last)
    x, weight, b, grad = (t.to(DEVICE) for t in (x, weight, b, grad))
    want = expected(x, weight, b, grad)
    xr, wr, br = (t.detach().requires_grad_() for t in (x, weight, b))
    with depthwise_conv_impl('triton'):
        assert set(plan_depthwise_conv(x.shape, shape[-2:], x.device,
                                       dtype).values()) == {'triton'}
        out = depthwise_conv2d(xr, wr, br)
    assert 'DepthwiseConv2dFunction' in type(out.grad_fn).__name__
    got = [out] + list(torch.autograd.grad(out, (xr, wr, br), grad))
    assert out.dtype == dtype and got[2].dtype == dtype
    if channels_last:
        assert out.is_contiguous(memory_format=torch.channels_last)
        assert got[1].is_contiguous(memory_format=torch.channels_last)
    for name, a, e in zip(('output', 'grad_input', 'grad_weight',
                           'grad_bias'), got, want):
        assert_close(a, e, dtype, name)


def test_mixed_plan_with_channels_last_and_triton_parts():
    # Each part by another implementation, through the autograd Function,
    # including the channels-last conversion (a CUDA plan's choice).
    x, weight, b, grad = make((2, 3, 10, 9, 9, 9), torch.float32, 3)
    want = expected(x, weight, b, grad)
    for plan in (dict(forward='triton', grad_input='channels_last',
                      grad_weight='fft'),
                 dict(forward='channels_last', grad_input='fft',
                      grad_weight='triton'),
                 dict(forward='fft', grad_input='triton',
                      grad_weight='channels_last')):
        xr, wr, br = (t.detach().requires_grad_() for t in (x, weight, b))
        out = _DepthwiseConv2dFunction.apply(xr, wr, br, plan)
        got = [out] + list(torch.autograd.grad(out, (xr, wr, br), grad))
        for name, a, e in zip(('output', 'grad_input', 'grad_weight',
                               'grad_bias'), got, want):
            assert_close(a, e, torch.float32, f'{plan}: {name}')
        assert out.is_contiguous() and got[1].is_contiguous()


def test_triton_needs_the_interpreter_on_cpu(monkeypatch):
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    reason = triton_unavailable_reason(torch.device('cpu'), torch.float32)
    assert 'TRITON_INTERPRET=1' in reason
    with depthwise_conv_impl('triton'):
        with pytest.raises(RuntimeError, match='TRITON_INTERPRET=1'):
            depthwise_conv2d(torch.randn(1, 2, 5, 5),
                             torch.randn(2, 1, 3, 3))
    with pytest.raises(RuntimeError, match='TRITON_INTERPRET=1'):
        triton_forward(torch.randn(1, 2, 5, 5), torch.randn(2, 1, 3, 3))
    # float64 is not a Triton dtype: torch's kernel, as for 'fft' with ints.
    monkeypatch.setenv('TRITON_INTERPRET', '1')
    assert set(plan_depthwise_conv((1, 2, 5, 5), (3, 3), 'cpu',
                                   torch.float64, 'triton').values()) == \
        {'torch'}
    assert 'float16' in triton_unavailable_reason(torch.device('cpu'),
                                                  torch.float64)


def _layer_outputs(layer, x):
    """The layer's output and the gradients of its input and parameters,
    in float64 (one random output gradient, seeded)."""
    x = x.clone().requires_grad_()
    out = layer(x)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    inputs = [x] + list(layer.parameters())
    grads = torch.autograd.grad(out, inputs, grad.to(out))
    return [t.double() for t in [out, *grads]]


@pytest.mark.parametrize('layer', ['peripheral', 'oversized'])
def test_peripheral_and_oversized_convs_run_on_the_triton_kernels(
        layer, monkeypatch):
    # PeLK's peripheral conv and ParCNetV2's oversized convs (K x 1 then
    # 1 x K at 2H - 1, the 'spatial' plan they get on GPUs) reach the
    # Triton kernels through the same op, and equal their torch path.
    from lkmm.layers import OversizedConv2d, PeripheralConv2d
    from lkmm.ops import oversized_conv_impl
    torch.manual_seed(0)
    x = torch.randn(1, 2, 9, 7)
    if layer == 'peripheral':
        module = PeripheralConv2d(2, 15, centre_size=3)
        module.weight.data.normal_()
    else:
        module = OversizedConv2d(2, base_size=(5, 4), bias=True)
        module.bias_h.data.normal_()
    module.to(DEVICE)
    x = x.to(DEVICE)
    from lkmm.ops.dwconv_impls import triton_impl as op
    calls = []
    for name in ('triton_forward', 'triton_grad_input',
                 'triton_grad_weight'):
        def spy(*args, _name=name, _fn=getattr(op, name)):
            calls.append(_name)
            return _fn(*args)
        monkeypatch.setattr(op, name, spy)
    with oversized_conv_impl('spatial'):
        with depthwise_conv_impl('torch'):
            want = _layer_outputs(module, x)
        assert calls == []
        with depthwise_conv_impl('triton'):
            got = _layer_outputs(module, x)
    # Every part of every convolution ran on a Triton kernel: one conv for
    # the peripheral layer, two (H then W) for the oversized one.
    convs = 1 if layer == 'peripheral' else 2
    assert sorted(calls) == sorted(['triton_forward', 'triton_grad_input',
                                    'triton_grad_weight'] * convs)
    for name, a, e in zip(('output', 'grad_input', 'grad_weight',
                           'grad_weight_2', 'grad_bias'), got, want):
        assert_close(a, e, torch.float32, name)


@pytest.mark.parametrize('dtype', ['fp32', 'fp16', 'bf16'])
def test_every_config_compiles_for_hopper(dtype, monkeypatch):
    # The interpreter runs the kernels as Python; this compiles them (every
    # autotune config) to a Hopper cubin, which needs no GPU, so code the
    # compiler rejects fails here rather than on the first GPU.
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    import triton

    from lkmm.analysis.triton_resources import compile_for_hopper
    from lkmm.ops import triton_depthwise_conv as tdc
    for config in tdc._configs(triton, 'forward', interpret=False):
        for flip in (False, True):
            out = compile_for_hopper('forward', dtype, config, flip)
            assert 'depthwise_forward_kernel' in out.asm['ptx']
            # Half types run on tensor cores, fp32 on exact FMAs.
            ptx = out.asm['ptx']
            assert ('mma' in ptx) == (dtype != 'fp32')
    for config in tdc._configs(triton, 'weight', interpret=False):
        out = compile_for_hopper('weight', dtype, config)
        assert 'cubin' in out.asm


@pytest.mark.parametrize('impl', ['triton', 'fft'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=str)
def test_autocast_computes_in_the_autocast_dtype(impl, dtype):
    # As F.conv2d under autocast: fp32 inputs and parameters, the
    # convolution in the autocast dtype, fp32 gradients for the fp32
    # parameters, within that dtype's rounding of a float64 reference on
    # the rounded values.
    x, weight, b, grad = make((2, 3, 9, 10, 7, 7), torch.float32, 9)
    x, weight, b = (t.to(DEVICE).requires_grad_() for t in (x, weight, b))
    grad = grad.to(DEVICE, dtype)
    with depthwise_conv_impl(impl), torch.autocast(DEVICE, dtype=dtype):
        out = depthwise_conv2d(x, weight, b)
        ref = F.conv2d(x, weight, b, padding=3, groups=3)
    assert out.dtype == ref.dtype == dtype
    assert 'DepthwiseConv2dFunction' in type(out.grad_fn).__name__
    got = [out] + list(torch.autograd.grad(out, (x, weight, b), grad))
    assert [t.dtype for t in got[1:]] == [torch.float32] * 3
    want = expected(*(t.detach().to(dtype) for t in (x, weight, b)), grad)
    for name, a, e in zip(('output', 'grad_input', 'grad_weight',
                           'grad_bias'), got, want):
        assert_close(a, e, dtype, name)


def test_fp32_dots_can_opt_into_tf32x3(monkeypatch):
    # Opt-in: three TF32 tensor-core products per fp32 dot (compiled for
    # sm_90 on the CPU: 'mma' with tf32 operands appears, where exact fp32
    # dots compile to FMAs); a bad value names the allowed ones.
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    import triton

    from lkmm.analysis.triton_resources import compile_for_hopper
    from lkmm.ops import triton_depthwise_conv as tdc
    assert tdc.fp32_precision() == 'ieee'
    with tdc.triton_fp32_precision('tf32x3'):
        assert tdc._precision(torch.float32) == 'tf32x3'
        assert tdc._precision(torch.bfloat16) == 'ieee'
    assert tdc.fp32_precision() == 'ieee'
    monkeypatch.setenv('LKMM_TRITON_FP32_PRECISION', 'tf32')
    with pytest.raises(ValueError, match='one of ieee, tf32x3; got .tf32.'):
        tdc.fp32_precision()
    config = triton.Config(dict(BLOCK_H=16, BLOCK_W=16, BLOCK_T=16),
                           num_warps=4, num_stages=3)
    ptx = compile_for_hopper('forward', 'fp32', config,
                             precision='tf32x3').asm['ptx']
    assert 'mma' in ptx and 'tf32' in ptx
