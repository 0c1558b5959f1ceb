"""The generated Cityscapes and COCO sets, read by the real mmseg / mmdet
datasets, transforms and metrics."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from lkmm.datasets import (
    SHAPES_CITYSCAPES_TRAIN_IDS,
    SHAPES_COCO_METAINFO,
    make_shapes_cityscapes,
    make_shapes_coco,
    synthetic_cityscapes,
    synthetic_coco,
)
from lkmm.datasets.synthetic_coco import mask_to_polygon

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CITY_SIZE = (64, 128)
COCO_SIZE = 96
# Official Cityscapes label id -> train id of the classes that are drawn
# (1: ego vehicle, ignored).
CITYSCAPES_ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 21: 8, 23: 10, 24: 11,
                             26: 13, 1: 255}


@pytest.fixture(scope='module')
def city_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cityscapes'))
    return make_shapes_cityscapes(root, num_train=4, num_val=3,
                                  size=CITY_SIZE, seed=0)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco'))
    return make_shapes_coco(root, num_train=3, num_val=4, size=COCO_SIZE,
                            seed=0)


def _city_dataset(root, split, pipeline=()):
    from mmseg.datasets import CityscapesDataset
    return CityscapesDataset(
        data_root=root,
        data_prefix=dict(img_path=f'leftImg8bit/{split}',
                         seg_map_path=f'gtFine/{split}'),
        pipeline=list(pipeline))


def _coco_dataset(root, split, pipeline=()):
    from mmdet.datasets import CocoDataset
    return CocoDataset(
        data_root=root,
        ann_file=f'annotations/instances_{split}2017.json',
        data_prefix=dict(img=f'{split}2017/'),
        metainfo=SHAPES_COCO_METAINFO,
        pipeline=list(pipeline))


# ----------------------------------------------------------- Cityscapes


def test_cityscapes_layout(city_root):
    for split, count in (('train', 4), ('val', 3)):
        images = sorted(
            osp.join(dirpath, name)
            for dirpath, _, names in os.walk(
                osp.join(city_root, 'leftImg8bit', split)) for name in names)
        assert len(images) == count
        for path in images:
            assert path.endswith('_leftImg8bit.png')
            image = Image.open(path)
            assert image.mode == 'RGB'
            assert image.size == (CITY_SIZE[1], CITY_SIZE[0])
            gt = path.replace('leftImg8bit', 'gtFine', 1)[:-len(
                'leftImg8bit.png')] + 'gtFine_'
            train = np.asarray(Image.open(gt + 'labelTrainIds.png'))
            label = np.asarray(Image.open(gt + 'labelIds.png'))
            instances = np.asarray(Image.open(gt + 'instanceIds.png'))
            assert train.shape == label.shape == instances.shape == CITY_SIZE
            # labelIds agree with labelTrainIds under the official mapping.
            assert set(np.unique(label).tolist()) <= set(
                CITYSCAPES_ID_TO_TRAIN_ID)
            lut = np.zeros(256, np.uint8)
            for label_id, train_id in CITYSCAPES_ID_TO_TRAIN_ID.items():
                lut[label_id] = train_id
            np.testing.assert_array_equal(lut[label], train)
            # instanceIds: label id, or label id * 1000 + n for things.
            instances = instances.astype(np.int64)
            np.testing.assert_array_equal(
                np.where(instances >= 1000, instances // 1000, instances),
                label)
            assert set(np.unique(instances[instances >= 1000] // 1000)) <= {
                24, 26}


def test_cityscapes_dataset_and_pipeline(city_root):
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets.transforms import LoadAnnotations

    drawn = set(SHAPES_CITYSCAPES_TRAIN_IDS.values())
    assert drawn <= set(range(19))
    seen = set()
    for split, count in (('train', 4), ('val', 3)):
        dataset = _city_dataset(
            city_root, split, [LoadImageFromFile(), LoadAnnotations()])
        assert len(dataset) == count
        assert len(dataset.metainfo['classes']) == 19
        for i in range(count):
            info = dataset.get_data_info(i)
            assert osp.isfile(info['img_path'])
            assert osp.isfile(info['seg_map_path'])
            assert info['seg_map_path'].endswith('_gtFine_labelTrainIds.png')
            results = dataset[i]
            seg = results['gt_seg_map']
            assert seg.shape == CITY_SIZE == results['img'].shape[:2]
            values = set(np.unique(seg).tolist())
            assert values <= drawn | {255}
            seen |= values
    # Sky, road, sidewalk, buildings and cars are in every scene.
    assert {0, 1, 2, 10, 13} <= seen


def test_cityscapes_iou_metric_on_ground_truth(city_root):
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets.transforms import LoadAnnotations
    from mmseg.evaluation import IoUMetric

    dataset = _city_dataset(city_root, 'val',
                            [LoadImageFromFile(), LoadAnnotations()])
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        seg = torch.from_numpy(dataset[i]['gt_seg_map'].astype(np.int64))
        metric.process({}, [dict(pred_sem_seg=dict(data=seg[None]),
                                 gt_sem_seg=dict(data=seg[None]))])
    results = metric.evaluate(len(dataset))
    assert results['mIoU'] == pytest.approx(100.0)
    assert results['aAcc'] == pytest.approx(100.0)


# ----------------------------------------------------------------- COCO


def test_coco_json(coco_root):
    ids = set()
    for split, count in (('train', 3), ('val', 4)):
        with open(osp.join(coco_root, 'annotations',
                           f'instances_{split}2017.json')) as f:
            coco = json.load(f)
        assert [c['name'] for c in coco['categories']] == list(
            SHAPES_COCO_METAINFO['classes'])
        assert len(coco['images']) == count
        for image in coco['images']:
            assert image['id'] not in ids  # unique over the splits
            ids.add(image['id'])
            path = osp.join(coco_root, f'{split}2017', image['file_name'])
            assert Image.open(path).size == (image['width'], image['height'])
        per_image = {}
        for ann in coco['annotations']:
            assert ann['iscrowd'] == 0
            assert ann['category_id'] in {1, 2, 3}
            x, y, w, h = ann['bbox']
            assert w >= 1 and h >= 1 and ann['area'] >= 30
            assert ann['area'] <= w * h
            polygon = np.asarray(ann['segmentation'][0]).reshape(-1, 2)
            # the polygon spans exactly the box
            np.testing.assert_array_equal(polygon.min(0), [x, y])
            np.testing.assert_array_equal(polygon.max(0), [x + w, y + h])
            per_image[ann['image_id']] = per_image.get(ann['image_id'],
                                                       0) + 1
        assert set(per_image) == {image['id'] for image in coco['images']}
        assert all(2 <= n <= 5 for n in per_image.values())


def test_coco_dataset_masks_match_areas(coco_root):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets.transforms import LoadAnnotations

    total_overlap = 0
    for split, count in (('train', 3), ('val', 4)):
        dataset = _coco_dataset(coco_root, split, [
            LoadImageFromFile(),
            LoadAnnotations(with_bbox=True, with_mask=True)
        ])
        assert dataset.metainfo['classes'] == SHAPES_COCO_METAINFO['classes']
        assert len(dataset) == count
        with open(osp.join(coco_root, 'annotations',
                           f'instances_{split}2017.json')) as f:
            anns_of = {}
            for ann in json.load(f)['annotations']:
                anns_of.setdefault(ann['image_id'], []).append(ann)
        for i in range(count):
            results = dataset[i]
            anns = anns_of[results['img_id']]
            masks = results['gt_masks']
            assert results['img'].shape[:2] == (COCO_SIZE, COCO_SIZE)
            assert len(masks) == len(anns) == len(results['gt_bboxes'])
            assert not results['gt_ignore_flags'].any()
            areas = np.asarray([ann['area'] for ann in anns])
            # Traced along pixel corners: pycocotools gives the pixels back.
            np.testing.assert_allclose(masks.areas, areas, rtol=0.03)
            np.testing.assert_array_equal(masks.areas, areas)
            # Visible parts: masks of one image never share a pixel ...
            assert masks.masks.astype(int).sum(0).max() <= 1
            # ... and each box is the mask's tight box.
            for mask, box in zip(masks.masks, results['gt_bboxes'].tensor):
                rows, cols = np.nonzero(mask)
                np.testing.assert_array_equal(
                    box.numpy(), [cols.min(), rows.min(),
                                  cols.max() + 1, rows.max() + 1])
            boxes = results['gt_bboxes'].tensor
            lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
            rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
            inter = (rb - lt).clamp(min=0).prod(-1)
            total_overlap += int((inter.triu(1) > 0).sum())
    assert total_overlap > 0  # some objects overlap


def test_coco_metric_on_ground_truth(coco_root):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets.transforms import LoadAnnotations
    from mmdet.evaluation import CocoMetric

    dataset = _coco_dataset(coco_root, 'val', [
        LoadImageFromFile(),
        LoadAnnotations(with_bbox=True, with_mask=True)
    ])
    metric = CocoMetric(
        ann_file=osp.join(coco_root, 'annotations',
                          'instances_val2017.json'),
        metric=['bbox', 'segm'])
    metric.dataset_meta = dataset.metainfo
    for i in range(len(dataset)):
        results = dataset[i]
        boxes = results['gt_bboxes'].tensor
        metric.process({}, [
            dict(img_id=results['img_id'],
                 ori_shape=results['ori_shape'],
                 pred_instances=dict(
                     bboxes=boxes,
                     scores=torch.ones(len(boxes)),
                     labels=torch.from_numpy(results['gt_bboxes_labels']),
                     masks=torch.from_numpy(
                         results['gt_masks'].masks.astype(bool))))
        ])
    scores = metric.evaluate(len(dataset))
    assert scores['coco/bbox_mAP'] > 0.95
    assert scores['coco/segm_mAP'] > 0.95
    assert scores['coco/bbox_mAP'] == pytest.approx(1.0)
    assert scores['coco/segm_mAP'] == pytest.approx(1.0)


def test_mask_to_polygon_round_trip():
    from pycocotools import mask as mask_utils

    def decode(polygon, h, w):
        rle = mask_utils.merge(mask_utils.frPyObjects([polygon], h, w))
        return mask_utils.decode(rle).astype(bool)

    square = np.zeros((8, 9), bool)
    square[2:5, 3:7] = True
    assert mask_to_polygon(square) == [3., 2., 7., 2., 7., 5., 3., 5.]
    rng = np.random.default_rng(0)
    for _ in range(20):
        h, w = rng.integers(32, 80, 2)
        mask = synthetic_coco._shape_mask(
            SHAPES_COCO_METAINFO['classes'][rng.integers(3)], (h, w), rng)
        polygon = mask_to_polygon(mask)
        np.testing.assert_array_equal(decode(polygon, h, w), mask)
    # Regions one polygon cannot describe.
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[3, 3] = False
    two = np.zeros((5, 7), bool)
    two[1:3, 1:3] = two[1:3, 4:6] = True
    pinch = np.zeros((4, 4), bool)
    pinch[1, 1] = pinch[2, 2] = True
    for mask in (ring, two, pinch, np.zeros((3, 3), bool)):
        assert mask_to_polygon(mask) is None


# ------------------------------------------------- arguments and the stamp


@pytest.mark.parametrize('make', [make_shapes_cityscapes, make_shapes_coco])
@pytest.mark.parametrize('kwargs, field', [
    (dict(num_train=0), 'num_train'),
    (dict(num_train=2.5), 'num_train'),
    (dict(num_val=-1), 'num_val'),
    (dict(num_val=True), 'num_val'),
    (dict(size=(64, )), 'size'),
    (dict(size=(16, 64)), 'size'),
    (dict(size='64'), 'size'),
    (dict(seed=-1), 'seed'),
    (dict(seed=1.0), 'seed'),
])
def test_bad_arguments(make, kwargs, field, tmp_path):
    args = dict(num_train=1, num_val=1, size=64, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        make(str(tmp_path / 'data'), **args)
    assert not (tmp_path / 'data').exists()


def test_same_settings_are_a_no_op(city_root, coco_root, monkeypatch):

    def fail(*args, **kwargs):
        raise AssertionError('the dataset was drawn again')

    first = osp.join(city_root, 'leftImg8bit', 'val')
    mtimes = {
        osp.join(d, n): os.stat(osp.join(d, n)).st_mtime_ns
        for d, _, names in os.walk(first) for n in names
    }
    monkeypatch.setattr(synthetic_cityscapes, '_draw_street', fail)
    monkeypatch.setattr(synthetic_coco, '_draw_coco_sample', fail)
    assert make_shapes_cityscapes(city_root, num_train=4, num_val=3,
                                  size=CITY_SIZE, seed=0) == city_root
    assert make_shapes_coco(coco_root, num_train=3, num_val=4,
                            size=(COCO_SIZE, COCO_SIZE), seed=0) == coco_root
    assert mtimes == {
        path: os.stat(path).st_mtime_ns for path in mtimes
    }
    # Other settings do draw again.
    with pytest.raises(AssertionError, match='drawn again'):
        make_shapes_coco(coco_root, num_train=3, num_val=4,
                         size=COCO_SIZE, seed=1)


def test_new_settings_replace_the_set_and_seed_repeats(tmp_path):
    root = str(tmp_path / 'city')
    make_shapes_cityscapes(root, num_train=4, num_val=1, size=32, seed=3)
    make_shapes_cityscapes(root, num_train=2, num_val=1, size=32, seed=3)
    assert len(_city_dataset(root, 'train')) == 2  # no leftovers
    other = str(tmp_path / 'city2')
    make_shapes_cityscapes(other, num_train=2, num_val=1, size=32, seed=3)
    for top, suffix in (('leftImg8bit', 'leftImg8bit'),
                        ('gtFine', 'gtFine_labelTrainIds')):
        name = osp.join(top, 'train', 'lkmm_synthtown',
                        f'lkmm_synthtown_000000_000019_{suffix}.png')
        np.testing.assert_array_equal(
            np.asarray(Image.open(osp.join(root, name))),
            np.asarray(Image.open(osp.join(other, name))))
    coco_a = make_shapes_coco(str(tmp_path / 'a'), 2, 1, 48, seed=5)
    coco_b = make_shapes_coco(str(tmp_path / 'b'), 2, 1, 48, seed=5)
    for split in ('train', 'val'):
        name = f'annotations/instances_{split}2017.json'
        with open(osp.join(coco_a, name)) as fa, open(osp.join(
                coco_b, name)) as fb:
            assert json.load(fa) == json.load(fb)


@pytest.mark.parametrize('task, files', [
    ('cityscapes', 'leftImg8bit/val/lkmm_testville/'
     'lkmm_testville_000000_000019_leftImg8bit.png'),
    ('coco', 'annotations/instances_val2017.json'),
])
def test_make_demo_data_cli(task, files, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools', 'misc'))
    import make_demo_data
    root = str(tmp_path / task)
    monkeypatch.setattr(sys, 'argv', [
        'make_demo_data.py', '--task', task, '--root', root, '--num-train',
        '2', '--num-val', '1', '--size', '40', '72'
    ])
    make_demo_data.main()
    assert osp.isfile(osp.join(root, files))
    assert f'ready in {root}' in capsys.readouterr().out
    assert make_demo_data.DEFAULT_ROOTS[task] == f'data/lkmm_shapes_{task}'
