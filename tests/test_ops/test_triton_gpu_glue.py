"""What only a compiled (GPU) run of the Triton launchers does, checked on
CPU: the autotuner's pruning and tuning key through triton's own
``Autotuner`` with the launchers' exact arguments, each launch bound by
triton's own binder for an sm_90 target, the GPU row split of the weight
gradient, and every row of the GPU tile table run numerically under the
interpreter on a shape that keeps it."""
import math

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('triton')

from lkmm.ops import triton_depthwise_conv as tdc  # noqa: E402


class Launches(list):
    """Launches recorded instead of run: ``(kernel name, bound arguments,
    grid, launch options)``."""

    def named(self, name):
        return [launch for launch in self if launch[0] == name]


@pytest.fixture
def compiled_launches(monkeypatch):
    """The launchers as on a GPU (no interpreter: the GPU tile table, the
    pruners, the autotuner's key and benchmarking), with each kernel launch
    bound to its signature by triton's binder for sm_90 and recorded."""
    monkeypatch.delenv('TRITON_INTERPRET', raising=False)
    import triton
    import triton.testing
    from triton.backends.compiler import GPUTarget
    from triton.compiler import make_backend
    from triton.runtime.jit import JITFunction, create_function_from_signature
    backend = make_backend(GPUTarget('cuda', 90, 32))
    launches = Launches()

    def run(self, *args, grid, warmup, **kwargs):
        binder = create_function_from_signature(self.signature, self.params,
                                                backend)
        kwargs.setdefault('debug', False)
        bound, _, options = binder(*args, **kwargs)
        grid = grid(bound) if callable(grid) else grid
        launches.append((self.__name__, dict(bound), tuple(grid), options))

    def do_bench(fn, quantiles=None, **_):
        fn()
        return [1.0, 1.0, 1.0]

    monkeypatch.setattr(JITFunction, 'run', run)
    monkeypatch.setattr(triton.testing, 'do_bench', do_bench)
    monkeypatch.setattr(tdc, '_check_available', lambda t: None)
    tdc._kernels.cache_clear()
    yield launches
    tdc._kernels.cache_clear()


def _kernel_sizes_of(configs, names):
    return sorted(tuple(c.kwargs[n] for n in names) for c in configs)


def test_weight_gradient_prunes_and_launches_through_the_autotuner(
        compiled_launches):
    # KH/KW reach the pruner as keywords (triton names only positional
    # arguments in named_args): reading them from named_args alone raised
    # KeyError at every weight-gradient launch on a GPU.
    x = torch.randn(2, 4, 32, 32)
    grad = torch.randn(2, 4, 32, 32)
    tdc.triton_grad_weight(x, grad, (31, 31))
    launches = compiled_launches.named('depthwise_weight_kernel')
    bound = launches[-1][1]
    assert (bound['KH'], bound['KW'], bound['C'], bound['ROWS']) == \
        (31, 31, 4, 64)
    # Benchmarked: every table row whose I/J blocks fit a 31x31 kernel
    # (<= 32), i.e. all but the 64x64 one; then the winner launched.
    assert len(launches) == len(tdc._TILES['weight'][1]) - 1 + 1
    blocks = {(b['BLOCK_I'], b['BLOCK_J']) for _, b, _, _ in launches}
    assert (64, 64) not in blocks
    # Grid: channels x kernel tiles x row split (1: no SMs on CPU).
    i, j = bound['BLOCK_I'], bound['BLOCK_J']
    assert launches[-1][2] == (4, math.ceil(31 / i) * math.ceil(31 / j), 1)
    assert launches[-1][3]['num_warps'] in (2, 4, 8)


def test_forward_prunes_by_the_map_and_binds_every_argument(
        compiled_launches):
    x = torch.randn(1, 3, 20, 40)
    w = torch.randn(3, 1, 7, 7)
    tdc.triton_forward(x, w, torch.randn(3))
    tdc.triton_grad_input(x, w)
    launches = compiled_launches.named('depthwise_forward_kernel')
    # H=20 keeps BLOCK_H <= 32, W=40 keeps every BLOCK_W (<= 64).
    kept = [row for row in tdc._TILES['forward'][1] if row[0] <= 32]
    assert len(launches) == 2 * (len(kept) + 1)
    for flip, final in ((False, launches[len(kept)]), (True, launches[-1])):
        bound = final[1]
        assert (bound['N'], bound['C'], bound['H'], bound['W']) == \
            (1, 3, 20, 40)
        assert (bound['KH'], bound['KW'], bound['FLIP']) == (7, 7, flip)
        assert final[2] == (3, math.ceil(20 / bound['BLOCK_H']),
                            math.ceil(40 / bound['BLOCK_W']))


