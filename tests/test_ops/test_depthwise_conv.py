"""lkmm's depth-wise convolution op equals F.conv2d (forward and both
gradients) whichever implementation runs, and the switch behaves."""
import pytest
import torch
import torch.nn.functional as F

from lkmm.ops import (
    DWCONV_IMPLS,
    depthwise_conv2d,
    depthwise_conv_impl,
    fft_size,
    get_depthwise_conv_impl,
    plan_depthwise_conv,
    set_depthwise_conv_impl,
)

# (N, C, H, W, KH, KW): odd sizes, batch 1, non-square maps and kernels,
# kernels larger than the map (RepLKNet stage 4: 13x13 on 7x7) and far
# larger (PeLK-like 51 on 9x6).
SHAPES = [
    (2, 3, 9, 7, 5, 5),
    (1, 4, 7, 7, 13, 13),
    (2, 3, 5, 11, 31, 31),
    (1, 2, 8, 8, 3, 7),
    (3, 5, 16, 12, 15, 9),
    (2, 4, 20, 20, 7, 7),
    (1, 3, 9, 6, 51, 51),
    (2, 6, 33, 31, 31, 31),
]


def reference(x, w, b):
    kh, kw = w.shape[-2:]
    return F.conv2d(x, w, b, padding=(kh // 2, kw // 2), groups=x.shape[1])


def outputs_and_grads(fn, x, w, b, grad):
    x, w = x.detach().requires_grad_(), w.detach().requires_grad_()
    b = None if b is None else b.detach().requires_grad_()
    out = fn(x, w, b)
    inputs = [t for t in (x, w, b) if t is not None]
    return [out] + list(torch.autograd.grad(out, inputs, grad))


@pytest.mark.parametrize('impl', ['auto', 'fft'])
@pytest.mark.parametrize('shape', SHAPES, ids=str)
@pytest.mark.parametrize('with_bias', [True, False])
def test_matches_conv2d_forward_and_gradients(impl, shape, with_bias):
    n, c, h, w, kh, kw = shape
    gen = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(n, c, h, w, generator=gen)
    weight = torch.randn(c, 1, kh, kw, generator=gen)
    bias = torch.randn(c, generator=gen) if with_bias else None
    grad = torch.randn(n, c, h, w, generator=gen)
    expected = outputs_and_grads(reference, x, weight, bias, grad)
    with depthwise_conv_impl(impl):
        got = outputs_and_grads(depthwise_conv2d, x, weight, bias, grad)
    names = ['output', 'grad_input', 'grad_weight', 'grad_bias']
    for name, a, b in zip(names, got, expected):
        assert a.shape == b.shape, name
        scale = b.abs().max().item()
        assert (a - b).abs().max().item() <= 1e-5 * max(scale, 1.), name


@pytest.mark.parametrize('shape', [(2, 2, 6, 5, 5, 5), (1, 3, 4, 4, 9, 7),
                                   (2, 1, 5, 3, 3, 11)], ids=str)
def test_gradcheck_float64_fft(shape):
    n, c, h, w, kh, kw = shape
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    weight = torch.randn(c, 1, kh, kw, generator=gen, dtype=torch.float64,
                         requires_grad=True)
    bias = torch.randn(c, generator=gen, dtype=torch.float64,
                       requires_grad=True)
    with depthwise_conv_impl('fft'):
        assert torch.autograd.gradcheck(depthwise_conv2d, (x, weight, bias))


def test_gradcheck_float64_auto_mixed_plan():
    # 7x7 map, 13x13 kernel: direct forward/input gradient on the cropped
    # kernel, FFT weight gradient (the RepLKNet stage-4 case).
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 1, 13, 13, dtype=torch.float64, requires_grad=True)
    plan = plan_depthwise_conv(x.shape, (13, 13), dtype=torch.float32)
    assert plan == dict(forward='torch', grad_input='torch',
                        grad_weight='fft')
    # float64 itself plans the FFT everywhere (oneDNN is fp32-only), so
    # exercise the mixed plan by forcing it through the autograd Function.
    from lkmm.ops.depthwise_conv import _DepthwiseConv2dFunction
    assert torch.autograd.gradcheck(
        lambda a, b: _DepthwiseConv2dFunction.apply(a, b, None, plan),
        (x, w))


@pytest.mark.parametrize('impl', ['auto', 'fft'])
def test_channels_last_in_channels_last_out(impl):
    x = torch.randn(2, 8, 12, 10).to(memory_format=torch.channels_last)
    w = torch.randn(8, 1, 15, 15)
    g = torch.randn(2, 8, 12, 10)
    expected = outputs_and_grads(reference, x, w, None, g)
    with depthwise_conv_impl(impl):
        xr = x.detach().requires_grad_()
        out = depthwise_conv2d(xr, w)
        out.backward(g)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, expected[0], atol=1e-4)
    assert torch.allclose(xr.grad, expected[1], atol=1e-4)


