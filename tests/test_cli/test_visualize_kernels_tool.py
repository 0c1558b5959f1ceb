"""tools/analysis/visualize_kernels.py (lkmm.cli.visualize_kernels) end to
end: the demo RepLKNet classifier with and without its small-kernel
re-parameterization, checkpoints with random BN statistics, the deployed
aggregate checked against a hand computation from the saved tensors."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from lkmm.analysis.kernels import find_kernel_layers
from lkmm.cli.visualize_kernels import (
    _input_sizes,
    parse_visualize_kernels_args,
    run_visualize_kernels,
    visualize_kernels_main,
)
from lkmm.engine.runner import build_model_from_cfg, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'replknet-tiny_shapes-cls.py')
LAYER = 'backbone.stages.3.0.large_kernel'  # the last stage's (7x7)
# The probe image that finds the last stage: small, for speed.
PROBE = ['--input-size', '64']


@pytest.fixture(scope='module')
def models(tmp_path_factory, randomize_bn):
    root = tmp_path_factory.mktemp('kernels')
    demo = DEMO
    plain = root / 'no_reparam.py'
    plain.write_text(f'_base_ = {demo!r}\n'
                     'model = dict(backbone=dict(arch=dict('
                     'small_kernel=None)))\n')
    pairs = []
    for seed, config in enumerate((demo, str(plain))):
        torch.manual_seed(seed)
        model = randomize_bn(build_model_from_cfg(
            load_config(config, work_dir='')), seed)
        checkpoint = root / f'{seed}.pth'
        torch.save({'state_dict': model.state_dict()}, checkpoint)
        pairs += [config, str(checkpoint)]
    return pairs


def by_hand(checkpoint, prefix=LAYER):
    """The aggregate from the checkpoint's tensors: each branch's weight
    times gamma / sqrt(var + eps), the small one added at the centre."""
    state = torch.load(checkpoint)['state_dict']
    kernel = None
    for branch in ('large_conv', 'small_conv'):
        key = f'{prefix}.{branch}'
        if f'{key}.conv.weight' not in state:
            continue
        scale = state[f'{key}.bn.weight'] / (state[f'{key}.bn.running_var']
                                             + 1e-5).sqrt()
        weight = state[f'{key}.conv.weight'] * scale.view(-1, 1, 1, 1)
        if kernel is None:
            kernel = weight
        else:
            pad = (kernel.shape[-1] - weight.shape[-1]) // 2
            kernel[:, :, pad:-pad, pad:-pad] += weight
    return kernel.abs().sum(dim=(0, 1)).double().numpy()


def test_side_by_side_with_and_without_reparam(models, tmp_path, capsys):
    out = str(tmp_path / 'k')
    results = run_visualize_kernels(parse_visualize_kernels_args(
        models + PROBE + ['--out', out, '--names', 'rep', 'plain']))
    assert [(r['name'], r['layer'], r['kind']) for r in results] == [
        ('rep', LAYER, 'reparam'), ('plain', LAYER, 'reparam')]
    for i, result in enumerate(results):
        expected = by_hand(models[2 * i + 1])
        assert expected.shape == (7, 7)
        np.testing.assert_allclose(result['matrix'], expected, rtol=1e-5)
        np.testing.assert_array_equal(np.load(f'{out}.{i}.npy'),
                                      result['matrix'])
    with Image.open(out + '.png') as img:
        assert img.size == (800, 400)  # two 400-pixel panels
    printed = capsys.readouterr().out
    assert f'[0] rep: {LAYER} (reparam, 7x7)' in printed
    assert 'centre_3x3' in printed and 'wrote' in printed


def test_list_layers_and_layer_choice(models, tmp_path, capsys):
    assert run_visualize_kernels(parse_visualize_kernels_args(
        models[:2] + PROBE + ['--list-layers'])) == []
    printed = capsys.readouterr().out
    assert f'* {LAYER}' in printed
    assert 'backbone.stages.2.2.large_kernel' in printed
    # A block name picks the one large kernel inside it.
    results = run_visualize_kernels(parse_visualize_kernels_args(
        models + ['--layer', 'backbone.stages.2.2', '--out',
                  str(tmp_path / 'k')]))
    assert [r['layer'] for r in results] == \
        ['backbone.stages.2.2.large_kernel'] * 2
    assert results[0]['matrix'].shape == (13, 13)
    np.testing.assert_allclose(
        results[1]['matrix'],
        by_hand(models[3], 'backbone.stages.2.2.large_kernel'), rtol=1e-5)


def test_bad_inputs_exit_with_a_message(models, tmp_path):
    out = ['--out', str(tmp_path / 'k')]
    with pytest.raises(SystemExit, match="--layer no large-kernel layer "
                       "'backbone.nope'"):
        visualize_kernels_main(models[:2] + ['--layer', 'backbone.nope']
                               + out)
    with pytest.raises(SystemExit, match='CONFIG CHECKPOINT pairs, got 3'):
        visualize_kernels_main(models[:3] + out)
    with pytest.raises(SystemExit, match='--out is required'):
        visualize_kernels_main(models[:2])
    with pytest.raises(SystemExit, match='3 --layer for 2 models'):
        visualize_kernels_main(models + ['--layer', 'a', 'b', 'c'] + out)
    with pytest.raises(SystemExit, match='1 --names for 2 models'):
        visualize_kernels_main(models + ['--names', 'a'] + out)
    with pytest.raises(SystemExit, match='no depth-wise layer with a kernel '
                       'of 99'):
        visualize_kernels_main(models[:2] + ['--min-kernel', '99'] + out)
    # A model the probe image cannot run through: pass --layer.
    broken = nn.Sequential(nn.Conv2d(3, 3, 7, groups=3), nn.Flatten(),
                           nn.Linear(2, 2))
    with pytest.raises(SystemExit, match='running Sequential on a 9x9 '
                       'image failed .* pass --layer'):
        _input_sizes(broken, find_kernel_layers(broken), 9)
    # The checkpoint with small kernels does not fit the model without.
    with pytest.raises(SystemExit, match='is not a checkpoint of the model'):
        visualize_kernels_main([models[2], models[1]] + out)
