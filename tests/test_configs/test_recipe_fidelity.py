"""Fields where the configs were compared with the official recipes and
corrected: PeLK's single-scale ADE20K test (SLaK's / ConvNeXt's sliding
windows), model EMA over the buffers too (timm's ModelEma, as the RepLKNet,
SLaK and ParCNetV2 recipes use it), and the RepLKNet release's 64 GPUs x 2
ADE20K schedule as a ready variant of the 8 x 2 config."""
import copy
import glob
import os.path as osp

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'configs')

PELK_ADE = [
    f'upernet_{arch}_in1k-pre_8xb2-160k_ade20k-512x512.py'
    for arch in ('pelk-t', 'pelk-s', 'pelk-b', 'pelk-b-101')
]


def _defines_ema(path):
    with open(path) as f:
        return 'EMAHook' in f.read()


# The runnable configs that define an EMAHook themselves (their children
# inherit it).
EMA_CONFIGS = sorted(
    osp.relpath(p, CONFIGS)
    for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(p, CONFIGS).split(osp.sep)
    and _defines_ema(p))
RELEASE_ADE = 'upernet_replknet-31B_in1k-pre_64xb2-40k_ade20k-512x512.py'


def load(*parts):
    return Config.fromfile(osp.join(CONFIGS, *parts))


@pytest.mark.parametrize('name', PELK_ADE)
def test_pelk_single_scale_slides_512_windows_with_stride_341(name):
    """SLaK's and ConvNeXt's single-scale UperNet configs (``_ss``) test with
    ``mode='slide'``, 512x512 windows, stride 341; the ``_ms`` configs infer
    whole images at each scale, as ConvNeXt's ``_ms`` configs."""
    test_cfg = load('pelk', name).model.test_cfg
    assert test_cfg.mode == 'slide'
    assert tuple(test_cfg.crop_size) == (512, 512)
    assert tuple(test_cfg.stride) == (341, 341)
    ms = load('pelk', name.replace('.py', '_ms.py'))
    assert ms.model.type == 'SegTTAModel'
    assert ms.model.module.test_cfg.to_dict() == dict(mode='whole')


def test_ema_configs_found():
    assert len(EMA_CONFIGS) >= 10, EMA_CONFIGS
    for name in ('replknet/replknet-31B_32xb64-300e_in1k.py',
                 'pelk/pelk-t_32xb128-300e_in1k.py',
                 'parcnetv2/parcnetv2-26m_8xb128-300e_in1k.py'):
        assert name in EMA_CONFIGS


@pytest.mark.parametrize('name', EMA_CONFIGS)
def test_ema_averages_buffers(name):
    """timm's ModelEma (RepLKNet's and SLaK's main.py, ParCNetV2's
    train.py) averages every state-dict entry, BN statistics included;
    mmengine's EMAHook copies the buffers from the live model unless
    ``update_buffers=True``."""
    hooks = [h for h in load(name).custom_hooks if h.type == 'EMAHook']
    assert len(hooks) == 1, name
    assert hooks[0].get('update_buffers') is True, name


def test_release_ade20k_schedule_variant():
    """The release's 64 GPUs x 2 images x 40k with a 400-iteration warm-up
    at lr 2e-4 (for 128 images per iteration); everything else is the 8 x 2
    config's."""
    ref = load('replknet', 'upernet_ade20k.py')
    cfg = load('replknet', RELEASE_ADE)
    assert cfg.train_dataloader.batch_size == 2  # x 64 GPUs
    assert cfg.optim_wrapper.optimizer.lr == 2e-4
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.begin,
            warmup.end) == ('LinearLR', 1e-6, 0, 400)
    assert (poly.type, poly.power, poly.eta_min, poly.begin,
            poly.end) == ('PolyLR', 1.0, 0.0, 400, 40000)
    assert cfg.train_cfg.max_iters == 40000
    assert cfg.auto_scale_lr.to_dict() == dict(enable=False,
                                               base_batch_size=128)
    # The 8 x 2 config ends its 1500-iteration warm-up and trains 160k.
    assert ref.param_scheduler[0].end == 1500
    assert ref.train_cfg.max_iters == 160000
    assert 'auto_scale_lr' not in ref

    changed = ('param_scheduler', 'max_iters', 'auto_scale_lr')
    variant, base = copy.deepcopy(cfg.to_dict()), copy.deepcopy(ref.to_dict())
    for key in changed:
        variant.pop(key, None), base.pop(key, None)
    variant['train_cfg'].pop('max_iters'), base['train_cfg'].pop('max_iters')
    assert variant == base
