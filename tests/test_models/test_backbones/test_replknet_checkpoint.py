"""Converting official / mmpretrain RepLKNet checkpoints into lkmm's layout.

The official repository (DingXiaoH/RepLKNet-pytorch) is not installed. Its
``replknet.py`` and mmpretrain's ``RepLKNet`` build the same module tree, so
mmpretrain's backbone serves as the source of official-form weights; the
first test checks that claim against an independent statement of the
official key names.
"""
import copy
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.runner import load_checkpoint
from torch.nn.modules.batchnorm import _BatchNorm

import lkmm  # noqa: F401  (registers lkmm.RepLKNet)
from lkmm.cli.convert import build_converted_model
from lkmm.models.backbones.replknet import RepLKNet
from lkmm.models.backbones.replknet_checkpoint import (
    REPLKNET_CHECKPOINTS,
    convert_replknet_state_dict,
    detect_replknet_format,
    infer_replknet_kwargs,
)
from lkmm.utils.state_dict import extract_state_dict

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
TOOL = osp.join(REPO, 'tools', 'model_converters', 'replknet_to_lkmm.py')

# mmpretrain's arch keys (large_kernel_sizes) differ from lkmm's.
MMPRE_ARCH = dict(channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
                  large_kernel_sizes=[13, 11, 9, 7], small_kernel=3,
                  dw_ratio=1)
LKMM_ARCH = dict(channels=[8, 16, 24, 32], layers=[1, 1, 2, 1],
                 kernel_sizes=[13, 11, 9, 7], small_kernel=3, dw_ratio=1,
                 ffn_ratio=2)
NUM_CLASSES = 5
TOL = 1e-5

# Key names of the official replknet.py (DingXiaoH/RepLKNet-pytorch),
# written out by hand from its modules: stem = ModuleList of conv_bn_relu
# (conv, bn, nonlinear); RepLKNetStage.blocks alternates RepLKBlock
# (prelkb_bn, pw1, large_kernel.{lkb_origin, small_conv | lkb_reparam},
# pw2) and ConvFFN (preffn_bn, pw1, pw2); RepLKNetStage.norm is a BN with
# norm_intermediate_features; transitions = Sequential of two conv_bn_relu;
# the classifier adds norm (BN) and head (nn.Linear).
_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
OFFICIAL_KEYS = [
    r'stem\.[0-3]\.conv\.weight', r'stem\.[0-3]\.bn\.' + _BN,
    r'stages\.\d\.blocks\.\d*[02468]\.prelkb_bn\.' + _BN,
    r'stages\.\d\.blocks\.\d*[13579]\.preffn_bn\.' + _BN,
    r'stages\.\d\.blocks\.\d+\.pw[12]\.conv\.weight',
    r'stages\.\d\.blocks\.\d+\.pw[12]\.bn\.' + _BN,
    r'stages\.\d\.blocks\.\d*[02468]\.large_kernel\.(lkb_origin|small_conv)'
    r'\.conv\.weight',
    r'stages\.\d\.blocks\.\d*[02468]\.large_kernel\.(lkb_origin|small_conv)'
    r'\.bn\.' + _BN,
    r'stages\.\d\.blocks\.\d*[02468]\.large_kernel\.lkb_reparam\.'
    r'(weight|bias)',
    r'stages\.\d\.norm\.' + _BN,
    r'transitions\.\d\.[01]\.conv\.weight',
    r'transitions\.\d\.[01]\.bn\.' + _BN,
    r'norm\.' + _BN, r'head\.(weight|bias)',
]


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny tensors: one thread is faster and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomize(model, seed=0):
    """Random conv/linear weights and non-trivial BN statistics/affine."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen)
                               / fan_in**0.5)
            elif isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.num_batches_tracked.fill_(7)
    return model


def mmpre_backbone(arch=MMPRE_ARCH, seed=0, **kwargs):
    """mmpretrain's own RepLKNet (default drop_path_rate=0.3), eval mode."""
    from mmpretrain.models.backbones import RepLKNet as MMPreRepLKNet
    kwargs.setdefault('ffn_ratio', 2)
    model = randomize(MMPreRepLKNet(arch=arch, **kwargs), seed)
    model.eval()  # (its train() returns None, so no chaining)
    return model


def mmpre_classifier(seed=0):
    from mmpretrain.registry import MODELS
    model = MODELS.build(
        dict(type='ImageClassifier', _scope_='mmpretrain',
             backbone=dict(type='mmpretrain.RepLKNet', arch=MMPRE_ARCH,
                           ffn_ratio=2),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                       in_channels=32)))
    return randomize(model, seed).eval()


