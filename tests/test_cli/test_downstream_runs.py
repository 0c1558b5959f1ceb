"""Evaluation runs on the generated sets in the real formats: Cityscapes
(mmseg's CityscapesDataset, single-scale and --tta multi-scale mIoU) and COCO
(mmdet's CocoDataset with pycocotools' CocoMetric, box and mask AP), through
tools/train.py, tools/test.py and tools/dist_train.sh as a user runs them."""
import glob
import json
import os
import os.path as osp
import re

import pytest

CITYSCAPES_CONFIG = 'configs/demo/upernet_replknet-tiny_shapes-cityscapes.py'
COCO_CONFIG = 'configs/demo/cascade-mask-rcnn_replknet-tiny_shapes-coco.py'
# One thread a process: on a shared 2-core machine, 2-thread OpenMP runs
# next to another busy process slow down by 10x and more.
ENV = dict(OMP_NUM_THREADS='1')


@pytest.fixture(scope='module')
def cityscapes_root(tmp_path_factory):
    from lkmm.datasets import make_shapes_cityscapes
    root = str(tmp_path_factory.mktemp('shapes_cityscapes'))
    return make_shapes_cityscapes(root, num_train=16, num_val=4)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    """The demo's default set (64 training, 16 validation images)."""
    from lkmm.datasets import make_shapes_coco
    root = str(tmp_path_factory.mktemp('shapes_coco'))
    return make_shapes_coco(root)


def _cityscapes_options(root):
    return [f'{split}_dataloader.dataset.data_root={root}'
            for split in ('train', 'val', 'test')]


def _coco_options(root):
    ann = osp.join(root, 'annotations', 'instances_val2017.json')
    return [
        *[f'{split}_dataloader.dataset.data_root={root}/'
          for split in ('train', 'val', 'test')],
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}'
    ]


def _scalars(work_dir, key):
    rows = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return [row for row in rows if key in row]


def _last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def _metric(log, name):
    """Values of ``name: <float>`` printed in a log."""
    return [float(v) for v in re.findall(
        re.escape(name) + r': (-?[0-9.]+)', log)]


def test_demo_configs_shrink_the_published_ones():
    from mmengine.config import Config

    from lkmm.datasets import SHAPES_COCO_METAINFO
    seg = Config.fromfile(CITYSCAPES_CONFIG)
    assert seg.train_dataloader.dataset.type == 'CityscapesDataset'
    assert seg.model.backbone.norm_cfg.type == 'BN'
    assert seg.model.decode_head.num_classes == 19
    assert seg.model.decode_head.align_corners
    assert seg.train_cfg.max_iters <= 500
    assert len(seg.tta_pipeline[1].transforms[0]) > 1  # several scales
    det = Config.fromfile(COCO_CONFIG)
    assert det.model.type == 'CascadeRCNN'
    assert det.optim_wrapper.type == 'OptimWrapper'
    assert tuple(det.train_dataloader.dataset.metainfo.classes) == \
        SHAPES_COCO_METAINFO['classes']
    heads = det.model.roi_head.bbox_head
    assert len(heads) == 3
    for head in heads:
        assert head.type == 'Shared4Conv1FCBBoxHead'
        assert head.num_classes == 3 and head.norm_cfg.type == 'BN'
        assert head.loss_bbox.type == 'GIoULoss'
    assert det.model.roi_head.mask_head.num_classes == 3
    assert 'SyncBN' not in det.pretty_text
    assert det.val_evaluator.type == 'CocoMetric'
    assert set(det.val_evaluator.metric) == {'bbox', 'segm'}
    assert det.randomness.deterministic


@pytest.mark.slow
def test_cityscapes_train_then_test_single_and_multi_scale(
        tools, cityscapes_root, tmp_path):
    work_dir = str(tmp_path / 'cityscapes')
    data = _cityscapes_options(cityscapes_root)
    tools.run([tools.python, 'tools/train.py', CITYSCAPES_CONFIG,
               '--work-dir', work_dir, '--cfg-options', *data,
               'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
               'default_hooks.checkpoint.interval=4',
               'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
               'param_scheduler.1.end=4'], env=ENV)
    ckpt = _last_checkpoint(work_dir)
    assert osp.basename(ckpt) == 'iter_4.pth'
    trained = _scalars(work_dir, 'mIoU')[-1]['mIoU']
    single = tools.run([tools.python, 'tools/test.py', CITYSCAPES_CONFIG,
                        ckpt, '--work-dir', work_dir, '--cfg-options',
                        *data], env=ENV)
    log = single.stdout + single.stderr
    assert _metric(log, 'mIoU') == [pytest.approx(trained, abs=0.01)]
    multi = tools.run([tools.python, 'tools/test.py', CITYSCAPES_CONFIG,
                       ckpt, '--tta', '--work-dir', work_dir,
                       '--cfg-options', *data], env=ENV)
    log = multi.stdout + multi.stderr
    assert 'SegTTAModel' in log or 'TestTimeAug' in log
    ms = _metric(log, 'mIoU')
    assert len(ms) == 1 and 0 <= ms[0] <= 100
    # TTA with one scale (1.0) and no flip is the single-scale test: the
    # same mIoU to the printed digit, so TTA merges what it should.
    identity = tmp_path / 'tta_identity.py'
    identity.write_text(
        f"_base_ = {osp.join(tools.repo, CITYSCAPES_CONFIG)!r}\n"
        "tta_pipeline = [\n"
        "    dict(type='LoadImageFromFile', backend_args=None),\n"
        "    dict(type='TestTimeAug', transforms=[\n"
        "        [dict(type='Resize', scale_factor=1.0, keep_ratio=True)],\n"
        "        [dict(type='RandomFlip', prob=0., direction='horizontal')],\n"
        "        [dict(type='LoadAnnotations')],\n"
        "        [dict(type='PackSegInputs')]])]\n")
    one = tools.run([tools.python, 'tools/test.py', str(identity), ckpt,
                     '--tta', '--work-dir', work_dir, '--cfg-options',
                     *data], env=ENV)
    log = one.stdout + one.stderr
    assert 'SegTTAModel' in log or 'TestTimeAug' in log
    for name in ('aAcc', 'mIoU', 'mAcc'):
        assert _metric(log, name) == _metric(
            single.stdout + single.stderr, name), name


