"""Converting the authors' released ParCNetV2 checkpoints (XuRuihan/
ParCNetV2) into lkmm's ``arch='release-*'`` layout.

The released code is not installed. Its key names and shapes are written
out by hand below from its modules (``models/parcnetv2.py`` and the
mmseg/mmdet ``backbone/parcnetv2.py``), independently of the converter's
tables, and :func:`released_forward` computes the released model's output
from such a state dict (channels-last, as the release runs), so the tests
check the mapping against the release's semantics, not only a round trip.
"""
import math
import os
import os.path as osp
import re
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import load_checkpoint

from lkmm.cli.convert import build_converted_model, convert_checkpoint
from lkmm.models.backbones.parcnetv2_checkpoint import (
    PARCNETV2_CHECKPOINTS,
    convert_parcnetv2_state_dict,
    detect_parcnetv2_format,
    infer_parcnetv2_kwargs,
    lkmm_to_parcnetv2_state_dict,
)
from lkmm.registry import MODELS as LKMM_MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
TOOL = osp.join(REPO, 'tools', 'model_converters', 'parcnetv2_to_lkmm.py')

# A tiny release-style model: oversized kernels 31, 15, 7, 3 (maps 16, 8,
# 4, 2 of a 64x64 input), residual scaling in stages 3-4 as released.
DEPTHS, DIMS = [1, 1, 2, 1], [8, 16, 24, 32]
TRAIN_SIZE = 64
KERNELS = [31, 15, 7, 3]
TINY_ARCH = dict(depths=DEPTHS, channels=DIMS, norm='L2LN', block='release',
                 res_scale=[False, False, True, True], layer_scale=False,
                 resize_kernels=False)
NUM_CLASSES = 5
TOL = 1e-4

# The released parcnetv2_xt (models/parcnetv2.py): depths [3, 3, 9, 2],
# dims [48, 96, 192, 320], global kernel sizes [111, 55, 27, 13], ParC_V2
# token mixer (pwconv1 C -> 2C with bias; OversizeConv2d conv_h / conv_w
# and the 7x7 dwconv2 on C channels, no bias; pwconv2 without bias), BGU
# with mlp_ratio 5 (nn.Linear fc1 C -> 5C with bias, fc2 5C/2 -> C without),
# LayerNormGeneral(bias=False) norms (weight only), Scale res_scale in
# stages 3-4, nn.LayerNorm norm, nn.Linear head. Written out by hand: the
# stem, stage 1 block 0, the stage-2 downsampling, the first block of stage
# 3 (residual scaling), the last block, the final norm and the head.
XT_RELEASED_SHAPES = {
    'downsample_layers.0.conv.weight': (48, 3, 7, 7),
    'downsample_layers.0.conv.bias': (48, ),
    'downsample_layers.0.post_norm.weight': (48, ),
    'stages.0.0.norm1.weight': (48, ),
    'stages.0.0.token_mixer.pwconv1.weight': (96, 48, 1, 1),
    'stages.0.0.token_mixer.pwconv1.bias': (96, ),
    'stages.0.0.token_mixer.dwconv1.conv_h.weight': (48, 1, 111, 1),
    'stages.0.0.token_mixer.dwconv1.conv_w.weight': (48, 1, 1, 111),
    'stages.0.0.token_mixer.dwconv2.weight': (48, 1, 7, 7),
    'stages.0.0.token_mixer.pwconv2.weight': (48, 48, 1, 1),
    'stages.0.0.norm2.weight': (48, ),
    'stages.0.0.mlp.fc1.weight': (240, 48),
    'stages.0.0.mlp.fc1.bias': (240, ),
    'stages.0.0.mlp.fc2.weight': (48, 120),
    'downsample_layers.1.pre_norm.weight': (48, ),
    'downsample_layers.1.conv.weight': (96, 48, 3, 3),
    'downsample_layers.1.conv.bias': (96, ),
    'stages.2.0.norm1.weight': (192, ),
    'stages.2.0.token_mixer.dwconv1.conv_h.weight': (192, 1, 27, 1),
    'stages.2.0.token_mixer.dwconv1.conv_w.weight': (192, 1, 1, 27),
    'stages.2.0.res_scale1.scale': (192, ),
    'stages.2.0.res_scale2.scale': (192, ),
    'stages.2.0.mlp.fc1.weight': (960, 192),
    'stages.2.0.mlp.fc2.weight': (192, 480),
    'downsample_layers.3.pre_norm.weight': (192, ),
    'downsample_layers.3.conv.weight': (320, 192, 3, 3),
    'stages.3.1.token_mixer.pwconv1.weight': (640, 320, 1, 1),
    'stages.3.1.token_mixer.dwconv1.conv_h.weight': (320, 1, 13, 1),
    'stages.3.1.token_mixer.dwconv1.conv_w.weight': (320, 1, 1, 13),
    'stages.3.1.token_mixer.pwconv2.weight': (320, 320, 1, 1),
    'stages.3.1.res_scale2.scale': (320, ),
    'stages.3.1.mlp.fc1.weight': (1600, 320),
    'stages.3.1.mlp.fc2.weight': (320, 800),
    'norm.weight': (320, ),
    'norm.bias': (320, ),
    'head.weight': (1000, 320),
    'head.bias': (1000, ),
}
# Where lkmm keeps some of them, written out by hand.
XT_LKMM_KEYS = {
    'downsample_layers.0.conv.weight': 'backbone.downsample_layers.0.0.weight',
    'downsample_layers.0.post_norm.weight':
        'backbone.downsample_layers.0.1.weight',
    'downsample_layers.1.pre_norm.weight':
        'backbone.downsample_layers.1.0.weight',
    'downsample_layers.1.conv.weight': 'backbone.downsample_layers.1.1.weight',
    'stages.0.0.token_mixer.dwconv1.conv_h.weight':
        'backbone.stages.0.blocks.0.spatial.global_conv.weight_h',
    'stages.0.0.token_mixer.dwconv2.weight':
        'backbone.stages.0.blocks.0.spatial.local_conv.weight',
    'stages.0.0.mlp.fc1.weight':
        'backbone.stages.0.blocks.0.channel.fc1.weight',
    'stages.2.0.res_scale1.scale': 'backbone.stages.2.blocks.0.res_scale1',
    'norm.weight': 'backbone.norm3.weight',
    'head.weight': 'head.fc.weight',
}