def lkmm_classifier(deploy=False):
    """ImageClassifier config with an lkmm backbone (built independently of
    lkmm.cli.convert.build_converted_model)."""
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(type='ImageClassifier', _scope_='mmpretrain',
             backbone=dict(type='lkmm.RepLKNet', arch=LKMM_ARCH,
                           final_norm=True, deploy=deploy),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                       in_channels=32))).eval()


def official_state_dict(backbone, seed=1):
    """Official classification-model keys from an mmpretrain backbone.

    mmpretrain builds ``stages.3.norm`` for its out index 3, where the
    official classifier has an Identity there and a top-level ``norm``
    applied at the same point; a Linear ``head`` follows pooling.
    """
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for key, value in backbone.state_dict().items():
        sd[re.sub(r'^stages\.3\.norm\.', 'norm.', key)] = value
    sd['head.weight'] = torch.randn(NUM_CLASSES, 32, generator=gen) * 0.2
    sd['head.bias'] = torch.randn(NUM_CLASSES, generator=gen) * 0.1
    return sd


def official_forward(backbone, sd, x):
    """The official classifier's forward: stages, norm, avgpool, head."""
    body = copy.deepcopy(backbone)
    body.stages[3].norm = nn.Identity()  # the official stage has no norm
    norm = nn.BatchNorm2d(32).eval()
    norm.load_state_dict({k[5:]: v for k, v in sd.items()
                          if k.startswith('norm.')})
    feat = norm(body(x)[-1])
    pooled = torch.flatten(F.adaptive_avg_pool2d(feat, 1), 1)
    return F.linear(pooled, sd['head.weight'], sd['head.bias'])


def max_diff(a, b):
    return (a - b).abs().max().item()


def load_tool():
    """The tool's logic (``lkmm.cli.convert``), called in-process."""
    from lkmm.cli import convert
    return convert


