"""Argument checks and the completeness stamp, shared by all four generated
sets (``lkmm.datasets.synthetic._write_once``)."""
import os.path as osp

import pytest

from lkmm.datasets import (
    make_shapes_cityscapes,
    make_shapes_classification,
    make_shapes_coco,
    make_shapes_segmentation,
    synthetic,
    synthetic_cityscapes,
    synthetic_coco,
)

# Per generator: the function, the names of its two counts, its stamp, the
# module and name of the function that draws one image, and the stamp text
# of ``SMALL`` (the on-disk format, unchanged since the first release).
GENERATORS = {
    'segmentation': (make_shapes_segmentation, ('num_train', 'num_val'),
                     'lkmm_shapes.txt', synthetic, '_draw_sample',
                     'num_train=1 num_val=1 size=32 seed=3\n'),
    'classification': (make_shapes_classification,
                       ('num_train_per_class', 'num_val_per_class'),
                       'lkmm_shapes_cls.txt', synthetic, '_draw_object',
                       'num_train_per_class=1 num_val_per_class=1 size=32 '
                       'seed=3\n'),
    'cityscapes': (make_shapes_cityscapes, ('num_train', 'num_val'),
                   'lkmm_shapes_cityscapes.txt', synthetic_cityscapes,
                   '_draw_street',
                   'num_train=1 num_val=1 size=32x32 seed=3\n'),
    'coco': (make_shapes_coco, ('num_train', 'num_val'),
             'lkmm_shapes_coco.txt', synthetic_coco, '_draw_coco_sample',
             'num_train=1 num_val=1 size=32x32 seed=3\n'),
}
SMALL = dict(size=32, seed=3)


def _make(task, root, num_train=1, num_val=1, **kwargs):
    make, (train_name, val_name) = GENERATORS[task][:2]
    args = dict(SMALL, **{train_name: num_train, val_name: num_val})
    args.update(kwargs)
    return make(root, **args)


@pytest.mark.parametrize('task', ['segmentation', 'classification'])
@pytest.mark.parametrize('which, value, message', [
    (0, 0, 'must be a positive int'),
    (0, 2.5, 'must be a positive int'),
    (1, -1, 'must be a positive int'),
    (1, True, 'must be a positive int'),
    ('size', 0, 'must be a positive int'),
    ('size', (32, 32), 'must be a positive int'),
    ('seed', -1, 'must be a non-negative int'),
    ('seed', None, 'must be a non-negative int'),
])
def test_bad_arguments_of_the_square_sets(task, which, value, message,
                                          tmp_path):
    # (Cityscapes and COCO: test_synthetic_formats.py::test_bad_arguments.)
    field = GENERATORS[task][1][which] if isinstance(which, int) else which
    root = tmp_path / 'data'
    with pytest.raises(ValueError, match=f'{field} {message}'):
        _make(task, str(root), **{field: value})
    assert not root.exists()


@pytest.mark.parametrize('task', sorted(GENERATORS))
def test_stamp_marks_complete_sets_only(task, tmp_path, monkeypatch):
    make, _, stamp_name, module, draw_name, text = GENERATORS[task]
    root = str(tmp_path / task)
    stamp = osp.join(root, stamp_name)
    assert _make(task, root) == root
    with open(stamp) as f:
        assert f.read() == text

    draw = getattr(module, draw_name)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return draw(*args, **kwargs)

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # interrupted half way

    # Same settings: kept, nothing drawn.
    monkeypatch.setattr(module, draw_name, counted)
    _make(task, root)
    assert calls == []
    # Other settings, interrupted: the old stamp must be gone, so the
    # half-written set is not taken for the old one afterwards.
    monkeypatch.setattr(module, draw_name, broken)
    with pytest.raises(KeyboardInterrupt):
        _make(task, root, num_train=2)
    assert not osp.exists(stamp)
    monkeypatch.setattr(module, draw_name, counted)
    _make(task, root)
    assert calls  # drawn again
    with open(stamp) as f:
        assert f.read() == text
