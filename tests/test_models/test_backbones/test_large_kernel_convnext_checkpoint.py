"""Converting the authors' released SLaK checkpoints (VITA-Group/SLaK) into
lkmm's ``LargeKernelConvNeXt`` (form ``'stripe'``).

The released code is not installed. Its key names and shapes are written
out by hand below from ``models/SLaK.py`` (``ReparamLargeKernelConv`` with
``Decom=True``: ``LoRA1`` a ``(K, w)`` conv + BN, ``LoRA2`` a ``(w, K)``
conv + BN, ``small_conv`` a ``w x w`` conv + BN, ``w = kernel_size[-1]``),
independently of the converter's tables, and :func:`released_forward`
computes the released model's output from such a state dict, so the tests
check the mapping against the release's semantics, not only key names.
"""
import os
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

from lkmm.cli.convert import build_converted_model, convert_checkpoint
from lkmm.models.backbones.large_kernel_convnext_checkpoint import (
    SLAK_CHECKPOINTS,
    convert_slak_state_dict,
    detect_slak_format,
    infer_slak_kwargs,
    is_slak_state_dict,
)
from lkmm.registry import MODELS as LKMM_MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
TOOL = osp.join(REPO, 'tools', 'model_converters', 'slak_to_lkmm.py')

DEPTHS, DIMS = [1, 1, 2, 1], [8, 16, 24, 32]
KERNELS = [13, 11, 9, 7]
NUM_CLASSES = 5
SIZE = 64
TOL = 1e-9  # float64