# Half-ulp output rounding relative to the largest magnitude, x2: fp16 has
# 10 fraction bits (2^-11 = 4.9e-4), bf16 7 (2^-8 = 3.9e-3). The FFT itself
# adds ~1e-6 (fp32 transforms).
HALF_TOLERANCE = {torch.float16: 1e-3, torch.bfloat16: 8e-3}


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=str)
def test_half_precision_within_rounding(dtype):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, 16, 16, generator=gen).to(dtype)
    w = (torch.randn(4, 1, 31, 31, generator=gen) / 31).to(dtype)
    g = torch.randn(2, 4, 16, 16, generator=gen).to(dtype)
    # float64 reference on exactly the half-precision values.
    want = outputs_and_grads(reference, x.double(), w.double(), None,
                             g.double())
    with depthwise_conv_impl('auto'):
        plan = plan_depthwise_conv(x.shape, (31, 31), dtype=dtype)
        assert set(plan.values()) == {'fft'}
        got = outputs_and_grads(depthwise_conv2d, x, w, None, g)
    for name, a, b in zip(('output', 'grad_input', 'grad_weight'), got,
                          want):
        assert a.dtype == dtype, name
        err = (a.double() - b).abs().max().item()
        assert err <= HALF_TOLERANCE[dtype] * b.abs().max().item(), name


def test_fft_chunks_are_sized_per_device(monkeypatch):
    # RepLKNet Table 1's headline layer, (64, 384, 32, 32) at K=31: cache-
    # sized chunks on CPU (a hundred and more), a few batched cuFFT calls
    # on CUDA (each chunk costs several launches there).
    import lkmm.ops.fft_depthwise_conv as fft_mod
    per_device = fft_mod.chunk_bytes_for
    assert per_device(torch.device('cpu')) == fft_mod.CHUNK_BYTES
    assert per_device(torch.device('cuda', 0)) == fft_mod.CUDA_CHUNK_BYTES
    # The weight's device picks the size (a meta tensor posing as each).
    w = torch.empty(384, 1, 31, 31, device='meta')
    chunks = {}
    for device in ('cpu', 'cuda'):
        monkeypatch.setattr(fft_mod, 'chunk_bytes_for',
                            lambda _, d=device: per_device(torch.device(d)))
        geo = fft_mod._Spectra((64, 384, 32, 32), w, None)
        chunks[device] = len(list(geo.chunks()))
    assert chunks['cpu'] >= 100 and chunks['cuda'] <= 2, chunks


