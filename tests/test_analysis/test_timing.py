"""lkmm.analysis.timing: what is timed, how often, in which order, and
that it needs torch alone (the GPU benchmark imports it without
OpenMMLab)."""
import os.path as osp
import subprocess
import sys

import pytest
import torch

from lkmm.analysis import timing
from lkmm.analysis.gpu_benchmark.timing import quick_timing, time_fn

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class FakeClock:
    """``time.perf_counter`` in seconds that only work advances: call ``n``
    of a :meth:`work` function takes ``n`` ms."""

    def __init__(self):
        self.now = 0.
        self.calls = []

    def perf_counter(self):
        return self.now

    def work(self, name='fn'):
        def run():
            self.calls.append(name)
            self.now += len(self.calls) * 1e-3
        return run


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(timing.time, 'perf_counter', fake.perf_counter)
    return fake


def test_warmup_calls_run_but_are_not_timed(clock):
    times = timing.time_callable(clock.work(), warmup=2, repeats=3)
    assert len(clock.calls) == 5
    # Calls 1 and 2 (1 and 2 ms) warmed up; calls 3..5 were timed.
    assert times == pytest.approx([3., 4., 5.])


def test_repeat_count_and_no_calls_for_zero(clock):
    assert timing.time_callable(clock.work(), repeats=0) == []
    assert clock.calls == []
    assert len(timing.time_callable(clock.work(), repeats=7)) == 7


@pytest.mark.parametrize('warmup, repeats', [(-1, 1), (0, -1)])
def test_negative_counts_are_refused(warmup, repeats):
    with pytest.raises(ValueError, match='must be >= 0'):
        timing.time_callable(lambda: None, warmup=warmup, repeats=repeats)
    with pytest.raises(ValueError, match='must be >= 0'):
        timing.time_interleaved({'a': lambda: None}, warmup=warmup,
                                repeats=repeats)


def test_interleaved_rounds_in_order(clock):
    times = timing.time_interleaved(
        {'a': clock.work('a'), 'b': clock.work('b')}, warmup=1, repeats=2)
    assert clock.calls == ['a', 'b'] * 3
    assert list(times) == ['a', 'b']
    assert times == {'a': pytest.approx([3., 5.]),
                     'b': pytest.approx([4., 6.])}


def test_alternating_order_restarts_after_warmup(clock):
    times = timing.time_interleaved(
        {'a': clock.work('a'), 'b': clock.work('b')}, warmup=3, repeats=3,
        alternate=True)
    assert ''.join(clock.calls) == 'ab' 'ba' 'ab' + 'ab' 'ba' 'ab'
    assert times == {'a': pytest.approx([7., 10., 11.]),
                     'b': pytest.approx([8., 9., 12.])}


def test_cuda_device_is_synchronized_around_the_call(monkeypatch):
    events = []
    monkeypatch.setattr(torch.cuda, 'synchronize',
                        lambda device=None: events.append(('sync', device)))
    timing.time_call(lambda: events.append('fn'), 'cuda')
    assert events == [('sync', 'cuda'), 'fn', ('sync', 'cuda')]
    events.clear()
    timing.time_callable(lambda: events.append('fn'), repeats=1,
                         device=torch.device('cpu'))
    timing.time_call(lambda: events.append('fn'))
    assert events == ['fn', 'fn']  # nothing to wait for off CUDA


def test_gpu_benchmark_time_fn_on_cpu(clock):
    # One warm-up, then at least min_reps calls and min_seconds in all.
    times = time_fn(clock.work(), 'cpu', min_reps=3, min_seconds=0.)
    assert len(clock.calls) == 4
    assert times == pytest.approx([2., 3., 4.])
    clock.calls.clear()
    with quick_timing():
        assert len(time_fn(clock.work(), 'cpu', min_reps=5)) == 1


def test_needs_torch_alone():
    # As on the GPU machine without OpenMMLab: mmengine cannot be imported.
    script = (
        "import sys\n"
        "for name in ('mmengine', 'mmcv', 'mmpretrain', 'mmseg', 'mmdet'):\n"
        "    sys.modules[name] = None\n"
        "from lkmm.analysis.timing import time_callable\n"
        "from lkmm.analysis.gpu_benchmark.timing import time_fn\n"
        "import lkmm.analysis.gpu_benchmark\n"
        "assert len(time_callable(lambda: None, repeats=2)) == 2\n"
        "assert len(time_fn(lambda: None, 'cpu', min_reps=2)) >= 2\n")
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO,
                          text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
