"""tools/analysis/visualize_erf.py and analyze_erf.py (lkmm/cli) on
generated images: an lkmm config and a stock mmpretrain one."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from lkmm.cli.analyze_erf import (
    analyze_erf_main,
    parse_analyze_erf_args,
    run_analyze_erf,
)
from lkmm.cli.visualize_erf import (
    parse_visualize_erf_args,
    run_visualize_erf,
    visualize_erf_main,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'configs', 'demo', 'upernet_replknet-tiny_shapes.py')


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('erf_images')
    rng = np.random.default_rng(0)
    for i in range(3):
        array = rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)
        Image.fromarray(array).save(folder / f'img{i}.png')
    (folder / 'notes.txt').write_text('not an image')
    return str(folder)


@pytest.mark.parametrize('config', [
    DEMO, 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
], ids=['lkmm-demo', 'stock-resnet18'])
def test_visualize_then_analyze(config, images, tmp_path, capsys):
    out = str(tmp_path / 'erf')
    matrix = run_visualize_erf(parse_visualize_erf_args(
        [config, '--images', images, '--out', out, '--input-size', '64',
         '--num-images', '2']))
    assert matrix.shape == (64, 64) and matrix.max() > 0
    saved = np.load(out + '.npy')
    np.testing.assert_array_equal(saved, matrix)
    with open(out + '.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    printed = capsys.readouterr().out
    assert 't=0.99 side' in printed and 'wrote' in printed
    rows = run_analyze_erf(parse_analyze_erf_args(
        [out + '.npy', out + '.npy', '--names', 'a', 'b', '--out',
         str(tmp_path / 'cmp.png')]))
    assert list(rows) == ['a', 'b'] and rows['a'] == rows['b']
    assert [r['threshold'] for r in rows['a']] == [0.2, 0.3, 0.5, 0.99]
    assert osp.getsize(tmp_path / 'cmp.png') > 0


def test_bad_inputs_exit_with_a_message(tmp_path):
    with pytest.raises(SystemExit, match='no images'):
        visualize_erf_main([DEMO, '--images', str(tmp_path), '--out',
                            str(tmp_path / 'x')])
    np.save(tmp_path / 'cube.npy', np.zeros((2, 2, 2)))
    with pytest.raises(SystemExit, match='not a contribution matrix'):
        analyze_erf_main([str(tmp_path / 'cube.npy')])
    with pytest.raises(SystemExit, match='1 --names for 2 matrices'):
        analyze_erf_main([str(tmp_path / 'cube.npy')] * 2 + ['--names',
                                                             'a'])