def run_tool(args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    # The tool imports lkmm; make this checkout importable however lkmm is
    # installed (a script's sys.path[0] is its own folder, not the cwd).
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p)
    return subprocess.run([sys.executable, TOOL] + args, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_mmpretrain_names_equal_official_names():
    """The premise of the official tests: mmpretrain's module tree has the
    official key names (training and deployed form)."""
    patterns = [re.compile(p) for p in OFFICIAL_KEYS]
    backbone = mmpre_backbone()
    forms = [backbone.state_dict(), official_state_dict(backbone)]
    backbone.switch_to_deploy()
    forms.append(backbone.state_dict())
    for sd in forms:
        stray = [k for k in sd if not any(p.fullmatch(k) for p in patterns)]
        assert not stray
    assert any('lkb_reparam' in k for k in forms[-1])


def test_mmpretrain_classifier_train_and_deploy():
    src = mmpre_classifier()
    x = torch.randn(2, 3, 64, 64)
    checkpoint = {'state_dict': src.state_dict(),
                  'meta': {'mmpretrain_version': '1.2.0'}}
    assert detect_replknet_format(checkpoint) == 'mmpretrain'
    sd, report = convert_replknet_state_dict(checkpoint)
    assert report.ok and report.src_format == 'mmpretrain'
    assert 'backbone.norm3.weight' in sd and 'head.fc.weight' in sd
    kwargs = infer_replknet_kwargs(sd)
    assert kwargs['arch'] == LKMM_ARCH
    assert kwargs['final_norm'] and not kwargs['deploy']
    assert not kwargs['norm_intermediate_features']
    dst = lkmm_classifier()
    dst.load_state_dict(sd, strict=True)
    with torch.no_grad():
        ref = src(x, mode='tensor')
        assert ref.abs().max() > 0.1  # a meaningful comparison
        assert max_diff(dst(x, mode='tensor'), ref) <= TOL

        # Deploy both sides: the deployed kernels still agree ...
        src.backbone.switch_to_deploy()
        dst.backbone.switch_to_deploy()
        ref = src(x, mode='tensor')
        assert max_diff(dst(x, mode='tensor'), ref) <= TOL
        # ... and a deployed mmpretrain checkpoint converts to a deployed
        # lkmm model (lkb_reparam -> fused_conv).
        sd, report = convert_replknet_state_dict(src.state_dict())
        assert report.ok
        assert 'backbone.stages.0.0.large_kernel.fused_conv.bias' in sd
        kwargs = infer_replknet_kwargs(sd)
        assert kwargs['deploy']
        assert kwargs['arch']['small_kernel'] is None  # deployed away
        deployed = lkmm_classifier(deploy=True)
        report = convert_replknet_state_dict(
            src.state_dict(), model=deployed)[1]
        assert report.ok, report.summary()
        deployed.load_state_dict(sd, strict=True)
        assert max_diff(deployed(x, mode='tensor'), ref) <= TOL


def test_mmpretrain_intermediate_norms_to_backbone():
    # XL-like: no small kernel, dw_ratio 1.5, a norm on every returned stage.
    arch = dict(MMPRE_ARCH, small_kernel=None, dw_ratio=1.5)
    src = mmpre_backbone(arch, out_indices=(0, 1, 2, 3))
    sd, report = convert_replknet_state_dict(
        {'backbone.' + k: v for k, v in src.state_dict().items()},
        target='backbone')
    assert report.ok and not any(k.startswith('backbone.') for k in sd)
    kwargs = infer_replknet_kwargs(sd)
    assert kwargs['arch']['dw_ratio'] == 1.5
    assert kwargs['arch']['small_kernel'] is None
    assert kwargs['norm_intermediate_features']
    assert kwargs['out_indices'] == (0, 1, 2, 3)
    dst = build_converted_model(REPLKNET_CHECKPOINTS, kwargs,
                                target='backbone').eval()
    assert isinstance(dst, RepLKNet)
    dst.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(dst(x), src(x)):
            assert max_diff(a, b) <= TOL


@pytest.mark.parametrize('deploy', [False, True])
@pytest.mark.parametrize('wrapper', ['model', 'state_dict', 'bare'])
def test_official_classifier(deploy, wrapper):
    backbone = mmpre_backbone(seed=2)
    if deploy:
        backbone.switch_to_deploy()
    sd = official_state_dict(backbone)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = official_forward(backbone, sd, x)
    # Vary the packaging: DDP prefix and (old BN) missing counters.
    source = dict(sd)
    if wrapper == 'model':
        source = {'module.' + k: v for k, v in source.items()}
    if wrapper == 'state_dict':
        source = {k: v for k, v in source.items()
                  if not k.endswith('num_batches_tracked')}
    checkpoint = source if wrapper == 'bare' else {wrapper: source}

    assert detect_replknet_format(checkpoint) == 'official'
    dst = lkmm_classifier(deploy)
    converted, report = convert_replknet_state_dict(checkpoint, model=dst)
    assert report.ok, report.summary()
    assert report.src_format == 'official'
    assert bool(report.filled) == (wrapper == 'state_dict')
    assert torch.equal(converted['backbone.norm3.running_var'],
                       sd['norm.running_var'])
    assert torch.equal(converted['head.fc.weight'], sd['head.weight'])
    kwargs = infer_replknet_kwargs(converted)
    assert kwargs['deploy'] == deploy
    assert kwargs['final_norm']
    dst.load_state_dict(converted, strict=True)
    with torch.no_grad():
        assert max_diff(dst(x, mode='tensor'), ref) <= TOL


def test_official_to_backbone_and_downstream_pretrained(tmp_path):
    backbone = mmpre_backbone(seed=3)
    sd = official_state_dict(backbone)
    converted, report = convert_replknet_state_dict(sd, target='backbone')
    assert report.ok
    assert sorted(report.dropped) == ['head.bias', 'head.weight']
    assert 'norm3.weight' in converted and 'head.fc.weight' not in \
        converted

    # Downstream use of both output forms through mmengine's Pretrained
    # init: classifier form with prefix='backbone.', bare form without.
    tool = load_tool()
    cls_path, bb_path = str(tmp_path / 'cls.pth'), str(tmp_path / 'bb.pth')
    src_path = str(tmp_path / 'official.pth')
    torch.save({'model': sd}, src_path)
    assert tool.replknet_to_lkmm_main([src_path, cls_path]) == 0
    assert tool.replknet_to_lkmm_main(
        [src_path, bb_path, '--target', 'backbone']) == 0
    for path, prefix in ((cls_path, 'backbone.'), (bb_path, None)):
        init = dict(type='Pretrained', checkpoint=path)
        if prefix:
            init['prefix'] = prefix
        model = RepLKNet(arch=LKMM_ARCH, final_norm=True, init_cfg=init)
        model.init_weights()
        loaded = model.state_dict()
        for key, value in converted.items():
            assert torch.equal(loaded[key], value), key


def test_unknown_and_missing_keys_are_named():
    sd = official_state_dict(mmpre_backbone())
    sd['stages.0.blocks.0.extra.weight'] = torch.zeros(1)
    sd['decode_head.conv_seg.weight'] = torch.zeros(1)
    # A large kernel at an odd (ConvFFN) position cannot be mapped either.
    sd['stages.0.blocks.1.large_kernel.lkb_origin.conv.weight'] = \
        torch.zeros(1)
    del sd['stages.1.blocks.1.pw2.bn.weight']
    converted, report = convert_replknet_state_dict(
        sd, model=lkmm_classifier())
    assert sorted(report.unknown) == [
        'decode_head.conv_seg.weight',
        'stages.0.blocks.0.extra.weight',
        'stages.0.blocks.1.large_kernel.lkb_origin.conv.weight']
    assert report.missing == ['backbone.stages.1.1.pw2.bn.weight']
    assert not report.ok
    summary = report.summary()
    assert 'decode_head.conv_seg.weight' in summary
    assert 'backbone.stages.1.1.pw2.bn.weight' in summary

    # The classifier head is reported missing when the source has none.
    no_head = {k: v for k, v in sd.items() if not k.startswith('head.')}
    assert set(convert_replknet_state_dict(no_head)[1].missing) == {
        'head.fc.weight', 'head.fc.bias'}

    # A key needed to infer the arch is named in the error.
    del sd['stages.2.blocks.0.pw1.conv.weight']
    converted = convert_replknet_state_dict(sd)[0]
    with pytest.raises(ValueError, match=r"'stages\.2\.0\.pw1\.conv\.weight'"):
        infer_replknet_kwargs(converted)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match='not a RepLKNet checkpoint'):
        detect_replknet_format({'fc.weight': torch.zeros(2)})
    with pytest.raises(ValueError, match='not tensors'):
        extract_state_dict({'epoch': 3, 'optimizer': {}})
    with pytest.raises(ValueError, match='expected a checkpoint dict'):
        extract_state_dict([torch.zeros(1)])
    with pytest.raises(ValueError, match='target must be one of'):
        convert_replknet_state_dict({'stem.0.conv.weight': torch.zeros(1)},
                                    src_format='official', target='det')
    sd = official_state_dict(mmpre_backbone())
    sd['stages.3.norm.weight'] = sd['norm.weight']
    with pytest.raises(ValueError, match='both map to'):
        convert_replknet_state_dict(sd)