# The released SLaK-T (SLaK_tiny, kernel_size=[51, 49, 47, 13, 5],
# width_factor=1.3: dims int(1.3 * [96, 192, 384, 768])), written out by
# hand: the stem, stage-0 block 0, the stage-1 downsampling, the last
# block, the final norm and the head.
SLAK_T_RELEASED = {
    'downsample_layers.0.0.weight': (124, 3, 4, 4),
    'downsample_layers.0.0.bias': (124, ),
    'downsample_layers.0.1.weight': (124, ),
    'downsample_layers.0.1.bias': (124, ),
    'stages.0.0.large_kernel.LoRA1.conv.weight': (124, 1, 51, 5),
    'stages.0.0.large_kernel.LoRA1.bn.running_var': (124, ),
    'stages.0.0.large_kernel.LoRA2.conv.weight': (124, 1, 5, 51),
    'stages.0.0.large_kernel.LoRA2.bn.num_batches_tracked': (),
    'stages.0.0.large_kernel.small_conv.conv.weight': (124, 1, 5, 5),
    'stages.0.0.large_kernel.small_conv.bn.weight': (124, ),
    'stages.0.0.norm.weight': (124, ),
    'stages.0.0.pwconv1.weight': (496, 124),
    'stages.0.0.pwconv1.bias': (496, ),
    'stages.0.0.pwconv2.weight': (124, 496),
    'stages.0.0.gamma': (124, ),
    'downsample_layers.1.0.weight': (124, ),
    'downsample_layers.1.1.weight': (249, 124, 2, 2),
    'stages.3.2.large_kernel.LoRA1.conv.weight': (998, 1, 13, 5),
    'stages.3.2.large_kernel.LoRA2.conv.weight': (998, 1, 5, 13),
    'stages.3.2.pwconv2.bias': (998, ),
    'norm.weight': (998, ),
    'head.weight': (1000, 998),
    'head.bias': (1000, ),
}
# The lkmm names these take (classifier target).
SLAK_T_LKMM = {
    'stages.0.0.large_kernel.LoRA1.conv.weight':
    'backbone.stages.0.blocks.0.large_kernel.tall_conv.conv.weight',
    'stages.0.0.large_kernel.LoRA2.bn.num_batches_tracked':
    'backbone.stages.0.blocks.0.large_kernel.wide_conv.bn.'
    'num_batches_tracked',
    'stages.0.0.pwconv1.weight': 'backbone.stages.0.blocks.0.pw1.weight',
    'stages.0.0.gamma': 'backbone.stages.0.blocks.0.gamma',
    'downsample_layers.1.1.weight': 'backbone.downsample_layers.1.1.weight',
    'norm.weight': 'backbone.norm3.weight',
    'head.weight': 'head.fc.weight',
}
_BN = ('weight', 'bias', 'running_mean', 'running_var',
       'num_batches_tracked')


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def released_shapes(depths, dims, kernels, small, num_classes=None,
                    dense=False, in_chans=3):
    """Key -> shape of a released SLaK, in its module order
    (``kernel_size=kernels + [small]``)."""
    shapes = OrderedDict()
    shapes['downsample_layers.0.0.weight'] = (dims[0], in_chans, 4, 4)
    shapes['downsample_layers.0.0.bias'] = (dims[0], )
    shapes['downsample_layers.0.1.weight'] = (dims[0], )
    shapes['downsample_layers.0.1.bias'] = (dims[0], )
    for i in range(1, len(dims)):
        ds = f'downsample_layers.{i}.'
        shapes[ds + '0.weight'] = (dims[i - 1], )
        shapes[ds + '0.bias'] = (dims[i - 1], )
        shapes[ds + '1.weight'] = (dims[i], dims[i - 1], 2, 2)
        shapes[ds + '1.bias'] = (dims[i], )
    for i, (depth, c, k) in enumerate(zip(depths, dims, kernels)):
        for j in range(depth):
            pre = f'stages.{i}.{j}.'
            branches = [('LoRA1', (k, small)), ('LoRA2', (small, k))]
            if small < k:
                branches.append(('small_conv', (small, small)))
            for name, kernel in branches:
                shapes[f'{pre}large_kernel.{name}.conv.weight'] = \
                    (c, 1) + kernel
                for bn in _BN:
                    shapes[f'{pre}large_kernel.{name}.bn.{bn}'] = \
                        () if bn == 'num_batches_tracked' else (c, )
            shapes[pre + 'gamma'] = (c, )
            shapes[pre + 'norm.weight'] = (c, )
            shapes[pre + 'norm.bias'] = (c, )
            shapes[pre + 'pwconv1.weight'] = (4 * c, c)
            shapes[pre + 'pwconv1.bias'] = (4 * c, )
            shapes[pre + 'pwconv2.weight'] = (c, 4 * c)
            shapes[pre + 'pwconv2.bias'] = (c, )
    if dense:
        for i, c in enumerate(dims):
            shapes[f'norm{i}.weight'] = (c, )
            shapes[f'norm{i}.bias'] = (c, )
    else:
        shapes['norm.weight'] = (dims[-1], )
        shapes['norm.bias'] = (dims[-1], )
        if num_classes:
            shapes['head.weight'] = (num_classes, dims[-1])
            shapes['head.bias'] = (num_classes, )
    return shapes


