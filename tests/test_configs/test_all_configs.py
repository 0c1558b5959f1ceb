"""Every config under configs/ loads and its model builds in its scope."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import lkmm  # noqa: F401
from lkmm.analysis import extrapolated_flops, inference_complexity
from lkmm.engine.runner import build_model_from_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Runnable configs (the _base_ fragments are checked through them).
CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True)
    if '_base_' not in osp.relpath(p, REPO).split(osp.sep))


def test_configs_found():
    assert 'configs/replknet/upernet_ade20k.py' in CONFIGS
    assert 'configs/demo/upernet_replknet-tiny_shapes.py' in CONFIGS


@pytest.mark.parametrize('path', CONFIGS)
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    assert cfg.custom_imports['imports'] == ['lkmm']
    model = build_model_from_cfg(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_upernet_ade20k_follows_official_recipe():
    cfg = Config.fromfile(osp.join(REPO, 'configs/replknet/upernet_ade20k.py'))
    backbone = cfg.model.backbone
    assert backbone.type == 'lkmm.RepLKNet' and backbone.arch == '31B'
    assert backbone.drop_path_rate == 0.5 and backbone.with_cp
    assert backbone.norm_cfg.type == 'SyncBN'
    assert backbone.init_cfg.type == 'Pretrained'
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.lr, optim.weight_decay) == ('AdamW', 2e-4, 0.05)
    assert tuple(optim.betas) == (0.9, 0.999)
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.start_factor) == ('LinearLR',
                                                              1500, 1e-6)
    assert (poly.type, poly.power, poly.eta_min, poly.end) == ('PolyLR', 1.0,
                                                               0.0, 160000)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == 2
    head, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    assert head.type == 'UPerHead' and head.channels == 512
    assert tuple(head.pool_scales) == (1, 2, 3, 6)
    assert head.in_channels == [128, 256, 512, 1024]
    assert (aux.type, aux.in_index, aux.channels) == ('FCNHead', 2, 256)
    assert aux.loss_decode.loss_weight == 0.4
    assert cfg.model.test_cfg.mode == 'whole'
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'
    ms = Config.fromfile(
        osp.join(REPO, 'configs/replknet/upernet_ade20k_ms.py'))
    assert ms.model.type == 'SegTTAModel'
    assert ms.model.module.backbone.type == 'lkmm.RepLKNet'
    assert ms.test_dataloader.dataset.pipeline[1].type == 'TestTimeAug'


def test_pretrained_checkpoint_must_be_set_to_train():
    cfg = Config.fromfile(osp.join(REPO, 'configs/replknet/upernet_ade20k.py'))
    model = build_model_from_cfg(cfg)
    with pytest.raises(ValueError, match='init_cfg.checkpoint'):
        model.init_weights()


@pytest.mark.slow
def test_upernet_ade20k_params_and_flops_match_paper():
    """Paper Table 8: 112M params, 1170 GFLOPs at 2048x512 (deployed
    backbone, no auxiliary head)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/replknet/upernet_ade20k.py'))
    model = build_model_from_cfg(cfg)
    with torch.no_grad():
        info = inference_complexity(model, (3, 512, 2048))
    assert info['params'] == pytest.approx(112e6, rel=0.01)
    assert info['flops'] == pytest.approx(1170e9, rel=0.03)
    assert info['flops'] == pytest.approx(1171.6e9, abs=0.05e9)  # measured
    # The area extrapolation the other README rows are checked with
    # (test_replknet_segmentation.py) gives the full count exactly.
    extrapolated = extrapolated_flops(model, (3, 512, 2048))
    assert list(extrapolated['probes']) == [(32, 128), (64, 256)]
    assert extrapolated['flops'] == info['flops']
