"""The oversized 1-D depth-wise convolutions (lkmm/ops/oversized_conv.py)
and the implementation switch every op shares."""
import threading

import pytest
import torch

from lkmm.ops import (
    ImplSwitch,
    oversized_conv1d,
    oversized_conv_impl,
    plan_oversized_conv,
)


@pytest.mark.parametrize('size', [(16, 16), (20, 7), (33, 17)])
def test_implementations_agree_forward_and_backward(size):
    torch.manual_seed(0)
    h, w = size
    x = torch.randn(2, 5, h, w)
    kh = torch.randn(5, 2 * h - 1)
    kw = torch.randn(5, 2 * w - 1)
    grad = torch.randn(2, 5, h, w)
    results = {}
    for impl in ('torch', 'spatial', 'fft'):
        xs, khs, kws = (t.clone().requires_grad_() for t in (x, kh, kw))
        out = oversized_conv1d(oversized_conv1d(xs, khs, -2, impl), kws, -1,
                               impl)
        out.backward(grad)
        results[impl] = [out, xs.grad, khs.grad, kws.grad]
    for impl in ('spatial', 'fft'):
        for a, b in zip(results['torch'], results[impl]):
            tol = 1e-5 * b.abs().max()
            assert (a - b).abs().max() <= tol, impl


def test_fft_gradcheck_float64():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: oversized_conv1d(a, b, -2, 'fft'), (x, k))


def test_plan_and_switch():
    assert plan_oversized_conv((56, 7)) == ('fft', 'torch')
    assert plan_oversized_conv((14, 7)) == ('torch', 'torch')
    assert plan_oversized_conv((14, 7), needs_grad=False) == (
        'fft', 'torch')
    # Off the CPU: the planned depth-wise op (torch's kernel until a rule
    # measured on that device says otherwise).
    assert plan_oversized_conv((56, 56), torch.device('meta')) == (
        'spatial', 'spatial')
    with oversized_conv_impl('spatial'):
        assert plan_oversized_conv((56, 56)) == ('spatial', 'spatial')
    assert plan_oversized_conv((56, 7)) == ('fft', 'torch')  # restored
    with pytest.raises(ValueError, match='impl must be one of'):
        plan_oversized_conv((56, 56), impl='cuda')


def test_impl_switch_is_per_thread_and_reads_the_environment(monkeypatch):
    switch = ImplSwitch(('auto', 'a', 'b'), env='LKMM_TEST_SWITCH')
    monkeypatch.delenv('LKMM_TEST_SWITCH', raising=False)
    assert switch.get() == 'auto'
    monkeypatch.setenv('LKMM_TEST_SWITCH', ' B ')
    assert switch.get() == 'b'
    seen = []
    with switch.use('a'):
        worker = threading.Thread(target=lambda: seen.append(switch.get()))
        worker.start()
        worker.join()
        assert switch.get() == 'a'
    assert seen == ['b'] and switch.get() == 'b'
    switch.set('a')
    assert switch.get() == 'a'
    switch.set(None)
    assert switch.get() == 'b'
    with pytest.raises(ValueError, match=r"impl must be one of \('auto', "
                       r"'a', 'b'\), got 'c'"):
        switch.set('c')
    monkeypatch.setenv('LKMM_TEST_SWITCH', 'c')
    with pytest.raises(ValueError, match='LKMM_TEST_SWITCH must be one of'):
        switch.get()
