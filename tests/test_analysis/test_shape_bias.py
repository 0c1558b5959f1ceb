"""lkmm.analysis.shape_bias: the 16-category mapping, the decision rule, the
cue-conflict layout and the counts, on generated stimuli answered by a
model whose answers are written into the pixels."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lkmm.analysis.shape_bias import (
    CUE_CONFLICT_CATEGORIES,
    IMAGENET_INDICES,
    CueConflictImage,
    count_decisions,
    decide,
    decide_in_batches,
    find_cue_conflict_images,
    format_shape_bias_table,
    parse_stimulus_name,
    shape_bias_png,
)


def test_index_lists_match_the_toolbox():
    assert CUE_CONFLICT_CATEGORIES == (
        'airplane', 'bear', 'bicycle', 'bird', 'boat', 'bottle', 'car', 'cat',
        'chair', 'clock', 'dog', 'elephant', 'keyboard', 'knife', 'oven',
        'truck')
    every = [i for indices in IMAGENET_INDICES.values() for i in indices]
    # model-vs-human's HumanCategories: 207 indices, each in one category.
    assert len(every) == 207 and len(set(every)) == 207
    assert all(0 <= i < 1000 for i in every)
    sizes = {c: len(v) for c, v in IMAGENET_INDICES.items()}
    assert sizes == dict(airplane=1, bear=4, bicycle=2, bird=49, boat=5,
                         bottle=7, car=3, cat=6, chair=4, clock=3, dog=109,
                         elephant=2, keyboard=2, knife=1, oven=1, truck=8)
    assert IMAGENET_INDICES['airplane'] == (404, )  # airliner
    assert IMAGENET_INDICES['bicycle'] == (444, 671)
    assert sum(IMAGENET_INDICES['dog']) == 22672
    assert sum(IMAGENET_INDICES['bird']) == 4213


def test_decision_is_the_largest_mean_probability():
    # Knife (one class) against dog (109 classes): 109 dog logits of 1.9
    # hold more probability in sum, but less per class, than knife's 4.
    logits = torch.full((1, 1000), -20.)
    logits[0, list(IMAGENET_INDICES['dog'])] = 1.9
    logits[0, 499] = 4.
    assert decide(logits) == ['knife']
    # Means of probabilities, not of logits: bear's mean logit is -3, but
    # one bear class at 4 outweighs airplane's single class at 2.
    logits = torch.full((1, 1000), -20.)
    logits[0, 404] = 2.
    logits[0, list(IMAGENET_INDICES['bear'])] = torch.tensor(
        [4., -10., -10., -10.])
    assert decide(logits) == ['bear']
    # Classes outside the 16 categories do not decide.
    logits = torch.full((2, 1000), -20.)
    logits[:, 0] = 50.  # tench: no category
    logits[0, 766], logits[1, 409] = -1., -2.
    assert decide(logits) == ['oven', 'clock']
    with pytest.raises(ValueError, match=r'\(N, 1000\)'):
        decide(torch.zeros(1, 10))


@pytest.mark.parametrize('name, expected', [
    ('airplane1-bicycle2.png', ('airplane', 'bicycle')),
    ('dog10-bird2.png', ('dog', 'bird')),
    ('Cat3-Cat4.PNG', ('cat', 'cat')),
    ('0001_cue-conflict_dog10-bird2.png', ('dog', 'bird')),
    ('airplane1-bicycle2.txt', None),
    ('airplane-bicycle2.png', None),
    ('airplane1_bicycle2.png', None),
    ('plane1-bicycle2.png', None),
    ('airplane1-bicycle2.png.bak', None),
])
def test_parse_stimulus_name(name, expected):
    assert parse_stimulus_name(name) == expected


def _write(root, relpath, value=0, size=8):
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)
    return path


def test_layout_errors_name_every_problem(tmp_path):
    with pytest.raises(ValueError, match='not a folder'):
        find_cue_conflict_images(str(tmp_path / 'missing'))
    with pytest.raises(ValueError, match='no cue-conflict images'):
        find_cue_conflict_images(str(tmp_path))
    _write(tmp_path, 'cat/cat1-dog2.png')
    _write(tmp_path, '.DS_Store/x.png')   # hidden: skipped
    (tmp_path / 'cat' / '.hidden').write_text('')
    assert [im.shape for im in find_cue_conflict_images(str(tmp_path))] == \
        ['cat']
    _write(tmp_path, 'cat/dog1-cat2.png')
    _write(tmp_path, 'cat/cat1.png')
    _write(tmp_path, 'kitten/kitten1-dog1.png')
    _write(tmp_path, 'cat/extra/cat1-dog1.png')
    (tmp_path / 'readme.txt').write_text('')
    with pytest.raises(ValueError) as info:
        find_cue_conflict_images(str(tmp_path))
    message = str(info.value)
    assert '5 problem(s)' in message
    for part in ('cat/dog1-cat2.png: shape "dog" in the folder of "cat"',
                 'cat/cat1.png: not named', 'kitten/: not one of the 16',
                 'cat/extra/: a folder inside', 'readme.txt: a file outside',
                 'airplane/airplane1-bicycle2.png'):
        assert part in message


# The model of the known-answer test answers the category whose index
# (in CUE_CONFLICT_CATEGORIES) is written into the red channel as 10 * i.
STIMULI = [  # (file, answer, outcome)
    ('airplane/airplane1-bear1.png', 'airplane', 'shape'),
    ('airplane/airplane2-cat1.png', 'airplane', 'shape'),
    ('bear/bear1-cat2.png', 'bear', 'shape'),
    ('bear/bear2-airplane1.png', 'airplane', 'texture'),
    ('cat/cat1-dog1.png', 'knife', 'other'),
    ('cat/cat2-cat3.png', 'cat', 'excluded'),  # no conflict
]


def pixel_coded_logits(paths):
    logits = torch.full((len(paths), 1000), -10.)
    for row, path in enumerate(paths):
        with Image.open(path) as img:
            code = int(np.asarray(img)[0, 0, 0])
        category = CUE_CONFLICT_CATEGORIES[code // 10]
        logits[row, list(IMAGENET_INDICES[category])] = 10.
    return logits


@pytest.fixture()
def stimuli(tmp_path):
    for name, answer, _ in STIMULI:
        _write(tmp_path, name, 10 * CUE_CONFLICT_CATEGORIES.index(answer))
    return find_cue_conflict_images(str(tmp_path))


def test_known_answers_give_the_hand_computed_shape_bias(stimuli):
    assert [im.path.split('/')[-1] for im in stimuli] == \
        [n.split('/')[1] for n, _, _ in STIMULI]
    seen = []
    decisions = decide_in_batches(stimuli, pixel_coded_logits, batch_size=4,
                                  progress=seen.append)
    assert seen == [4, 2]
    assert decisions == [answer for _, answer, _ in STIMULI]
    table = count_decisions(stimuli, decisions)
    assert list(table) == ['airplane', 'bear', 'cat', 'all']
    # 3 shape, 1 texture, 1 other, 1 without conflict: 3 / (3 + 1).
    assert table['all'] == dict(images=6, excluded=1, shape=3, texture=1,
                                other=1, shape_bias=0.75)
    assert table['airplane']['shape_bias'] == 1.0
    assert table['bear']['shape_bias'] == 0.5
    assert math.isnan(table['cat']['shape_bias'])
    assert table['cat']['excluded'] == 1 and table['cat']['other'] == 1
    text = format_shape_bias_table(table)
    assert text.splitlines()[-1].split() == ['all', '6', '1', '3', '1', '1',
                                             '0.750']
    assert text.splitlines()[3].split()[-1] == '-'  # cat: undefined


def test_count_decisions_by_hand():
    images = [CueConflictImage('a', 'dog', 'cat'),
              CueConflictImage('b', 'dog', 'dog'),
              CueConflictImage('c', 'truck', 'dog')]
    table = count_decisions(images, ['dog', 'dog', 'dog'])
    assert table['dog']['shape'] == 1 and table['dog']['excluded'] == 1
    assert table['truck']['texture'] == 1
    assert table['all']['shape_bias'] == 0.5


def test_plot_is_a_png(stimuli):
    table = count_decisions(stimuli, decide_in_batches(stimuli,
                                                       pixel_coded_logits))
    other = {c: dict(r, shape_bias=0.2) for c, r in table.items()}
    png = shape_bias_png({'known': table, 'other': other})
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
