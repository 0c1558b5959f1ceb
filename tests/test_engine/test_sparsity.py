"""Dynamic sparsity (SLaK / PeLK): SparseMasks bookkeeping and
DynamicSparsityHook in a real mmengine Runner (CPU, tiny model)."""
import copy
import math
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.runner import Runner
from torch.utils.data import Dataset

import lkmm  # noqa: F401
from lkmm.engine import (
    DynamicSparsityHook,
    SparseMasks,
    apply_sparsity_masks,
    count_nonzero_params,
    sparse_param_summary,
)
from lkmm.engine.sparsity import CHECKPOINT_KEY, prune_rate_schedule


class _Net(nn.Module):
    """Stem conv, depth-wise 7x7, point-wise conv, BN and a linear head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 7, padding=3, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        # tanh: no dead units, so trained weights are (almost surely)
        # non-zero and the non-zero counts below are exact.
        x = torch.tanh(self.stem(x))
        x = torch.tanh(self.bn(self.pw(self.dw(x))))
        return self.head(x.mean((2, 3)))


SPARSE_NAMES = ['stem.weight', 'dw.weight', 'pw.weight', 'head.weight']


class _ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.net = _Net()

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.net(inputs)
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        return logits


class _ToyDataset(Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, index):
        gen = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(3, 8, 8, generator=gen),
                    labels=index % 5)


def _net(seed=0):
    torch.manual_seed(seed)
    return _Net()


def _batch(seed=1, n=4):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, 8, 8, generator=gen),
            torch.arange(n) % 5)


def _loss_fn(batch):
    x, y = batch
    return lambda model: F.cross_entropy(model(x), y)


def _assert_masked_zero(model, masks):
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        assert not params[name][~mask].any(), name


# ------------------------------------------------------------ selection
def test_selection_follows_slak_and_filters():
    net = _net()
    # SLaK: conv kernels and linear weights (ndim 2 / 4); biases and norms
    # stay dense.
    assert SparseMasks(net).candidates == SPARSE_NAMES
    assert SparseMasks(net, module_types=['Linear']).candidates == [
        'head.weight'
    ]
    assert SparseMasks(net, module_types=[nn.Conv2d],
                       exclude=r'^stem\.').candidates == [
                           'dw.weight', 'pw.weight'
                       ]
    assert SparseMasks(net, include=[r'^dw\.', r'^head\.']).candidates == [
        'dw.weight', 'head.weight'
    ]
    net.stem.weight.requires_grad_(False)  # frozen weights stay dense
    assert 'stem.weight' not in SparseMasks(net).candidates
    # Wrappers are unwrapped: names are those of the model's state dict.
    assert SparseMasks(nn.DataParallel(_net())).candidates == SPARSE_NAMES


# ----------------------------------------------------------------- init
@pytest.mark.parametrize('mode', ['uniform', 'random', 'erk', 'snip'])
def test_init_exact_counts_and_zeroed_weights(mode):
    net = _net()
    masks = SparseMasks(net, sparsity=0.4, dense_threshold=1.0)
    kwargs = dict(loss_fn=_loss_fn(_batch())) if mode == 'snip' else {}
    allocated = masks.init(mode, generator=torch.Generator().manual_seed(0),
                           **kwargs)
    params = dict(net.named_parameters())
    for name, density in allocated.items():
        numel = params[name].numel()
        count = round(density * numel)
        if name in masks.masks:
            assert int(masks.masks[name].sum()) == count
            assert masks.masks[name].dtype == torch.bool
        else:
            assert count == numel  # only fully dense layers are left out
    _assert_masked_zero(net, masks.masks)
    total = sum(params[n].numel() for n in SPARSE_NAMES)
    kept = sum(round(d * params[n].numel()) for n, d in allocated.items())
    assert abs(kept - 0.6 * total) <= len(SPARSE_NAMES)
    if mode in ('uniform', 'random'):
        for name in SPARSE_NAMES:
            numel = params[name].numel()
            assert int(masks.masks[name].sum()) == round(0.6 * numel)


def test_erk_densities():
    net = _net()
    masks = SparseMasks(net, sparsity=0.4, dense_threshold=1.0)
    allocated = masks.init('erk', generator=torch.Generator().manual_seed(0))
    shapes = {n: p.shape for n, p in net.named_parameters()}
    # Erdos-Renyi-Kernel: density proportional to sum(shape) / prod(shape)
    # for every layer not capped at 1 (here the head and the 1x1 conv,
    # whose ratios are the largest).
    assert allocated['head.weight'] == allocated['pw.weight'] == 1.0
    assert set(masks.masks) == {'stem.weight', 'dw.weight'}
    ratios = [allocated[n] / (sum(shapes[n]) / math.prod(shapes[n]))
              for n in SPARSE_NAMES if allocated[n] < 1]
    assert len(ratios) == 2
    assert max(ratios) - min(ratios) < 0.05 * max(ratios)  # count rounding


def test_erk_densities_exact():
    """Hand-solved ERK: p (20x20) and q (40x40) have ratios 0.1 and 0.05;
    keeping 40% of 2000 weights gives eps = 800 / (0.1 * 400 + 0.05 *
    1600) = 20/3, so densities 2/3 and 1/3. Adding r (2x2, ratio 1):
    eps * 1 > 1 makes r dense, and p, q keep 0.4 * 2004 - 4 weights."""
    from lkmm.engine.sparsity.allocation import erk_densities
    shapes = {'p': torch.Size([20, 20]), 'q': torch.Size([40, 40])}
    got = erk_densities(shapes, 0.4, power=1.0)
    assert got == pytest.approx(dict(p=2 / 3, q=1 / 3), abs=1e-12)
    shapes['r'] = torch.Size([2, 2])
    got = erk_densities(shapes, 0.4, power=1.0)
    eps = (0.4 * 2004 - 4) / 120
    assert got == pytest.approx(dict(p=eps * 0.1, q=eps * 0.05, r=1.0),
                                abs=1e-12)
    # The power scales the ratios: 0.1 ** 0.5 and 0.05 ** 0.5.
    del shapes['r']
    got = erk_densities(shapes, 0.4, power=0.5)
    eps = 800 / (0.1**0.5 * 400 + 0.05**0.5 * 1600)
    assert got == pytest.approx(dict(p=eps * 0.1**0.5, q=eps * 0.05**0.5),
                                abs=1e-12)


def test_dense_threshold_leaves_nearly_dense_layers():
    # 0.5% sparsity: every layer at density 0.995 >= 0.99 stays dense.
    masks = SparseMasks(_net(), sparsity=0.005)
    masks.init('uniform')
    assert masks.masks == {}
    masks = SparseMasks(_net(), sparsity=0.005, dense_threshold=1.0)
    masks.init('uniform')
    # round(0.995 * numel) < numel for all but the 80-weight head.
    assert list(masks.masks) == ['stem.weight', 'dw.weight', 'pw.weight']


def test_snip_picks_by_weight_times_grad():
    net = _net()
    batch = _batch()
    reference = copy.deepcopy(net)
    F.cross_entropy(reference(batch[0]), batch[1]).backward()
    params = dict(reference.named_parameters())
    scores = torch.cat([(params[n] * params[n].grad).abs().flatten()
                        for n in SPARSE_NAMES])
    keep = round(0.6 * scores.numel())
    expected = torch.zeros(scores.numel(), dtype=torch.bool)
    expected[scores.topk(keep).indices] = True
    expected = dict(zip(SPARSE_NAMES, expected.split(
        [params[n].numel() for n in SPARSE_NAMES])))

    masks = SparseMasks(net, 0.4, dense_threshold=1.0)
    masks.init('snip', loss_fn=_loss_fn(batch), snip_positions='score')
    for name in SPARSE_NAMES:
        if int(expected[name].sum()) == expected[name].numel():
            assert name not in masks.masks
        else:
            assert torch.equal(masks.masks[name].flatten(), expected[name])

    # SLaK's SNIP: the same per-layer counts, random positions.
    random_pos = SparseMasks(_net(), 0.4, dense_threshold=1.0)
    random_pos.init('snip', loss_fn=_loss_fn(batch),
                    generator=torch.Generator().manual_seed(3))
    for name, mask in random_pos.masks.items():
        assert int(mask.sum()) == int(expected[name].sum())
    assert any(not torch.equal(random_pos.masks[n].flatten(), expected[n])
               for n in random_pos.masks)


def test_snip_leaves_model_grads_buffers_and_rng_alone():
    net = nn.Sequential(_net(), nn.Dropout(0.5))
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    masks = SparseMasks(net, 0.4)
    masks.init('snip', loss_fn=_loss_fn(_batch()),
               generator=torch.Generator().manual_seed(0))
    assert masks.masks
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in net.parameters())
    after = net.state_dict()
    for key, value in before.items():
        if 'running' in key or 'num_batches' in key:
            assert torch.equal(after[key], value), key


# ------------------------------------------------------ prune / regrow
def test_prune_and_regrow_exact_smallest_magnitude_random_growth():
    net = _net()
    masks = SparseMasks(net, 0.4)
    masks.init('uniform', generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # weights as after training: all active non-zero
        for p in net.parameters():
            p.add_(torch.randn_like(p))
    masks.apply()
    before_masks = {n: m.clone() for n, m in masks.masks.items()}
    before_w = {n: p.detach().clone() for n, p in net.named_parameters()}

    moved = masks.prune_and_regrow(
        0.3, generator=torch.Generator().manual_seed(1))
    params = dict(net.named_parameters())
    for name, old in before_masks.items():
        new = masks.masks[name]
        active = int(old.sum())
        assert int(new.sum()) == active  # exact density
        pruned, grown = old & ~new, new & ~old
        n = math.ceil(0.3 * active - 1e-9)
        assert moved[name] == n == int(pruned.sum()) == int(grown.sum())
        # Pruned: the smallest magnitudes among the active weights.
        kept = old & new
        assert before_w[name][pruned].abs().max() <= \
            before_w[name][kept].abs().min()
        # Regrown: positions that were inactive (zero) before, start at 0.
        assert not before_w[name][grown].any()
        assert not params[name][grown].any()
        assert not params[name][pruned].any()
        assert torch.equal(params[name][kept], before_w[name][kept])


def test_regrowth_capped_by_inactive_positions():
    # Density 0.9, rate 0.5: 45% would move but only 10% is inactive.
    net = _net()
    masks = SparseMasks(net, 0.1, dense_threshold=1.0)
    masks.init('uniform', generator=torch.Generator().manual_seed(0))
    before = {n: m.clone() for n, m in masks.masks.items()}
    moved = masks.prune_and_regrow(0.5)
    for name, old in before.items():
        inactive = int((~old).sum())
        new = masks.masks[name]
        assert moved[name] == inactive
        assert int(new.sum()) == int(old.sum())
        assert torch.equal(new & ~old, ~old)  # every inactive one regrown


def test_prune_rate_cosine_matches_slak_cosine_decay():
    # SLaK's CosineDecay: CosineAnnealingLR(T_max=steps, eta_min=0.005),
    # stepped once per optimizer step.
    total, initial = 50, 0.5
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=initial)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total, 0.005)
    for step in range(1, total + 1):
        opt.step()
        sched.step()
        assert prune_rate_schedule(step, total, initial) == pytest.approx(
            opt.param_groups[0]['lr'], abs=1e-9)
    assert prune_rate_schedule(0, total, initial) == initial
    assert prune_rate_schedule(10 * total, total, initial) == \
        pytest.approx(0.005)
    assert prune_rate_schedule(25, 50, 0.3, 'linear') == pytest.approx(
        (0.3 + 0.005) / 2)
    assert prune_rate_schedule(25, 50, 0.3, 'constant') == 0.3
    assert prune_rate_schedule(50, 50, 0.001) == pytest.approx(0.001)


# ---------------------------------------------------- optimizer steps
@pytest.mark.parametrize('make_opt', [
    lambda ps: torch.optim.AdamW(ps, lr=0.1, weight_decay=0.05),
    lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
], ids=['adamw', 'sgd-momentum'])
def test_masked_weights_stay_zero_through_optimizer_steps(make_opt):
    net = _net()
    masks = SparseMasks(net, 0.4)
    masks.init('uniform', generator=torch.Generator().manual_seed(0))
    opt = make_opt(net.parameters())
    params = dict(net.named_parameters())
    for step in range(3):
        opt.zero_grad()
        F.cross_entropy(net(_batch(step)[0]), _batch(step)[1]).backward()
        opt.step()
        if step == 0:  # the step does move masked weights ...
            assert any(params[n][~m].any() for n, m in masks.masks.items())
        masks.apply(opt)  # ... and apply() puts them back to zero
        _assert_masked_zero(net, masks.masks)
        for name, mask in masks.masks.items():
            state = opt.state[params[name]]
            key = 'exp_avg' if 'exp_avg' in state else 'momentum_buffer'
            assert not state[key][~mask].any()
            assert not params[name].grad[~mask].any()
            if 'exp_avg_sq' in state:  # kept: the gradient scale estimate
                assert state['exp_avg_sq'][~mask].any()


# ------------------------------------------------------- state / deploy
def test_state_dict_round_trip_and_mismatch_errors():
    net = _net()
    masks = SparseMasks(net, 0.4)
    masks.init('uniform', generator=torch.Generator().manual_seed(0))
    state = masks.state_dict()
    assert state['sparsity'] == 0.4
    assert all(m.device.type == 'cpu' and m.dtype == torch.bool
               for m in state['masks'].values())

    other_net = _net(seed=5)
    other = SparseMasks(other_net, 0.4)
    other.load_state_dict(
        dict(state, masks={f'module.{k}': v
                           for k, v in state['masks'].items()}))
    assert list(other.masks) == list(masks.masks)
    for name in masks.masks:
        assert torch.equal(other.masks[name], masks.masks[name])
    _assert_masked_zero(other_net, other.masks)
    other.prune_and_regrow(0.5)  # loaded masks are copies
    assert torch.equal(state['masks']['dw.weight'], masks.masks['dw.weight'])

    with pytest.raises(ValueError, match='no such parameter.*nope.weight'):
        other.load_state_dict(
            dict(masks={'nope.weight': torch.ones(2, 2, dtype=torch.bool)}))
    with pytest.raises(ValueError, match='shape mismatches.*head.weight'):
        other.load_state_dict(
            dict(masks={'head.weight': torch.ones(2, 2, dtype=torch.bool)}))
    with pytest.raises(ValueError, match='not a SparseMasks state dict'):
        other.load_state_dict({'dw.weight': torch.ones(1)})


def test_apply_sparsity_masks_and_counts():
    net = _net()
    masks = SparseMasks(net, 0.4)
    masks.init('uniform', generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.bn.bias.fill_(0.1)  # BN biases start at zero
    total = sum(p.numel() for p in net.parameters())
    masked = masks.num_masked_params() - masks.num_active()
    assert count_nonzero_params(net) == total - masked
    assert count_nonzero_params(nn.DataParallel(net)) == total - masked

    dense = _net(seed=3)
    checkpoint = {'state_dict': dense.state_dict(),
                  CHECKPOINT_KEY: masks.state_dict()}
    assert apply_sparsity_masks(dense, checkpoint) == masked
    _assert_masked_zero(dense, masks.masks)
    assert apply_sparsity_masks(_net(), masks) == masked

    table = sparse_param_summary(net, masks)
    assert 'dw.weight' in table and 'bn.weight' not in table
    assert f'model: {total - masked}/{total} non-zero parameters' in table
    with pytest.raises(ValueError, match='lkmm_sparsity'):
        apply_sparsity_masks(net, {'state_dict': {}})
    with pytest.raises(ValueError, match='no such parameter'):
        apply_sparsity_masks(nn.Linear(2, 2), masks)


# --------------------------------------------------------------- errors
@pytest.mark.parametrize('sparsity', [-0.1, 1.0, 1.5, 'half', True])
def test_sparsity_outside_range(sparsity):
    with pytest.raises(ValueError, match=r'sparsity must be .*\[0, 1\)'):
        DynamicSparsityHook(sparsity=sparsity)
    with pytest.raises(ValueError, match=r'sparsity must be .*\[0, 1\)'):
        SparseMasks(_net(), sparsity=sparsity)


@pytest.mark.parametrize('kwargs, message', [
    (dict(init='gmp'), r"init must be one of \['snip', 'erk'"),
    (dict(update_interval=0), 'update_interval must be an int >= 1'),
    (dict(prune_rate=1.5), r'prune_rate must be in \[0, 1\]'),
    (dict(rate_decay='exp'), r"rate_decay must be one of \['cosine'"),
    (dict(stop_iter=0), 'stop_iter must be None, an int >= 1 or a float'),
    (dict(stop_iter=1.5), 'stop_iter must be None, an int >= 1 or a float'),
    (dict(growth_mode='gradient'), r"growth_mode must be one of \['random"),
    (dict(prune_mode='SET'), r"prune_mode must be one of \['magnitude"),
    (dict(snip_positions='top'), 'snip_positions must be one of'),
    (dict(include='('), r"include has an invalid regex '\('"),
    (dict(module_types=[3]), 'module_types must hold classes'),
    (dict(dense_threshold=0), r'dense_threshold must be in \(0, 1\]'),
    (dict(min_ndim=0), 'min_ndim must be an int >= 1'),
])
def test_hook_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DynamicSparsityHook(**kwargs)


def test_mask_errors():
    with pytest.raises(ValueError, match='no parameter to sparsify'):
        SparseMasks(_net(), include='nothing_matches')
    masks = SparseMasks(_net())
    with pytest.raises(ValueError, match='exactly one of loss_fn'):
        masks.init('snip')
    with pytest.raises(TypeError, match='pass loss_fn instead'):
        masks.init('snip', data_batch=_batch())
    with pytest.raises(ValueError, match=r'prune rate must be in \[0, 1\]'):
        masks.prune_and_regrow(2)


def test_hook_registered_and_stop_iter():
    hook = MMENGINE_HOOKS.build(
        dict(type='lkmm.DynamicSparsityHook', stop_iter=0.75))
    assert isinstance(hook, DynamicSparsityHook)
    assert hook._stop(SimpleNamespace(max_iters=200)) == 150
    assert DynamicSparsityHook()._stop(SimpleNamespace(max_iters=9)) == 9


def test_sparsity_zero_is_a_no_op():
    hook = DynamicSparsityHook(sparsity=0)
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    runner = SimpleNamespace(model=net, iter=0, max_iters=10,
                             optim_wrapper=None, hooks=[],
                             logger=MMLogger.get_current_instance())
    hook.after_load_checkpoint(runner, {CHECKPOINT_KEY: {'masks': {}}})
    hook.before_train(runner)  # no masks to build, nothing logged
    hook.before_train_iter(runner, 0, None)
    hook.after_train_iter(runner, 0)
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert checkpoint == {} and hook.masks is None
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def test_hook_init_updates_until_stop_iter():
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=0.05, weight_decay=0.05)
    runner = SimpleNamespace(model=nn.DataParallel(net), iter=0, max_iters=6,
                             optim_wrapper=opt, hooks=[], seed=3,
                             logger=MMLogger.get_current_instance())
    hook = DynamicSparsityHook(init='erk', update_interval=1, prune_rate=0.5,
                               stop_iter=3, load_masks=False)
    hook.after_load_checkpoint(runner, {CHECKPOINT_KEY: {'masks': {}}})
    hook.before_train(runner)  # ERK now; no checkpoint masks (load_masks)
    counts = {n: int(m.sum()) for n, m in hook.masks.masks.items()}
    assert counts and not hook._needs_snip
    # ERK keeps 60% of the selected weights; the dense layers count fully.
    assert hook.masks.selected_density() == pytest.approx(0.6, abs=0.005)
    history = []
    for it in range(6):
        runner.iter = it
        opt.zero_grad()
        F.cross_entropy(net(_batch(it)[0]), _batch(it)[1]).backward()
        opt.step()
        hook.after_train_iter(runner, it)
        _assert_masked_zero(net, hook.masks.masks)
        assert {n: int(m.sum()) for n, m in hook.masks.masks.items()} == \
            counts
        history.append({n: m.clone() for n, m in hook.masks.masks.items()})
    changed = [any(not torch.equal(a[n], b[n]) for n in a)
               for a, b in zip(history, history[1:])]
    # Updates after iterations 1 and 2 (step < stop_iter=3), none later.
    assert changed == [True, False, False, False, False]


# -------------------------------------------------------------- runner
def _runner(work_dir, name, max_iters=6, **kwargs):
    return Runner(
        model=_ToyModel(),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=dict(
            dataset=_ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=4,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(
            optimizer=dict(type='AdamW', lr=0.01, weight_decay=0.05)),
        custom_hooks=[
            dict(type='lkmm.DynamicSparsityHook', sparsity=0.4,
                 init='snip', update_interval=2, prune_rate=0.5),
            dict(type='EMAHook'),
        ],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=3,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=100)),
        randomness=dict(seed=0),
        log_level='WARNING',
        **kwargs)


def _sparsity_hook(runner):
    return next(h for h in runner.hooks
                if isinstance(h, DynamicSparsityHook))


def test_runner_trains_saves_and_resumes_masks(tmp_path, monkeypatch):
    work_dir = str(tmp_path)
    runner = _runner(work_dir, 'sparse_a')
    runner.train()
    hook = _sparsity_hook(runner)
    masks = hook.masks.masks
    # SNIP may leave a layer it allocates >= 0.99 dense.
    assert masks and set(masks) <= {'net.' + n for n in SPARSE_NAMES}
    # SNIP allocated the counts; updates at iterations 2 and 4 kept them.
    ckpt3 = torch.load(osp.join(work_dir, 'iter_3.pth'), map_location='cpu')
    ckpt6 = torch.load(osp.join(work_dir, 'iter_6.pth'), map_location='cpu')
    for name, mask in masks.items():
        assert int(mask.sum()) == int(ckpt3[CHECKPOINT_KEY]['masks'][name]
                                      .sum())
    assert any(not torch.equal(mask, ckpt3[CHECKPOINT_KEY]['masks'][name])
               for name, mask in masks.items())  # iteration 4 moved them
    model = runner.model
    _assert_masked_zero(model, masks)
    total = sum(p.numel() for p in model.parameters())
    assert count_nonzero_params(model) == \
        total - hook.masks.num_masked_params() + hook.masks.num_active()
    # Saved weights are zero where masked: the model's (EMAHook stores
    # them in ema_state_dict) and the average (state_dict).
    for name, mask in ckpt6[CHECKPOINT_KEY]['masks'].items():
        assert torch.equal(mask, masks[name])
        assert not ckpt6['state_dict'][name][~mask].any()
        assert not ckpt6['ema_state_dict']['module.' + name][~mask].any()

    # Resume at iteration 3: the masks come from the checkpoint (no SNIP),
    # and the run ends exactly where the uninterrupted one did.
    def no_init(*args, **kwargs):
        raise AssertionError('masks must be restored, not initialized')

    monkeypatch.setattr(SparseMasks, 'init', no_init)
    resumed = _runner(str(tmp_path / 'resumed'), 'sparse_b', resume=True,
                      load_from=osp.join(work_dir, 'iter_3.pth'))
    resumed.train()
    resumed_masks = _sparsity_hook(resumed).masks.masks
    assert list(resumed_masks) == list(masks)
    for name, mask in masks.items():
        assert torch.equal(resumed_masks[name], mask), name
    final = dict(resumed.model.named_parameters())
    for name, param in runner.model.named_parameters():
        torch.testing.assert_close(final[name], param, rtol=0, atol=1e-6)

    # Loading the trained checkpoint into a dense model keeps the zeros.
    fresh = _ToyModel()
    fresh.load_state_dict({
        k[len('module.'):]: v
        for k, v in ckpt6['ema_state_dict'].items() if k != 'steps'
    })
    _assert_masked_zero(fresh, masks)
    assert apply_sparsity_masks(fresh, osp.join(work_dir, 'iter_6.pth')) \
        == hook.masks.num_masked_params() - hook.masks.num_active()
    # lkmm's deploy loads strictly: the extra checkpoint entry is ignored and
    # the zeros are kept.
    from lkmm.deploy import load_state_dict_strictly
    deployed = _ToyModel()
    load_state_dict_strictly(deployed, osp.join(work_dir, 'iter_6.pth'))
    _assert_masked_zero(deployed, masks)


def test_inspection_does_not_import_the_hook():
    """lkmm.engine.sparsity.inspection (and what it imports) needs neither
    the hook module nor mmengine's hooks. ``import lkmm`` registers the hook
    anyway, so a fresh interpreter stubs the parent packages (their
    ``__init__`` files do not run) and imports the module alone."""
    root = osp.dirname(lkmm.__file__)
    code = f"""
import importlib, os, sys, types
root = {root!r}
for name, sub in [('lkmm', ''), ('lkmm.engine', 'engine'),
                  ('lkmm.utils', 'utils'),
                  ('lkmm.engine.sparsity', os.path.join('engine',
                                                        'sparsity'))]:
    package = types.ModuleType(name)
    package.__path__ = [os.path.join(root, sub)]
    sys.modules[name] = package
importlib.import_module('lkmm.engine.sparsity.inspection')
assert 'lkmm.engine.sparsity.hook' not in sys.modules, 'hook imported'
assert 'mmengine.hooks' not in sys.modules, 'mmengine.hooks imported'
"""
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