@pytest.fixture(scope='module')
def coco_demo(tools, coco_root, tmp_path_factory):
    """The whole detection demo, trained once for the tests below:
    ``(work_dir, training log)``."""
    work_dir = str(tmp_path_factory.mktemp('coco_demo'))
    proc = tools.run([tools.python, 'tools/train.py', COCO_CONFIG,
                      '--work-dir', work_dir, '--cfg-options',
                      *_coco_options(coco_root), *tools.seed_options()],
                     env=ENV)
    return work_dir, proc.stdout + proc.stderr


@pytest.mark.slow
def test_detection_demo_learns(tools, coco_demo):
    """The whole demo: box AP rises from nothing to near its measured
    figure."""
    work_dir, log = coco_demo
    untrained = _metric(log, 'untrained model: coco/bbox_mAP')
    assert untrained, 'BaselineValHook logged no untrained box AP'
    metrics = _scalars(work_dir, 'coco/bbox_mAP')
    assert metrics[0]['step'] == 0
    assert metrics[0]['coco/bbox_mAP'] == pytest.approx(untrained[0],
                                                        abs=1e-3)
    trained = metrics[-1]['coco/bbox_mAP']
    tools.report('detection', untrained[0], trained, 'box AP')
    tools.report('detection', metrics[0]['coco/segm_mAP'],
                 metrics[-1]['coco/segm_mAP'], 'mask AP')
    # Seeded, deterministic for one CPU and kernel set only. Measured with
    # one thread on a 2-core AMD EPYC (tools/misc/check_portability.sh
    # tests), 0.0 untrained -> box / mask AP 0.130 / 0.172 with its AVX-512
    # kernels, 0.142 / 0.193 with AVX2 kernels forced, 0.245 / 0.299 with
    # LKMM_DWCONV_IMPL=torch, 0.178 / 0.193 from seed 2. The bounds sit
    # below the lowest of these.
    assert untrained[0] < 0.02, metrics
    assert trained >= 0.10, metrics
    assert metrics[-1]['coco/segm_mAP'] >= 0.13, metrics
    assert osp.isfile(_last_checkpoint(work_dir))


@pytest.mark.slow
def test_coco_test_tool_reproduces_the_last_validation(tools, coco_root,
                                                       coco_demo):
    """tools/test.py on the demo's final checkpoint reports the box and mask
    AP that the last validation of the same weights logged."""
    work_dir, _ = coco_demo
    ckpt = _last_checkpoint(work_dir)
    last = _scalars(work_dir, 'coco/bbox_mAP')[-1]
    proc = tools.run([tools.python, 'tools/test.py', COCO_CONFIG, ckpt,
                      '--work-dir', work_dir, '--cfg-options',
                      *_coco_options(coco_root)], env=ENV)
    log = proc.stdout + proc.stderr
    for name in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50',
                 'coco/segm_mAP_50'):
        assert _metric(log, name) == [last[name]], name
    assert last['coco/bbox_mAP'] > 0
    assert 'bbox_mAP_copypaste' in log and 'segm_mAP_copypaste' in log


@pytest.mark.slow
def test_detection_dist_train_two_processes_on_cpu(tools, coco_root,
                                                   tmp_path, rank_dump):
    work_dir = str(tmp_path / 'dist')
    # 2 processes x batch 4 on 16 images: two iterations, one epoch.
    proc = tools.run(
        ['bash', 'tools/dist_train.sh', rank_dump.config(COCO_CONFIG, ''),
         '2', '--work-dir', work_dir, '--cfg-options',
         *_coco_options(coco_root),
         'train_dataloader.dataset.indices=16', 'train_cfg.max_epochs=1',
         'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=1',
         'default_hooks.logger.interval=1'],
        env=dict(ENV, PORT=str(29500 + (os.getpid() + 500) % 1000),
                 **rank_dump.env))
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert 'Epoch(train) [1][2/2]' in re.sub(r' +', ' ', log)
    # Both ranks end with the same parameters, rank 0's checkpointed.
    rank_dump.assert_ranks_identical(work_dir,
                                     osp.join(work_dir, 'epoch_1.pth'))
