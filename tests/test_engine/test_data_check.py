"""A config run without its dataset stops before the Runner, with one
message naming the dataset, the expected path and the option that moves
it."""
import glob
import os
import os.path as osp

import pytest
from mmengine.config import Config

from lkmm.engine.data_check import (
    DatasetNotFoundError,
    check_data_roots,
    find_missing_data,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# One published config per dataset the configs use.
PER_DATASET = {
    'ImageNet': 'replknet/replknet-31B_32xb64-300e_in1k.py',
    'ImageNet21k': 'replknet/replknet-31B_128xb32-90e_in21k.py',
    'ADE20KDataset': 'replknet/upernet_ade20k.py',
    'CityscapesDataset':
    'replknet/upernet_replknet-31B_in1k-pre_8xb2-80k_cityscapes-769x769.py',
    'CocoDataset': 'pelk/cascade-mask-rcnn_pelk-t_in1k-pre_fpn_giou-4conv1f_'
    'ms-3x_coco.py',
}


def _load(rel):
    return Config.fromfile(osp.join(REPO, 'configs', rel))


@pytest.mark.heavy  # loads every config: about a minute
def test_every_dataset_of_the_configs_is_covered():
    """The table above names every dataset type a published config uses
    (measured: exactly these five)."""
    types = set()
    for path in glob.glob(osp.join(REPO, 'configs', '*', '*.py')):
        if '/demo/' in path or '/_base_/' in path:
            continue
        for m in find_missing_data(Config.fromfile(path)):
            types.add(m['type'])
    assert types == set(PER_DATASET)


@pytest.mark.parametrize('dataset', list(PER_DATASET))
def test_missing_dataset_is_named_with_the_option_that_moves_it(
        dataset, tmp_path, monkeypatch):
    cfg = _load(PER_DATASET[dataset])
    monkeypatch.chdir(tmp_path)  # no data/ here
    root = cfg.train_dataloader.dataset
    while 'dataset' in root:
        root = root.dataset
    root = root.data_root
    with pytest.raises(DatasetNotFoundError) as info:
        check_data_roots(cfg, ['train_dataloader', 'val_dataloader'])
    message = str(info.value)
    assert message.startswith(f'{dataset} not found: {root.rstrip("/")}')
    assert 'train_dataloader.dataset' in message and '.data_root=PATH' in \
        message
    # The val set moves with the same option (ImageNet-21k has none).
    assert ('val_dataloader.dataset' in message) == bool(
        cfg.get('val_dataloader'))
    # Once the files are there, the check passes.
    _create(cfg, ['train_dataloader', 'val_dataloader'])
    check_data_roots(cfg, ['train_dataloader', 'val_dataloader'])


def _create(cfg, loaders):
    """Create every path the check expects (files for annotation files)."""
    for _ in range(10):
        missing = find_missing_data(cfg, loaders)
        if not missing:
            return
        for m in missing:
            path = m['path']
            if osp.splitext(path)[1] in ('.json', '.txt'):
                os.makedirs(osp.dirname(path) or '.', exist_ok=True)
                open(path, 'w').close()
            else:
                os.makedirs(path, exist_ok=True)


def test_a_moved_root_is_checked_where_it_points(tmp_path, monkeypatch):
    cfg = _load(PER_DATASET['ADE20KDataset'])
    monkeypatch.chdir(tmp_path)
    moved = str(tmp_path / 'elsewhere' / 'ade')
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = moved
    with pytest.raises(DatasetNotFoundError, match='elsewhere/ade'):
        check_data_roots(cfg, ['train_dataloader', 'val_dataloader'])
    _create(cfg, ['train_dataloader', 'val_dataloader'])
    assert os.path.isdir(osp.join(moved, 'images', 'training'))
    check_data_roots(cfg, ['train_dataloader', 'val_dataloader'])


def test_generated_demo_data_names_its_generator(tmp_path, monkeypatch):
    cfg = _load('demo/upernet_replknet-tiny_shapes.py')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError,
                       match='make_demo_data.py --task segmentation '
                       '--root data/lkmm_shapes'):
        check_data_roots(cfg)


def test_train_tool_stops_with_one_message(tmp_path):
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'),
         osp.join(REPO, 'configs', PER_DATASET['ADE20KDataset']),
         '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         'model.backbone.init_cfg.checkpoint=none.pth'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode != 0
    err = proc.stderr
    assert 'train: ADE20KDataset not found: data/ade/ADEChallengeData2016' \
        in err and 'Traceback' not in err
    assert not (tmp_path / 'work').exists()  # stopped before the Runner
