"""After ``import lkmm``, timm builds the lkmm networks."""
import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

import lkmm  # noqa: F401
from lkmm.engine.runner import build_model_from_cfg
from lkmm.models import TIMM_MODEL_NAMES, RepLKNet


def test_every_named_arch_is_registered():
    assert set(timm.list_models('replknet*')) == set(TIMM_MODEL_NAMES)
    assert set(TIMM_MODEL_NAMES.values()) == set(RepLKNet.arch_zoo)


def _lkmm_classifier(arch, num_classes):
    cfg = Config(dict(
        default_scope='mmpretrain',
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='lkmm.RepLKNet', arch=arch, final_norm=True),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=num_classes,
                      in_channels=1024))))
    return build_model_from_cfg(cfg)


def test_same_network_as_lkmm_classifier(tmp_path):
    """Same parameter names and shapes; a checkpoint of the lkmm (mmpretrain)
    classifier loads through timm's checkpoint_path and gives the same
    logits."""
    torch.manual_seed(0)
    reference = _lkmm_classifier('3', 10).eval()
    model = timm.create_model('replknet_3', num_classes=10).eval()
    ours = {k: v.shape for k, v in model.state_dict().items()}
    theirs = {k: v.shape for k, v in reference.state_dict().items()
              if not k.startswith('data_preprocessor')}
    assert ours == theirs
    path = str(tmp_path / 'cls.pth')
    save_checkpoint({'state_dict': reference.state_dict(), 'meta': {}}, path)
    loaded = timm.create_model('replknet_3', num_classes=10,
                               checkpoint_path=path).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = reference(x, mode='tensor')
        assert torch.allclose(loaded(x), expected, atol=1e-5)
        assert not torch.allclose(model(x), expected, atol=1e-3)


def test_timm_interface():
    model = timm.create_model('replknet_7', num_classes=5,
                              drop_path_rate=0.1, drop_rate=0.2).eval()
    assert model.pretrained_cfg['classifier'] == 'head.fc'
    assert model.get_classifier().out_features == 5
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (1, 1024, 2, 2)
        assert model.forward_head(feats, pre_logits=True).shape == (1, 1024)
        model.reset_classifier(0)
        assert model(x).shape == (1, 1024)
        model.reset_classifier(3, global_pool='')
        assert model.forward_head(feats, pre_logits=True).shape == feats.shape
    model.set_grad_checkpointing()
    assert model.backbone.with_cp
    with pytest.raises(ValueError, match='global_pool'):
        timm.create_model('replknet_7', global_pool='max')
    with pytest.raises(RuntimeError, match='pretrained'):
        timm.create_model('replknet_7', pretrained=True)


def test_xl_pretrained_cfg_uses_inception_mean_std():
    cfg = timm.get_pretrained_cfg('replknet_xl')
    assert cfg.mean == (0.5, 0.5, 0.5) and cfg.input_size == (3, 320, 320)


def test_deploy_switch_keeps_logits(randomize_bn):
    # Random BN statistics and affines (identity BNs would deploy trivially),
    # in float64 so the check is about deployment, not rounding.
    model = randomize_bn(timm.create_model('replknet_7', num_classes=4))
    model = model.double().eval()
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        before = model(x)
        model.switch_to_deploy()
        after = model(x)
    assert (after - before).abs().max() <= 1e-9 * before.abs().max()