RELEASE_ARCHS = {  # models/parcnetv2.py: parcnetv2_{xt,tiny,small,base}
    'release-xt': ([3, 3, 9, 2], [48, 96, 192, 320]),
    'release-tiny': ([3, 3, 12, 3], [64, 128, 320, 512]),
    'release-small': ([3, 9, 24, 3], [64, 128, 320, 512]),
    'release-base': ([3, 9, 24, 3], [96, 192, 384, 576]),
}


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny tensors: one thread is faster and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def released_shapes(depths, dims, kernels, num_classes=None, dense=False):
    """Key -> shape of a released model, in the release's module order.

    Classification (``models/parcnetv2.py``) with ``num_classes``; the
    mmseg/mmdet backbone (``norm0``-``norm3``, no ``norm`` / ``head``) with
    ``dense``.
    """
    shapes = OrderedDict()
    for i, c in enumerate(dims):
        ds = f'downsample_layers.{i}.'
        if i == 0:
            shapes[ds + 'conv.weight'] = (c, 3, 7, 7)
            shapes[ds + 'conv.bias'] = (c, )
            shapes[ds + 'post_norm.weight'] = (c, )
        else:
            shapes[ds + 'pre_norm.weight'] = (dims[i - 1], )
            shapes[ds + 'conv.weight'] = (c, dims[i - 1], 3, 3)
            shapes[ds + 'conv.bias'] = (c, )
    for i, (depth, c, k) in enumerate(zip(depths, dims, kernels)):
        for b in range(depth):
            blk = f'stages.{i}.{b}.'
            shapes[blk + 'norm1.weight'] = (c, )
            mixer = blk + 'token_mixer.'
            shapes[mixer + 'pwconv1.weight'] = (2 * c, c, 1, 1)
            shapes[mixer + 'pwconv1.bias'] = (2 * c, )
            shapes[mixer + 'dwconv1.conv_h.weight'] = (c, 1, k, 1)
            shapes[mixer + 'dwconv1.conv_w.weight'] = (c, 1, 1, k)
            shapes[mixer + 'dwconv2.weight'] = (c, 1, 7, 7)
            shapes[mixer + 'pwconv2.weight'] = (c, c, 1, 1)
            if i >= 2:
                shapes[blk + 'res_scale1.scale'] = (c, )
            shapes[blk + 'norm2.weight'] = (c, )
            shapes[blk + 'mlp.fc1.weight'] = (5 * c, c)
            shapes[blk + 'mlp.fc1.bias'] = (5 * c, )
            shapes[blk + 'mlp.fc2.weight'] = (c, 5 * c // 2)
            if i >= 2:
                shapes[blk + 'res_scale2.scale'] = (c, )
    if dense:
        for i, c in enumerate(dims):
            shapes[f'norm{i}.weight'] = (c, )
    elif num_classes is not None:
        shapes['norm.weight'] = shapes['norm.bias'] = (dims[-1], )
        shapes['head.weight'] = (num_classes, dims[-1])
        shapes['head.bias'] = (num_classes, )
    return shapes


def random_tensors(shapes, seed=0):
    """Non-trivial values: norm weights and scales around 1, biases small,
    weights ~ 1/sqrt(fan-in)."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        value = torch.randn(shape, generator=gen)
        if len(shape) == 1 and (key.endswith('.scale') or (
                'norm' in key and key.endswith('weight'))):
            value = 1 + 0.2 * value
        elif len(shape) == 1:
            value = 0.1 * value
        else:
            value = value / math.prod(shape[1:])**0.5
        out[key] = value
    return out


def released_tiny(seed=0, dense=False):
    return random_tensors(
        released_shapes(DEPTHS, DIMS, KERNELS, NUM_CLASSES, dense), seed)


def released_forward(sd, x, dense=False):
    """The released ImageNet model's forward, from its state dict: returns
    the normalized pooled features and the logits (kernels used as
    stored, 'same' zero padding, as the release does by default). With
    ``dense``, the mmseg/mmdet backbone's outputs instead: every stage
    through its L2 output norm ``norm{i}``, channels first."""

    def l2_norm(t, weight):  # LayerNormGeneral(bias=False), channels-last
        c = t - t.mean(-1, keepdim=True)
        return c / c.norm(2, -1, keepdim=True).clamp_min(1e-6) * weight

    def scale(t, key):
        return t * sd[key] if key in sd else t

    outs = []
    x = F.conv2d(x, sd['downsample_layers.0.conv.weight'],
                 sd['downsample_layers.0.conv.bias'], stride=4, padding=2)
    x = l2_norm(x.permute(0, 2, 3, 1),
                sd['downsample_layers.0.post_norm.weight'])
    for i, depth in enumerate(DEPTHS):
        if i:
            ds = f'downsample_layers.{i}.'
            x = l2_norm(x, sd[ds + 'pre_norm.weight']).permute(0, 3, 1, 2)
            x = F.conv2d(x, sd[ds + 'conv.weight'], sd[ds + 'conv.bias'],
                         stride=2, padding=1).permute(0, 2, 3, 1)
        for b in range(depth):
            p = f'stages.{i}.{b}.'
            m = p + 'token_mixer.'
            y = l2_norm(x, sd[p + 'norm1.weight']).permute(0, 3, 1, 2)
            y = F.conv2d(y, sd[m + 'pwconv1.weight'], sd[m + 'pwconv1.bias'])
            y1, y2 = y.chunk(2, 1)
            y2 = F.gelu(y2)
            c = y2.shape[1]
            kh = sd[m + 'dwconv1.conv_h.weight']
            kw = sd[m + 'dwconv1.conv_w.weight']
            glob = F.conv2d(y2, kh, padding=(kh.shape[2] // 2, 0), groups=c)
            glob = F.conv2d(glob, kw, padding=(0, kw.shape[3] // 2),
                            groups=c)
            local = F.conv2d(y2, sd[m + 'dwconv2.weight'], padding=3,
                             groups=c)
            y = F.conv2d(y1 * (glob + local), sd[m + 'pwconv2.weight'])
            x = scale(x, p + 'res_scale1.scale') + y.permute(0, 2, 3, 1)
            y = F.linear(l2_norm(x, sd[p + 'norm2.weight']),
                         sd[p + 'mlp.fc1.weight'], sd[p + 'mlp.fc1.bias'])
            y1, y2 = y.chunk(2, -1)
            y = F.linear(y1 * F.gelu(y2), sd[p + 'mlp.fc2.weight'])
            x = scale(x, p + 'res_scale2.scale') + y
        if dense:
            outs.append(l2_norm(x, sd[f'norm{i}.weight']).permute(0, 3, 1, 2))
    if dense:
        return outs
    feats = F.layer_norm(x.mean((1, 2)), (x.shape[-1], ), sd['norm.weight'],
                         sd['norm.bias'], 1e-6)
    return feats, F.linear(feats, sd['head.weight'], sd['head.bias'])


def lkmm_backbone(**kwargs):
    """lkmm.ParCNetV2 for the tiny release model, by its scoped name."""
    return LKMM_MODELS.build(dict(type='lkmm.ParCNetV2', arch=TINY_ARCH,
                                  train_size=TRAIN_SIZE, **kwargs)).eval()


def lkmm_classifier():
    """ImageClassifier config with the lkmm backbone (built independently
    of lkmm.cli.convert.build_converted_model)."""
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(type='ImageClassifier', _scope_='mmpretrain',
             backbone=dict(type='lkmm.ParCNetV2', arch=TINY_ARCH,
                           train_size=TRAIN_SIZE),
             neck=None,  # the backbone pools (configs/parcnetv2)
             head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                       in_channels=DIMS[-1]))).eval()


def randomize(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() == 1 or 'res_scale' in name:
                p.copy_(1 + 0.2 * noise if name.endswith(
                    ('norm1.weight', 'norm2.weight')) or 'res_scale' in name
                    else 0.1 * noise)
            else:
                p.copy_(noise / p[0].numel()**0.5)
    return model


def max_diff(a, b):
    return (a - b).abs().max().item()


def run_tool(args):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    # A script's sys.path[0] is its own folder: make this checkout
    # importable however lkmm is installed.
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO, env.get('PYTHONPATH')) if p)
    return subprocess.run([sys.executable, TOOL] + args, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_released_xt_keys_map_to_existing_lkmm_keys():
    generated = released_shapes(*RELEASE_ARCHS['release-xt'],
                                [111, 55, 27, 13], num_classes=1000)
    # The generator agrees with the keys written out by hand.
    for key, shape in XT_RELEASED_SHAPES.items():
        assert generated[key] == shape, key
    # Zero-stride tensors: the real shapes without the memory.
    source = {k: torch.zeros(()).expand(s) for k, s in generated.items()}
    model = build_converted_model(PARCNETV2_CHECKPOINTS,
                                  dict(arch='release-xt'), 'classifier',
                                  1000)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    converted, report = convert_parcnetv2_state_dict(source, model=model)
    assert report.ok, report.summary()
    dst_of = dict(m.split(' -> ') for m in report.matched)
    for key, shape in XT_RELEASED_SHAPES.items():
        dst = dst_of[key]
        assert dst in expected, (key, dst)
        assert tuple(converted[dst].shape) == expected[dst], key
    for key, dst in XT_LKMM_KEYS.items():
        assert dst_of[key] == dst
    assert tuple(converted['backbone.stages.0.blocks.0.channel.fc2.weight']
                 .shape) == (48, 120, 1, 1)
    assert len(report.matched) == len(generated) == len(expected)
    # fc1 + fc2 of 17 blocks, both residual scales of the 11 in stages 3-4.
    assert len(report.reshaped) == 2 * 17 + 2 * 11
    kwargs = infer_parcnetv2_kwargs(converted)
    assert kwargs['arch'] == 'release-xt' and kwargs['train_size'] == 224


@pytest.mark.parametrize('arch', sorted(RELEASE_ARCHS))
def test_release_archs_are_inferred(arch):
    depths, dims = RELEASE_ARCHS[arch]
    shapes = released_shapes(depths, dims, [111, 55, 27, 13], 1000)
    source = {k: torch.zeros(()).expand(s) for k, s in shapes.items()}
    converted, report = convert_parcnetv2_state_dict(
        {'state_dict': source}, target='backbone')
    assert report.ok, report.summary()
    assert report.dropped == ['head.weight', 'head.bias']
    assert infer_parcnetv2_kwargs(converted) == dict(
        arch=arch, train_size=224, in_channels=3, out_indices=(3, ),
        gap_before_final_norm=True)


@pytest.mark.parametrize('wrapper', ['bare', 'state_dict', 'ema'])
def test_converted_classifier_matches_released_forward(wrapper):
    sd = released_tiny(seed=1)
    ema = released_tiny(seed=2)
    if wrapper == 'bare':
        checkpoint = sd
    else:
        checkpoint = {'state_dict': sd, 'epoch': torch.tensor(3),
                      'state_dict_ema': {'module.' + k: v
                                         for k, v in ema.items()}}
    use_ema = wrapper == 'ema'
    reference = ema if use_ema else sd
    assert detect_parcnetv2_format(checkpoint) == 'classification'
    model = lkmm_classifier()
    converted, report = convert_parcnetv2_state_dict(
        checkpoint, model=model, use_ema=use_ema)
    assert report.ok, report.summary()
    assert infer_parcnetv2_kwargs(converted) == dict(
        arch=TINY_ARCH | dict(expansion=[2.5] * 4, local_kernel_size=7,
                              stem_kernel=7, down_kernel=3),
        train_size=TRAIN_SIZE, in_channels=3, out_indices=(3, ),
        gap_before_final_norm=True)
    model.load_state_dict(converted, strict=True)
    x = torch.randn(2, 3, TRAIN_SIZE, TRAIN_SIZE)
    with torch.no_grad():
        _, ref = released_forward(reference, x)
        assert ref.abs().max() > 0.1  # a meaningful comparison
        assert max_diff(model(x, mode='tensor'), ref) <= TOL


@pytest.mark.parametrize('target', ['classifier', 'backbone'])
def test_round_trip_through_released_layout(target):
    src = randomize(lkmm_classifier(), seed=3)
    released = lkmm_to_parcnetv2_state_dict(src.state_dict())
    assert set(released) == set(released_shapes(DEPTHS, DIMS, KERNELS,
                                                NUM_CLASSES))
    converted, report = convert_parcnetv2_state_dict(released, target=target)
    assert report.ok, report.summary()
    if target == 'classifier':
        dst, ref_model = lkmm_classifier(), src
    else:
        dst, ref_model = lkmm_backbone(), src.backbone
    dst.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, TRAIN_SIZE, TRAIN_SIZE)
    with torch.no_grad():
        if target == 'classifier':
            assert torch.equal(dst(x, mode='tensor'),
                               ref_model(x, mode='tensor'))
        else:
            assert torch.equal(dst(x)[0], ref_model(x)[0])


def test_old_lkmm_block_keys_are_read_too():
    """lkmm state dicts from before the stages had ``blocks``
    (``stages.i.k``) map back to the release and infer alike."""
    src = randomize(lkmm_classifier(), seed=5)
    new = src.state_dict()
    old = OrderedDict(
        (re.sub(r'^backbone\.stages\.(\d+)\.blocks\.(\d+)\.',
                r'backbone.stages.\1.\2.', k), v) for k, v in new.items())
    assert 'backbone.stages.3.0.channel.fc2.weight' in old
    released = lkmm_to_parcnetv2_state_dict(new)
    from_old = lkmm_to_parcnetv2_state_dict(old)
    assert list(from_old) == list(released)
    assert all(torch.equal(from_old[k], released[k]) for k in released)
    assert infer_parcnetv2_kwargs(old) == infer_parcnetv2_kwargs(new)
    with pytest.raises(ValueError, match='already an lkmm'):
        detect_parcnetv2_format(old)


def test_dense_backbone_checkpoint_converts_exactly():
    """An mmseg segmentor checkpoint (backbone under 'backbone.', L2 output
    norms norm0-norm3, heads next to it) loads strictly into the dense
    release backbone, which then computes the release's features at a
    size other than the training one (fixed kernels, as released)."""
    released = released_tiny(dense=True)
    sd = {'backbone.' + k: v for k, v in released.items()}
    sd['decode_head.conv_seg.weight'] = torch.zeros(3, 8, 1, 1)
    assert detect_parcnetv2_format(sd) == 'dense'
    converted, report = convert_parcnetv2_state_dict(sd, target='backbone')
    assert report.unknown == ['decode_head.conv_seg.weight']
    assert not report.missing
    kwargs = infer_parcnetv2_kwargs(converted, dense=True)
    assert kwargs['out_indices'] == (0, 1, 2, 3)
    assert not kwargs['gap_before_final_norm']
    assert kwargs['arch']['resize_kernels'] is False
    model = lkmm_backbone(out_indices=(0, 1, 2, 3),
                          gap_before_final_norm=False)
    model.load_state_dict(converted, strict=True)
    x = torch.randn(1, 3, TRAIN_SIZE + 32, TRAIN_SIZE - 16)
    with torch.no_grad():
        ours = model(x)
        theirs = released_forward(released, x, dense=True)
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=TOL, rtol=TOL)
    # Back to the released dense layout (output norms kept).
    back = lkmm_to_parcnetv2_state_dict(model.state_dict())
    assert set(back) == set(released)
    # Bare (backbone saved alone): still the dense layout.
    assert detect_parcnetv2_format(released) == 'dense'


def test_report_names_unexpected_and_missing_keys():
    sd = released_tiny()
    sd['stages.0.0.token_mixer.dwconv2.bias'] = torch.zeros(8)
    sd['stages.1.0.extra.weight'] = torch.zeros(1)
    del sd['stages.1.0.mlp.fc1.bias']
    # The tool's check against the inferred model adds the missing keys.
    report = convert_checkpoint(sd, 'parcnetv2').report
    assert sorted(report.unknown) == [
        'stages.0.0.token_mixer.dwconv2.bias', 'stages.1.0.extra.weight']
    assert report.missing == ['backbone.stages.1.blocks.0.channel.fc1.bias']
    assert not report.ok
    summary = report.summary()
    for key in report.unknown + report.missing:
        assert key in summary
    assert 'stages.0.0.mlp.fc1.weight -> ' \
        'backbone.stages.0.blocks.0.channel.fc1.weight: ' \
        '(40, 8) -> (40, 8, 1, 1)' in summary
    assert any('bias=True' in n for n in report.notes)

    # The classifier head is missing when the source has none.
    no_head = {k: v for k, v in released_tiny().items()
               if not k.startswith('head.')}
    assert convert_parcnetv2_state_dict(no_head)[1].missing == [
        'head.fc.weight', 'head.fc.bias']


def test_shape_mismatches_are_errors_naming_key_and_shapes():
    sd = released_tiny()
    sd['stages.1.0.mlp.fc2.weight'] = torch.zeros(16, 41)
    with pytest.raises(ValueError) as err:
        convert_parcnetv2_state_dict(sd, model=lkmm_classifier())
    assert 'backbone.stages.1.blocks.0.channel.fc2.weight: ' \
        '(16, 41, 1, 1) vs (16, 40, 1, 1) [stages.1.0.mlp.fc2.weight]' \
        in str(err.value)
    # Without a model, the tool's check against the inferred one: its
    # expansion comes from fc2, so here fc1 is the tensor that does not fit.
    with pytest.raises(ValueError, match=r'shapes differ .*\(80, 16, 1, 1\) '
                       r'vs \(82, 16, 1, 1\) '
                       r'\[stages\.1\.0\.mlp\.fc1\.weight\]'):
        convert_checkpoint(sd, 'parcnetv2')
    sd = released_tiny()
    sd['stages.0.0.mlp.fc1.weight'] = torch.zeros(40, 8, 1, 1)
    with pytest.raises(ValueError, match=r"stages\.0\.0\.mlp\.fc1\.weight: "
                       r"expected a \(out, in\) nn\.Linear weight, got "
                       r"shape \(40, 8, 1, 1\)"):
        convert_parcnetv2_state_dict(sd)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match='not a released ParCNetV2 '
                       r"checkpoint.*'stages\.0\.0\.token_mixer\.pwconv1"):
        convert_parcnetv2_state_dict({'conv1.weight': torch.zeros(2)})
    lkmm_sd = lkmm_classifier().state_dict()
    with pytest.raises(ValueError, match='already an lkmm'):
        detect_parcnetv2_format(lkmm_sd)
    with pytest.raises(ValueError, match="no 'state_dict_ema'"):
        convert_parcnetv2_state_dict(released_tiny(), use_ema=True)
    with pytest.raises(ValueError, match='target must be one of'):
        convert_parcnetv2_state_dict(released_tiny(), target='det')
    with pytest.raises(ValueError, match='src_format must be'):
        convert_parcnetv2_state_dict(released_tiny(), src_format='timm')
    mixed = dict(released_tiny())
    mixed['backbone.stages.0.0.mlp.fc1.bias'] = torch.zeros(40)
    with pytest.raises(ValueError, match='mixes released ParCNetV2'):
        convert_parcnetv2_state_dict(mixed)
    with pytest.raises(ValueError, match='not tensors'):
        convert_parcnetv2_state_dict({'epoch': 3, 'optimizer': {}})
    # An lkmm state dict has no released counterpart for a paper block.
    paper = LKMM_MODELS.build(dict(type='lkmm.ParCNetV2', arch='10m'))
    with pytest.raises(ValueError, match='no counterpart'):
        lkmm_to_parcnetv2_state_dict(paper.state_dict())


def test_cli_converts_and_output_loads(tmp_path):
    sd = released_tiny(seed=4)
    src = tmp_path / 'parcnetv2_tiny_released.pth'
    dst = tmp_path / 'out' / 'parcnetv2_lkmm_backbone.pth'
    torch.save({'state_dict': {'module.' + k: v for k, v in sd.items()}},
               src)
    proc = run_tool([str(src), str(dst), '--target', 'backbone'])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert 'source format: classification, target: backbone' in out
    assert 'inferred lkmm.ParCNetV2 kwargs' in out
    assert 'stages.0.0.mlp.fc1.weight -> ' \
        'stages.0.blocks.0.channel.fc1.weight: (40, 8) -> (40, 8, 1, 1)' \
        in out
    assert 'unexpected source keys (not used) (0)' in out
    assert 'missing lkmm keys (not filled) (0)' in out
    assert 'head.weight' in out  # dropped, and said so
    model = lkmm_backbone()
    checkpoint = load_checkpoint(model, str(dst), strict=True)
    assert checkpoint['meta']['source_format'] == 'classification'
    assert checkpoint['meta']['parcnetv2_kwargs']['train_size'] == 64
    x = torch.randn(1, 3, TRAIN_SIZE, TRAIN_SIZE)
    with torch.no_grad():
        feats, _ = released_forward(sd, x)
        assert max_diff(model(x)[0], feats) <= TOL


def test_cli_refuses_incomplete_or_foreign_inputs(tmp_path, capsys):
    # In-process (one subprocess above is enough, and slow).
    from lkmm.cli.convert import parcnetv2_to_lkmm_main as main
    dst = tmp_path / 'out.pth'
    foreign = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(2)}}, foreign)
    assert main([str(foreign), str(dst)]) == 1
    assert 'not a released ParCNetV2 checkpoint' in capsys.readouterr().err
    assert not dst.exists()

    sd = released_tiny()
    sd['stages.0.0.extra.weight'] = torch.zeros(1)
    src = tmp_path / 'extra.pth'
    torch.save(sd, src)
    assert main([str(src), str(dst)]) == 1
    captured = capsys.readouterr()
    assert 'stages.0.0.extra.weight' in captured.out
    assert '--allow-missing' in captured.err
    assert not dst.exists()
    assert main([str(src), str(dst), '--allow-missing']) == 0
    assert dst.exists()
    assert sorted(os.listdir(tmp_path)) == ['extra.pth', 'out.pth',
                                            'resnet.pth']  # no temp files

    # The classifier form loads into the ImageClassifier config.
    model = lkmm_classifier()
    load_checkpoint(model, str(dst), strict=True)
    x = torch.randn(1, 3, TRAIN_SIZE, TRAIN_SIZE)
    with torch.no_grad():
        assert max_diff(model(x, mode='tensor'),
                        released_forward(sd, x)[1]) <= TOL

    # A segmentor checkpoint with its decode head: the head's keys are
    # not the backbone's, so the tool refuses without --allow-missing.
    dense = tmp_path / 'upernet.pth'
    segmentor = {'backbone.' + k: v
                 for k, v in released_tiny(dense=True).items()}
    segmentor['decode_head.conv_seg.weight'] = torch.zeros(3, 8, 1, 1)
    torch.save({'state_dict': segmentor}, dense)
    assert main([str(dense), str(tmp_path / 'bb.pth'), '--target',
                 'backbone']) == 1
    captured = capsys.readouterr()
    assert 'decode_head.conv_seg.weight' in captured.out
    assert not (tmp_path / 'bb.pth').exists()
    assert main([str(dense), str(tmp_path / 'bb.pth'), '--target',
                 'backbone', '--allow-missing']) == 0
    assert (tmp_path / 'bb.pth').exists()
