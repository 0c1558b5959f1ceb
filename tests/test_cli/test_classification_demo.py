"""The ImageNet-format demo: tools/train.py and tools/test.py report top-1
and top-5 on the generated 8-class shapes set."""
import glob
import json
import os.path as osp

import pytest

CLS_CONFIG = 'configs/demo/replknet-tiny_shapes-cls.py'


@pytest.fixture(scope='module')
def cls_root(tmp_path_factory):
    from lkmm.datasets import make_shapes_classification
    root = str(tmp_path_factory.mktemp('shapes_cls'))
    return make_shapes_classification(root, num_train_per_class=48,
                                      num_val_per_class=16)


def _accuracies(work_dir):
    rows = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return [row for row in rows if 'accuracy/top1' in row]


@pytest.mark.slow
def test_classification_demo_learns_and_reports_top1_top5(
        tools, cls_root, tmp_path):
    work_dir = str(tmp_path / 'cls')
    data = [f'{split}_dataloader.dataset.data_root={cls_root}'
            for split in ('train', 'val', 'test')] + tools.seed_options()
    # The whole demo (60 short epochs).
    tools.run([tools.python, 'tools/train.py', CLS_CONFIG, '--work-dir',
               work_dir, '--cfg-options', *data])
    metrics = _accuracies(work_dir)
    untrained, trained = metrics[0], metrics[-1]
    assert untrained['step'] == 0
    tools.report('classification', untrained['accuracy/top1'],
                 trained['accuracy/top1'], 'top-1')
    # Seeded runs are deterministic on one CPU with one set of kernels
    # only. Measured on a 2-core AMD EPYC (tools/misc/check_portability.sh
    # tests), 128 validation images, 12.5 untrained (chance: 8 classes) ->
    # top-1 99.22 with its AVX-512 kernels, 99.22 with AVX2 kernels
    # forced (the same run through tools/train.py), 98.44 with
    # LKMM_DWCONV_IMPL=torch, 99.22 from seed 1. With 30
    # epochs the same set ended at 93.75 (AVX-512) and 86.72 (AVX2): 95
    # sits below the lowest 60-epoch run and above every 30-epoch one.
    assert untrained['accuracy/top1'] <= 25, metrics
    assert trained['accuracy/top1'] >= 95, metrics
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    proc = tools.run([tools.python, 'tools/test.py', CLS_CONFIG, ckpt,
                      '--work-dir', work_dir, '--cfg-options', *data])
    out = proc.stdout + proc.stderr
    assert f'accuracy/top1: {trained["accuracy/top1"]:.4f}' in out
    assert 'accuracy/top5: ' in out


def test_demo_data_tool_writes_imagenet_layout(tools, tmp_path):
    root = str(tmp_path / 'cls')
    tools.run([tools.python, 'tools/misc/make_demo_data.py', '--task',
               'classification', '--root', root, '--num-train', '2',
               '--num-val', '1', '--size', '32'])
    from mmpretrain.datasets import ImageNet

    from lkmm.datasets import SHAPES_CLS_CLASSES
    train = ImageNet(data_root=root, split='train',
                     metainfo=dict(classes=SHAPES_CLS_CLASSES))
    val = ImageNet(data_root=root, split='val',
                   metainfo=dict(classes=SHAPES_CLS_CLASSES))
    assert (len(train), len(val)) == (16, 8)
    assert sorted(train.get_gt_labels().tolist()) == sorted(
        list(range(8)) * 2)