@pytest.mark.parametrize('chunk_bytes', [1, 5000], ids=['1ch', '2ch'])
def test_fft_spanning_several_channel_chunks(monkeypatch, chunk_bytes):
    # Real layers split their channels into chunks of ~2 MiB of spectra;
    # shrink the chunk so a small test spans many (1 and 2 channels each,
    # with a ragged last chunk).
    import lkmm.ops.fft_depthwise_conv as fft_mod
    monkeypatch.setattr(fft_mod, 'CHUNK_BYTES', chunk_bytes)
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(2, 7, 12, 10, generator=gen)
    w = torch.randn(7, 1, 9, 13, generator=gen)
    b = torch.randn(7, generator=gen)
    g = torch.randn(2, 7, 12, 10, generator=gen)
    geo = fft_mod._Spectra(x.shape, w, None)
    assert geo.chunk == (1 if chunk_bytes == 1 else 2)
    want = outputs_and_grads(reference, x, w, b, g)
    with depthwise_conv_impl('fft'):
        got = outputs_and_grads(depthwise_conv2d, x, w, b, g)
    for name, a, e in zip(('output', 'grad_input', 'grad_weight',
                           'grad_bias'), got, want):
        assert (a - e).abs().max() <= 1e-5 * e.abs().max(), name


@pytest.mark.slow
def test_replknet_31b_stage1_layer_spans_chunks():
    # RepLKNet-31B stage 1: 128 channels, 31x31 on 56x56 maps (batch 2):
    # three channel chunks at the default chunk size.
    import lkmm.ops.fft_depthwise_conv as fft_mod
    gen = torch.Generator().manual_seed(31)
    x = torch.randn(2, 128, 56, 56, generator=gen)
    w = torch.randn(128, 1, 31, 31, generator=gen) / 31
    g = torch.randn(2, 128, 56, 56, generator=gen)
    assert fft_mod._Spectra(x.shape, w, None).chunk < 128 / 2
    assert plan_depthwise_conv(x.shape, (31, 31)) == dict.fromkeys(
        ('forward', 'grad_input', 'grad_weight'), 'fft')
    want = outputs_and_grads(reference, x.double(), w.double(), None,
                             g.double())
    with depthwise_conv_impl('auto'):
        got = outputs_and_grads(depthwise_conv2d, x, w, None, g)
    for name, a, e in zip(('output', 'grad_input', 'grad_weight'), got,
                          want):
        # fp32 FFT rounding: measured at most 6e-7 of the largest magnitude.
        assert (a.double() - e).abs().max() <= 2e-6 * e.abs().max(), name


def test_plan_by_shape_device_dtype():
    cpu, fp32 = torch.device('cpu'), torch.float32
    plan = plan_depthwise_conv((8, 384, 32, 32), (31, 31), cpu, fp32, 'auto')
    assert plan == dict.fromkeys(plan, 'fft')
    plan = plan_depthwise_conv((8, 384, 32, 32), (7, 7), cpu, fp32, 'auto')
    assert plan == dict(forward='torch', grad_input='torch',
                        grad_weight='fft')
    # 5x5: the FFT weight gradient only pays from about 20x20 maps.
    plan = plan_depthwise_conv((8, 384, 32, 32), (5, 5), cpu, fp32, 'auto')
    assert plan['grad_weight'] == 'fft'
    plan = plan_depthwise_conv((8, 384, 16, 16), (5, 5), cpu, fp32, 'auto')
    assert set(plan.values()) == {'torch'}
    plan = plan_depthwise_conv((8, 384, 32, 32), (3, 3), cpu, fp32, 'auto')
    assert set(plan.values()) == {'torch'}
    # bf16 has oneDNN's fast direct kernel too; fp16 does not (except 3x3,
    # which is memory bound).
    bf16 = plan_depthwise_conv((8, 384, 32, 32), (7, 7), cpu,
                               torch.bfloat16, 'auto')
    assert bf16 == dict(forward='torch', grad_input='torch',
                        grad_weight='fft')
    fp16 = plan_depthwise_conv((8, 384, 32, 32), (7, 7), cpu, torch.float16,
                               'auto')
    assert set(fp16.values()) == {'fft'}
    assert set(plan_depthwise_conv((8, 384, 32, 32), (3, 3), cpu,
                                   torch.float16, 'auto').values()) == \
        {'torch'}
    # A huge kernel on a small map is cropped to the taps that matter
    # (13x13 on 7x7) and then fits the fast direct kernel.
    plan = plan_depthwise_conv((8, 64, 7, 7), (101, 101), cpu, fp32, 'auto')
    assert plan['forward'] == 'torch'
    # Not measured on GPUs yet: the vendor kernel stays (more in
    # test_depthwise_conv_plan.py).
    plan = plan_depthwise_conv((8, 384, 32, 32), (31, 31),
                               torch.device('cuda'), fp32, 'auto')
    assert set(plan.values()) == {'torch'}
    # Forcing.
    assert set(plan_depthwise_conv((1, 1, 4, 4), (3, 3), cpu, fp32,
                                   'fft').values()) == {'fft'}
    assert set(plan_depthwise_conv((1, 1, 64, 64), (31, 31), cpu, fp32,
                                   'torch').values()) == {'torch'}
    # No FFT for integer or complex tensors.
    assert set(plan_depthwise_conv((1, 1, 4, 4), (5, 5), cpu, torch.int64,
                                   'fft').values()) == {'torch'}