def random_tensors(shapes, seed):
    """float64 weights; BN statistics and affine parameters non-trivial."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        def rand(scale=1.):
            return torch.randn(shape, generator=gen,
                               dtype=torch.float64) * scale
        if key.endswith('num_batches_tracked'):
            value = torch.tensor(7)
        elif key.endswith('running_var'):
            value = torch.rand(shape, generator=gen,
                               dtype=torch.float64) + 0.5
        elif key.endswith(('running_mean', '.bias')):
            value = rand(0.1)
        elif key.endswith('gamma'):
            value = rand(0.5)
        elif len(shape) == 1:  # LN / BN weights
            value = 1 + rand(0.2)
        else:
            value = rand(1 / torch.tensor(shape[1:]).prod().item()**0.5)
        out[key] = value
    return out


def released_tiny(seed=0, small=5, dense=False):
    return random_tensors(
        released_shapes(DEPTHS, DIMS, KERNELS, small, NUM_CLASSES, dense),
        seed)


def released_forward(sd, x, dense=False):
    """The released SLaK's forward from its state dict (eval-mode BN,
    centred 'same' padding of every branch).

    Returns the logits, or with ``dense`` the mmseg/mmdet backbone's
    ``norm{i}`` outputs of every stage."""

    def ln_first(t, pre):  # LayerNorm(data_format='channels_first')
        u = t.mean(1, keepdim=True)
        s = (t - u).pow(2).mean(1, keepdim=True)
        t = (t - u) / torch.sqrt(s + 1e-6)
        return sd[pre + 'weight'][:, None, None] * t + \
            sd[pre + 'bias'][:, None, None]

    def conv_bn(t, pre):
        weight = sd[pre + 'conv.weight']
        kh, kw = weight.shape[-2:]
        t = F.conv2d(t, weight, padding=(kh // 2, kw // 2),
                     groups=t.shape[1])
        return F.batch_norm(t, sd[pre + 'bn.running_mean'],
                            sd[pre + 'bn.running_var'], sd[pre + 'bn.weight'],
                            sd[pre + 'bn.bias'], False, 0., 1e-5)

    outs = []
    for i in range(len(DIMS)):
        ds = f'downsample_layers.{i}.'
        if i == 0:
            x = F.conv2d(x, sd[ds + '0.weight'], sd[ds + '0.bias'], stride=4)
            x = ln_first(x, ds + '1.')
        else:
            x = ln_first(x, ds + '0.')
            x = F.conv2d(x, sd[ds + '1.weight'], sd[ds + '1.bias'], stride=2)
        j = 0
        while f'stages.{i}.{j}.gamma' in sd:
            pre = f'stages.{i}.{j}.'
            y = conv_bn(x, pre + 'large_kernel.LoRA1.') + \
                conv_bn(x, pre + 'large_kernel.LoRA2.')
            if pre + 'large_kernel.small_conv.conv.weight' in sd:
                y = y + conv_bn(x, pre + 'large_kernel.small_conv.')
            y = y.permute(0, 2, 3, 1)
            y = F.layer_norm(y, y.shape[-1:], sd[pre + 'norm.weight'],
                             sd[pre + 'norm.bias'], 1e-6)
            y = F.linear(y, sd[pre + 'pwconv1.weight'],
                         sd[pre + 'pwconv1.bias'])
            y = F.linear(F.gelu(y), sd[pre + 'pwconv2.weight'],
                         sd[pre + 'pwconv2.bias'])
            x = x + (sd[pre + 'gamma'] * y).permute(0, 3, 1, 2)
            j += 1
        if dense:
            outs.append(ln_first(x, f'norm{i}.'))
    if dense:
        return outs
    feats = F.layer_norm(x.mean([-2, -1]), x.shape[1:2], sd['norm.weight'],
                         sd['norm.bias'], 1e-6)
    return F.linear(feats, sd['head.weight'], sd['head.bias'])


def tiny_arch(small=5):
    return dict(depths=DEPTHS, channels=DIMS, kernel_sizes=KERNELS,
                form='stripe', stripe_width=small, small_kernel=small)


def lkmm_classifier(small=5):
    """ImageClassifier config with lkmm's SLaK backbone (built independently
    of lkmm.cli.convert.build_converted_model)."""
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(type='ImageClassifier', _scope_='mmpretrain',
             backbone=dict(type='lkmm.LargeKernelConvNeXt',
                           arch=tiny_arch(small)),
             neck=None,  # the backbone pools before its final norm
             head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                       in_channels=DIMS[-1]))).double().eval()


def lkmm_backbone(**kwargs):
    return LKMM_MODELS.build(dict(
        type='lkmm.LargeKernelConvNeXt', arch=tiny_arch(),
        **kwargs)).double().eval()


def run_tool(args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p)
    return subprocess.run([sys.executable, TOOL] + args, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def image(seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, SIZE, SIZE, generator=gen, dtype=torch.float64)


def test_slak_t_keys_map_to_existing_lkmm_keys():
    generated = released_shapes([3, 3, 9, 3], [124, 249, 499, 998],
                                [51, 49, 47, 13], 5, num_classes=1000)
    for key, shape in SLAK_T_RELEASED.items():  # generator == hand-written
        assert generated[key] == shape, key
    source = {k: torch.zeros(()).expand(s) for k, s in generated.items()}
    converted, report = convert_slak_state_dict({'model': source})
    assert report.ok, report.summary()
    assert len(report.matched) == len(generated) == len(converted)
    dst_of = dict(m.split(' -> ') for m in report.matched)
    for key, dst in SLAK_T_LKMM.items():
        assert dst_of[key] == dst
    kwargs = infer_slak_kwargs(converted)
    assert kwargs == dict(arch='slak-t', in_channels=3, out_indices=(3, ),
                          gap_before_final_norm=True,
                          layer_scale_init_value=1e-6)
    model = build_converted_model(SLAK_CHECKPOINTS, dict(arch='slak-t'),
                                  'classifier', 1000)
    expected = model.state_dict()
    assert converted.keys() == expected.keys()
    for key, value in converted.items():
        assert value.shape == expected[key].shape, key


@pytest.mark.parametrize('wrapper,small', [('bare', 5), ('model', 5),
                                           ('model_ema', 5), ('model', 3)])
def test_converted_classifier_matches_released_forward(wrapper, small):
    sd = released_tiny(seed=1, small=small)
    ema = released_tiny(seed=2, small=small)
    checkpoint = sd if wrapper == 'bare' else {
        'model': sd, 'epoch': 3,
        'model_ema': {'module.' + k: v for k, v in ema.items()}}
    reference = ema if wrapper == 'model_ema' else sd
    assert is_slak_state_dict(checkpoint)
    assert detect_slak_format(checkpoint) == 'classification'
    converted, report = convert_slak_state_dict(
        checkpoint, use_ema=wrapper == 'model_ema')
    assert report.ok, report.summary()
    assert not report.filled
    kwargs = infer_slak_kwargs(converted)
    assert kwargs['arch'] == dict(tiny_arch(small), mlp_ratio=4.)
    model = lkmm_classifier(small)
    model.load_state_dict(converted, strict=True)
    x = image()
    with torch.no_grad():
        ref = released_forward(reference, x)
        assert ref.abs().max() > 0.1  # a meaningful comparison
        torch.testing.assert_close(model(x, mode='tensor'), ref,
                                   atol=TOL, rtol=TOL)
        model.backbone.switch_to_deploy()
        torch.testing.assert_close(model(x, mode='tensor'), ref,
                                   atol=1e-7, rtol=1e-7)


def test_each_branch_matters():
    """Zeroing LoRA1, LoRA2 or small_conv changes the released output, so
    the comparison above sees a branch that went to the wrong place."""
    sd = released_tiny(seed=5)
    x = image(1)
    with torch.no_grad():
        ref = released_forward(sd, x)
        for branch in ('LoRA1', 'LoRA2', 'small_conv'):
            other = dict(sd)
            key = f'stages.0.0.large_kernel.{branch}.conv.weight'
            other[key] = -sd[key]
            assert (released_forward(other, x) - ref).abs().max() > 1e-3


def test_dense_backbone_checkpoint_converts_exactly():
    """An mmseg segmentor checkpoint (backbone under 'backbone.', output
    norms norm0-norm3, a decode head next to it) to target 'backbone'."""
    released = released_tiny(seed=3, dense=True)
    segmentor = {'backbone.' + k: v for k, v in released.items()}
    segmentor['decode_head.conv_seg.weight'] = torch.zeros(3, 8, 1, 1)
    checkpoint = {'state_dict': segmentor, 'meta': {}}
    assert is_slak_state_dict(checkpoint)
    assert detect_slak_format(checkpoint) == 'dense'
    converted, report = convert_slak_state_dict(
        {'state_dict': segmentor}, target='backbone')
    assert report.unknown == ['decode_head.conv_seg.weight']
    assert any('decode_head' in n for n in report.notes)
    assert not report.missing and not report.unexpected
    kwargs = infer_slak_kwargs(converted, dense=True)
    assert kwargs['out_indices'] == (0, 1, 2, 3)
    assert kwargs['gap_before_final_norm'] is False
    model = lkmm_backbone(out_indices=(0, 1, 2, 3),
                          gap_before_final_norm=False)
    model.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, SIZE + 32, SIZE - 16, dtype=torch.float64)
    with torch.no_grad():
        theirs = released_forward(released, x, dense=True)
        ours = model(x)
        assert len(ours) == len(theirs) == 4
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, atol=TOL, rtol=TOL)
        model.switch_to_deploy()
        for a, b in zip(model(x), theirs):
            torch.testing.assert_close(a, b, atol=1e-7, rtol=1e-7)
    # Bare (backbone saved alone): still the dense layout.
    assert detect_slak_format(released) == 'dense'
    with pytest.raises(ValueError, match='--target backbone'):
        convert_slak_state_dict(segmentor)


def test_is_slak_state_dict():
    sd = released_tiny()
    assert is_slak_state_dict(sd)
    assert is_slak_state_dict({'module.' + k: v for k, v in sd.items()})
    assert is_slak_state_dict({'backbone.' + k: v for k, v in sd.items()})
    assert is_slak_state_dict(
        {'state_dict': {'module.backbone.' + k: v for k, v in sd.items()}})
    assert is_slak_state_dict({'model_ema': sd})
    assert not is_slak_state_dict(lkmm_classifier().state_dict())
    assert not is_slak_state_dict({'conv1.weight': torch.zeros(1)})
    assert not is_slak_state_dict({})
    assert not is_slak_state_dict([1, 2])
    assert not is_slak_state_dict({1: torch.zeros(1)})
    # RepLKNet / ConvNeXt-31 blocks: a dense large kernel, no stripes.
    assert not is_slak_state_dict(
        {'stages.0.0.large_kernel.lkb_origin.conv.weight': torch.zeros(1)})


def test_report_names_unknown_missing_and_filled_keys():
    sd = released_tiny()
    sd['stages.1.0.large_kernel.lkb_origin.conv.weight'] = torch.zeros(
        16, 1, 11, 11)
    sd['stages.0.0.extra.weight'] = torch.zeros(1)
    del sd['stages.2.1.pwconv1.bias']
    del sd['stages.0.0.large_kernel.LoRA1.bn.num_batches_tracked']
    # The tool's check against the inferred model adds the missing keys.
    report = convert_checkpoint(sd, 'slak').report
    assert sorted(report.unknown) == [
        'stages.0.0.extra.weight',
        'stages.1.0.large_kernel.lkb_origin.conv.weight']
    assert report.missing == ['backbone.stages.2.blocks.1.pw1.bias']
    assert report.filled == [
        'backbone.stages.0.blocks.0.large_kernel.tall_conv.bn.'
        'num_batches_tracked']
    assert any('lkb_origin' in n for n in report.notes)
    assert not report.ok
    summary = report.summary()
    for key in report.unknown + report.missing:
        assert key in summary
    no_head = {k: v for k, v in released_tiny().items()
               if not k.startswith('head.')}
    assert convert_slak_state_dict(no_head)[1].missing == [
        'head.fc.weight', 'head.fc.bias']
    _, report = convert_slak_state_dict(released_tiny(), target='backbone')
    assert report.ok and report.dropped == ['head.weight', 'head.bias']


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match='not a released SLaK checkpoint'):
        convert_slak_state_dict({'conv1.weight': torch.zeros(2)})
    with pytest.raises(ValueError, match='already an lkmm'):
        detect_slak_format(lkmm_classifier().state_dict())
    with pytest.raises(ValueError, match="no 'model_ema'"):
        convert_slak_state_dict(released_tiny(), use_ema=True)
    with pytest.raises(ValueError, match='target must be one of'):
        convert_slak_state_dict(released_tiny(), target='det')
    with pytest.raises(ValueError, match='src_format must be'):
        convert_slak_state_dict(released_tiny(), src_format='timm')
    sd = released_tiny()
    sd['stages.0.0.pwconv2.weight'] = torch.zeros(8, 33)
    with pytest.raises(ValueError, match=r'shapes differ .*'
                       r'\[stages\.0\.0\.pwconv2\.weight\]'):
        convert_checkpoint(sd, 'slak')  # the tool's check, inferred model


def test_cli_converts_and_output_loads(tmp_path):
    sd = released_tiny(seed=4)
    ema = released_tiny(seed=6)
    src = tmp_path / 'slak_tiny_released.pth'
    dst = tmp_path / 'out' / 'slak_lkmm.pth'
    torch.save({'model': sd, 'model_ema': ema, 'epoch': 10}, src)
    proc = run_tool([str(src), str(dst), '--ema'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert 'source format: classification, target: classifier (EMA ' \
        'weights)' in out
    assert 'inferred lkmm.LargeKernelConvNeXt kwargs' in out
    assert 'unexpected source keys (not used) (0)' in out
    assert 'missing lkmm keys (not filled) (0)' in out
    model = lkmm_classifier()
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['source_format'] == 'classification'
    assert checkpoint['meta']['ema'] is True
    x = image(2)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'),
                                   released_forward(ema, x),
                                   atol=TOL, rtol=TOL)


def test_cli_exit_statuses_and_atomic_output(tmp_path, capsys):
    from lkmm.cli.convert import slak_to_lkmm_main as main
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'previous')  # must survive every failure

    foreign = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(2)}}, foreign)
    assert main([str(foreign), str(dst)]) == 1
    assert 'not a released SLaK checkpoint' in capsys.readouterr().err

    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    assert main([str(garbage), str(dst)]) == 1
    assert 'is not a PyTorch checkpoint' in capsys.readouterr().err
    assert main([str(tmp_path / 'absent.pth'), str(dst)]) == 1
    assert 'not found' in capsys.readouterr().err

    sd = released_tiny()
    sd['stages.0.0.extra.weight'] = torch.zeros(1)
    src = tmp_path / 'extra.pth'
    torch.save({'model': sd}, src)
    assert main([str(src), str(dst)]) == 1
    captured = capsys.readouterr()
    assert 'stages.0.0.extra.weight' in captured.out
    assert '--allow-missing' in captured.err
    assert main([str(src), str(dst), '--ema']) == 1
    assert "no 'model_ema'" in capsys.readouterr().err
    assert dst.read_bytes() == b'previous'

    assert main([str(src), str(dst), '--allow-missing']) == 0
    assert dst.read_bytes() != b'previous'
    assert sorted(os.listdir(tmp_path)) == [
        'extra.pth', 'garbage.pth', 'out.pth', 'resnet.pth']  # no temps
    model = lkmm_classifier()
    load_checkpoint(model, str(dst), strict=True)

    # A downstream checkpoint: target backbone; its decode head is unknown.
    segmentor = {'backbone.' + k: v
                 for k, v in released_tiny(dense=True).items()}
    segmentor['decode_head.conv_seg.weight'] = torch.zeros(3, 8, 1, 1)
    seg = tmp_path / 'upernet.pth'
    torch.save({'state_dict': segmentor}, seg)
    bb = tmp_path / 'bb.pth'
    assert main([str(seg), str(bb)]) == 1  # classifier: refused
    assert '--target backbone' in capsys.readouterr().err
    assert main([str(seg), str(bb), '--target', 'backbone']) == 1
    assert 'decode_head.conv_seg.weight' in capsys.readouterr().out
    assert not bb.exists()
    assert main([str(seg), str(bb), '--target', 'backbone',
                 '--allow-missing']) == 0
    backbone = lkmm_backbone(out_indices=(0, 1, 2, 3),
                             gap_before_final_norm=False)
    load_checkpoint(backbone, str(bb), strict=True)


@pytest.mark.parametrize('how', ['option', 'suffix'])
def test_cli_writes_safetensors(tmp_path, how):
    from lkmm.cli.convert import slak_to_lkmm_main as main
    sd = released_tiny(seed=7)
    src = tmp_path / 'slak.pth'
    torch.save({'model': sd}, src)
    if how == 'option':
        dst = tmp_path / 'slak_lkmm.bin'
        argv = [str(src), str(dst), '--safetensors']
    else:
        dst = tmp_path / 'slak_lkmm.safetensors'
        argv = [str(src), str(dst)]
    assert main(argv) == 0
    from safetensors import safe_open
    with safe_open(str(dst), framework='pt') as f:  # really safetensors
        assert 'lkmm_meta' in f.metadata()
    if how == 'option':
        # mmengine's loader reads *.safetensors by name: rename it.
        dst = dst.rename(tmp_path / 'renamed.safetensors')
    model = lkmm_classifier()
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['source_format'] == 'classification'
    assert checkpoint['meta']['slak_kwargs']['out_indices'] == [3]
    x = image(3)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'),
                                   released_forward(sd, x),
                                   atol=TOL, rtol=TOL)