def test_cli_converts_and_output_loads(tmp_path):
    backbone = mmpre_backbone(seed=4)
    backbone.switch_to_deploy()
    sd = official_state_dict(backbone)
    src = tmp_path / 'RepLKNet-tiny_official.pth'
    dst = tmp_path / 'out' / 'replknet-tiny_lkmm.pth'
    torch.save({'model': {'module.' + k: v for k, v in sd.items()}}, src)
    proc = run_tool([str(src), str(dst)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'inferred lkmm.RepLKNet kwargs' in proc.stdout
    assert "'deploy': True" in proc.stdout
    model = lkmm_classifier(deploy=True)
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['source_format'] == 'official'
    assert checkpoint['meta']['replknet_kwargs']['final_norm'] is True
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert max_diff(model(x, mode='tensor'),
                        official_forward(backbone, sd, x)) <= TOL


def test_cli_refuses_incomplete_or_foreign_inputs(tmp_path, capsys):
    # In-process main() (one subprocess above is enough, and slow).
    tool = load_tool()
    dst = tmp_path / 'out.pth'
    corrupt = tmp_path / 'corrupt.pth'
    sd = official_state_dict(mmpre_backbone())
    torch.save(sd, corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:300])  # truncated download
    assert tool.replknet_to_lkmm_main([str(corrupt), str(dst)]) == 1
    err = capsys.readouterr().err
    assert 'is truncated or corrupt (an incomplete zip archive' in err
    assert not dst.exists()
    corrupt.unlink()

    foreign = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(2)}}, foreign)
    assert tool.replknet_to_lkmm_main([str(foreign), str(dst)]) == 1
    assert 'not a RepLKNet checkpoint' in capsys.readouterr().err
    assert not dst.exists()

    sd['stages.0.blocks.0.extra.weight'] = torch.zeros(1)
    src = tmp_path / 'extra.pth'
    torch.save(sd, src)
    assert tool.replknet_to_lkmm_main([str(src), str(dst)]) == 1
    out = capsys.readouterr()
    assert 'stages.0.blocks.0.extra.weight' in out.out
    assert '--allow-missing' in out.err
    assert not dst.exists()
    assert tool.replknet_to_lkmm_main(
        [str(src), str(dst), '--allow-missing']) == 0
    assert dst.exists()
    assert sorted(os.listdir(tmp_path)) == ['extra.pth', 'out.pth',
                                            'resnet.pth']  # no temp files


def test_lkmm_checkpoints_are_retargeted():
    model = randomize(lkmm_classifier())
    sd = model.state_dict()
    assert detect_replknet_format(sd) == 'lkmm'
    bare, report = convert_replknet_state_dict(sd, target='backbone')
    assert report.ok and report.dropped == ['head.fc.weight', 'head.fc.bias']
    assert bare.keys() == model.backbone.state_dict().keys()
    again, report = convert_replknet_state_dict(bare, model=model)
    # Back to classifier form: only the dropped head is missing.
    assert report.missing == ['head.fc.weight', 'head.fc.bias']
    assert not report.unknown and not report.unexpected
    assert all(torch.equal(again[k], sd[k]) for k in again)