def test_switch_validation_and_restoring(monkeypatch):
    assert DWCONV_IMPLS == ('auto', 'torch', 'fft', 'triton')
    set_depthwise_conv_impl(None)
    monkeypatch.setenv('LKMM_DWCONV_IMPL', 'torch')
    assert get_depthwise_conv_impl() == 'torch'
    with depthwise_conv_impl('fft'):
        assert get_depthwise_conv_impl() == 'fft'
    assert get_depthwise_conv_impl() == 'torch'
    monkeypatch.setenv('LKMM_DWCONV_IMPL', 'cudnn')
    with pytest.raises(ValueError, match='LKMM_DWCONV_IMPL.*auto.*torch'):
        get_depthwise_conv_impl()
    with pytest.raises(ValueError, match="impl must be one of.*'fast'"):
        set_depthwise_conv_impl('fast')
    set_depthwise_conv_impl('fft')
    try:
        assert get_depthwise_conv_impl() == 'fft'
    finally:
        set_depthwise_conv_impl(None)


def test_reference_path_is_plain_conv2d():
    x = torch.randn(1, 3, 9, 9, requires_grad=True)
    w = torch.randn(3, 1, 31, 31, requires_grad=True)
    with depthwise_conv_impl('torch'):
        out = depthwise_conv2d(x, w)
    assert 'Convolution' in type(out.grad_fn).__name__
    with depthwise_conv_impl('fft'):
        out = depthwise_conv2d(x, w)
    assert 'DepthwiseConv2dFunction' in type(out.grad_fn).__name__


def test_bad_arguments_name_the_problem():
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(ValueError, match='kernel size must be odd'):
        depthwise_conv2d(x, torch.randn(3, 1, 4, 4))
    with pytest.raises(ValueError, match=r'weight must have shape \(C, 1'):
        depthwise_conv2d(x, torch.randn(4, 1, 3, 3))
    with pytest.raises(ValueError, match='input must be 4-D'):
        depthwise_conv2d(x[0], torch.randn(3, 1, 3, 3))
    with pytest.raises(ValueError, match=r'bias must have shape \(3,\)'):
        depthwise_conv2d(x, torch.randn(3, 1, 3, 3), torch.randn(2))


def test_traced_graph_holds_a_real_convolution():
    # FLOP counters and ONNX export trace the model: they must see aten
    # convolutions, not an opaque Python autograd function.
    w = torch.randn(4, 1, 31, 31)
    with depthwise_conv_impl('fft'):
        graph = torch.jit.trace(lambda t: depthwise_conv2d(t, w),
                                torch.randn(1, 4, 16, 16)).graph
    kinds = {node.kind() for node in graph.nodes()}
    assert 'aten::_convolution' in kinds
    assert 'prim::PythonOp' not in kinds


def test_fft_size():
    assert [fft_size(n) for n in (1, 11, 13, 45, 47, 61, 77, 97)] == \
        [2, 12, 14, 48, 48, 64, 80, 98]
    with pytest.raises(ValueError, match='positive'):
        fft_size(0)