def test_tuning_key_separates_batch_and_channels(compiled_launches):
    # A check shape must not pick the config that a large cell reuses:
    # the key holds N and C (forward) and C and the rows (weight).
    w = torch.randn(4, 1, 31, 31)
    for n, c in ((1, 2), (2, 4), (2, 4)):
        x = torch.randn(n, c, 32, 32)
        tdc.triton_forward(x, w[:c])
        tdc.triton_grad_weight(x, x, (31, 31))
    forward, weight = (tdc._get(k) for k in ('forward', 'weight'))
    assert len(forward.cache) == 2
    assert len(weight.cache) == 2


@pytest.mark.parametrize('sms, want', [(None, 1), (132, 66), (132 * 64, 200)])
def test_weight_split_fills_the_multiprocessors(sms, want):
    # 4 channels, 2 kernel tiles, 1600 rows: 4 * SMs programs wanted, at
    # least 8 rows each.
    assert tdc._weight_split(4, 2, 1600, sms) == want


@pytest.fixture
def interpreter(monkeypatch):
    monkeypatch.setenv('TRITON_INTERPRET', '1')


def _reference_parts(x, w, grad):
    """Forward, input and weight gradient of the 'same' depth-wise
    correlation in float64."""
    x, w, grad = (t.double().requires_grad_() for t in (x, w, grad))
    kh, kw = w.shape[-2:]
    out = F.conv2d(x, w, padding=(kh // 2, kw // 2), groups=x.shape[1])
    dx, dw = torch.autograd.grad(out, (x, w), grad)
    return out.detach(), dx, dw


def _poisoned(shape, seed):
    """A tensor whose storage goes on past its data with NaN, as memory
    after a tensor on a GPU may hold anything."""
    gen = torch.Generator().manual_seed(seed)
    numel = math.prod(shape)
    storage = torch.full((2 * numel,), float('nan'))
    storage[:numel] = torch.randn(numel, generator=gen)
    return storage[:numel].view(shape)


@pytest.mark.parametrize('split', [1, 3, 4])
def test_weight_gradient_stays_inside_its_rows_on_an_uneven_split(
        split, interpreter, monkeypatch):
    # 28 rows among 3 programs (10, 10, 8): the last program's range passes
    # the last row, and no load may read there (the NaN after the data).
    monkeypatch.setattr(tdc, '_weight_split', lambda *args: split)
    x, grad = _poisoned((1, 2, 28, 9), 0), _poisoned((1, 2, 28, 9), 1)
    got = tdc.triton_grad_weight(x, grad, (5, 5))
    _, _, want = _reference_parts(x, torch.zeros(2, 1, 5, 5), grad)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), want, rtol=0,
                               atol=2e-6 * want.abs().max().item())


def _keeping_shape(kernel, row):
    """(N, C, H, W, K) on which the pruner keeps ``row`` (its first two
    blocks are bounded by the map for the forward, the kernel for the
    weight gradient)."""
    a, b = row[:2]
    if kernel == 'forward':
        return 1, 2, a // 2 + 3, b // 2 + 5, 31
    k = max(a, b) // 2 + 3
    k += 1 - k % 2
    return 2, 2, 12, k // 2 + 9, k


@pytest.mark.parametrize('kernel, row', [
    (kernel, row) for kernel in ('forward', 'weight')
    for row in tdc._TILES[kernel][1]], ids=str)
def test_every_gpu_tile_row_computes_the_convolution(kernel, row,
                                                     interpreter):
    import triton
    names = tdc._TILES[kernel][0]
    n, c, h, w, k = _keeping_shape(kernel, row)
    config = triton.Config(dict(zip(names, row[:3])))
    bounds = dict(H=h, W=w, KH=k, KW=k)
    smallest = triton.Config(dict(zip(names, (16, 16, 32))))
    assert config in tdc._pruner(kernel)([smallest, config], {}, **bounds)
    gen = torch.Generator().manual_seed(sum(row))
    x, grad = (torch.randn(n, c, h, w, generator=gen) for _ in range(2))
    weight = torch.randn(c, 1, k, k, generator=gen)
    want = _reference_parts(x, weight, grad)
    with tdc.forced_tiles(kernel, row):
        if kernel == 'forward':
            got = [tdc.triton_forward(x, weight),
                   tdc.triton_grad_input(grad, weight)]
        else:
            got = [tdc.triton_grad_weight(x, grad, (k, k))]
    for a, e in zip(got, want if kernel == 'forward' else want[2:]):
        torch.testing.assert_close(a.double(), e, rtol=0,
                                   atol=2e-6 * e.abs().max().item())


def test_forced_tiles_names_the_kernels():
    with pytest.raises(ValueError, match=r"\['forward', 'weight'\]"):
        with tdc.forced_tiles('backward', (16, 16, 32, 4, 3)):
            pass
