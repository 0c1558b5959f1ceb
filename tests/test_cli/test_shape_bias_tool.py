"""tools/analysis/shape_bias.py (lkmm.cli.shape_bias) end to end: the demo
RepLKNet classifier with a 1000-class head whose checkpoint answers
'airplane' for every image, on a generated cue-conflict folder, so every
count is known by hand."""
import csv
import json
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from lkmm.cli.shape_bias import (
    classifier_logits_fn,
    parse_shape_bias_args,
    run_shape_bias,
    shape_bias_main,
)
from lkmm.engine.runner import build_model_from_cfg, load_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo', 'replknet-tiny_shapes-cls.py')
IMAGENET_HEAD = ['--cfg-options', 'model.head.num_classes=1000']
# (file, outcome when the model always answers airplane)
STIMULI = [
    ('airplane/airplane1-bear1.png', 'shape'),
    ('airplane/airplane2-airplane3.png', 'excluded'),
    ('bear/bear1-airplane1.png', 'texture'),
    ('bear/bear2-airplane2.png', 'texture'),
    ('cat/cat1-bear2.png', 'other'),
]


def _model(num_classes=1000):
    cfg = load_config(CONFIG, {'model.head.num_classes': num_classes},
                      work_dir='')
    torch.manual_seed(0)
    model = build_model_from_cfg(cfg)
    model.init_weights()
    return cfg, model.eval()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('shape_bias')
    rng = np.random.default_rng(0)
    for name, _ in STIMULI:
        path = root / 'cue-conflict' / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3),
                                     dtype=np.uint8)).save(path)
    _, model = _model()
    with torch.no_grad():  # every answer: airliner (404), i.e. airplane
        model.head.fc.weight.zero_()
        model.head.fc.bias.zero_()
        model.head.fc.bias[404] = 10.
    torch.save({'state_dict': model.state_dict()}, root / 'airplane.pth')
    return root


def test_known_answers_end_to_end(files, tmp_path, capsys):
    out = str(tmp_path / 'sb')
    table = run_shape_bias(parse_shape_bias_args([
        CONFIG, str(files / 'airplane.pth'), '--data',
        str(files / 'cue-conflict'), '--out', out, '--batch-size', '2',
        '--name', 'always-airplane', '--device', 'cpu'] + IMAGENET_HEAD))
    # 1 shape, 2 texture, 1 other, 1 without conflict.
    assert table['all'] == dict(images=5, excluded=1, shape=1, texture=2,
                                other=1, shape_bias=1 / 3)
    assert table['airplane']['shape_bias'] == 1.0
    assert table['bear']['shape_bias'] == 0.0
    printed = capsys.readouterr().out
    assert '0.333' in printed and 'wrote' in printed
    with open(out + '.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['path'], r['outcome']) for r in rows] == STIMULI
    assert {r['decision'] for r in rows} == {'airplane'}
    with open(out + '.json') as f:
        saved = json.load(f)
    assert saved['name'] == 'always-airplane'
    assert saved['table']['cat']['shape_bias'] is None  # undefined
    assert saved['decisions'] == rows
    with open(out + '.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    # An earlier run's JSON is drawn beside the new one.
    shape_bias_main([CONFIG, str(files / 'airplane.pth'), '--data',
                     str(files / 'cue-conflict'), '--out', out + '2',
                     '--compare', out + '.json'] + IMAGENET_HEAD)


def test_images_are_normalized_as_the_model_expects(files):
    """The tool feeds BGR uint8 images to the config's data preprocessor
    (to_rgb, ImageNet mean/std): the logits equal the model's on the RGB
    image normalized by hand."""
    cfg, model = _model()
    path = str(files / 'cue-conflict' / STIMULI[0][0])
    logits = classifier_logits_fn(model, None)([path])
    rgb = np.asarray(Image.open(path).convert('RGB'), dtype=np.float32)
    mean = torch.tensor(cfg.data_preprocessor.mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.data_preprocessor.std).view(1, 3, 1, 1)
    x = (torch.from_numpy(rgb).permute(2, 0, 1)[None] - mean) / std
    with torch.no_grad():
        expected = model(x, mode='tensor')
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
    resized = classifier_logits_fn(model, 40)([path])
    assert resized.shape == (1, 1000)


def test_bad_inputs_exit_with_a_message(files, tmp_path):
    ckpt = str(files / 'airplane.pth')
    data = str(files / 'cue-conflict')
    args = ['--out', str(tmp_path / 'x')]
    (tmp_path / 'bad' / 'cat').mkdir(parents=True)
    (tmp_path / 'bad' / 'cat' / 'cat1.png').write_bytes(b'')
    with pytest.raises(SystemExit,
                       match='(?s)--data .*cat/cat1.png: not named'):
        shape_bias_main([CONFIG, ckpt, '--data', str(tmp_path / 'bad')] +
                        args + IMAGENET_HEAD)
    # The checkpoint of the 1000-class model does not fit an 8-class one.
    with pytest.raises(SystemExit, match='is not a checkpoint of the model'):
        shape_bias_main([CONFIG, ckpt, '--data', data] + args)
    with pytest.raises(SystemExit, match='checkpoint not found'):
        shape_bias_main([CONFIG, str(tmp_path / 'none.pth'), '--data',
                         data] + args + IMAGENET_HEAD)
    _, small = _model(num_classes=8)
    torch.save(small.state_dict(), tmp_path / 'eight.pth')
    with pytest.raises(SystemExit, match=r'not \(N, 1000\) ImageNet-1k'):
        shape_bias_main([CONFIG, str(tmp_path / 'eight.pth'), '--data',
                         data] + args)
    with pytest.raises(SystemExit, match='--batch-size must be >= 1'):
        shape_bias_main([CONFIG, ckpt, '--data', data, '--batch-size', '0']
                        + args)
    (tmp_path / 'x.json').write_text('{"name": "x"}')
    with pytest.raises(SystemExit, match='--compare .* is not an OUT.json'):
        shape_bias_main([CONFIG, ckpt, '--data', data, '--compare',
                         str(tmp_path / 'x.json')] + args + IMAGENET_HEAD)
