"""Shape bias on cue-conflict images (Geirhos et al., ICLR 2019), as
RepLKNet measures it (Sec. 5, Fig. 5) with the model-vs-human toolbox.

Each stimulus (:func:`find_cue_conflict_images`) has the shape of one of 16
categories and the texture of another; a 1000-class output becomes a
decision among the 16 (:func:`decide`), and the shape bias is
``shape / (shape + texture)`` decisions (:func:`count_decisions`). The
protocol and the stimuli's layout: ``docs/analysis.md``, "Shape bias".
"""
import math
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional

import torch

from lkmm.utils.plotting import figure_png, pyplot

__all__ = [
    'CUE_CONFLICT_CATEGORIES', 'IMAGENET_INDICES', 'CueConflictImage',
    'parse_stimulus_name', 'find_cue_conflict_images',
    'category_probabilities', 'decide', 'decide_in_batches',
    'decision_outcome', 'count_decisions', 'shape_bias',
    'format_shape_bias_table', 'shape_bias_png'
]

# ImageNet-1k class indices of the 16 categories: the ``*_indices`` lists
# of ``HumanCategories`` in modelvshuman/helper/human_categories.py of
# bethgelab/model-vs-human (commit 79ed7cd1d9ac3a114e71b6638f0a98bdd627316c),
# 207 indices in all, each in one category. The 793 other classes count
# for no category.
IMAGENET_INDICES = OrderedDict([
    ('airplane', (404, )),
    ('bear', (294, 295, 296, 297)),
    ('bicycle', (444, 671)),
    ('bird', (8, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 23, 24, 80, 81,
              82, 83, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 98, 99, 100,
              127, 128, 129, 130, 131, 132, 133, 135, 136, 137, 138, 139,
              140, 141, 142, 143, 144, 145)),
    ('boat', (472, 554, 625, 814, 914)),
    ('bottle', (440, 720, 737, 898, 899, 901, 907)),
    ('car', (436, 511, 817)),
    ('cat', (281, 282, 283, 284, 285, 286)),
    ('chair', (423, 559, 765, 857)),
    ('clock', (409, 530, 892)),
    ('dog', (152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164,
             165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177,
             178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190,
             191, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 205,
             206, 207, 208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218,
             219, 220, 221, 222, 223, 224, 225, 226, 228, 229, 230, 231, 232,
             233, 234, 235, 236, 237, 238, 239, 240, 241, 243, 244, 245, 246,
             247, 248, 249, 250, 252, 253, 254, 255, 256, 257, 259, 261, 262,
             263, 265, 266, 267, 268)),
    ('elephant', (385, 386)),
    ('keyboard', (508, 878)),
    ('knife', (499, )),
    ('oven', (766, )),
    ('truck', (555, 569, 656, 675, 717, 734, 864, 867)),
])

#: The 16 categories, sorted by name (the toolbox's order).
CUE_CONFLICT_CATEGORIES = tuple(IMAGENET_INDICES)

NUM_IMAGENET_CLASSES = 1000
# ``<shape><N>-<texture><M>.<ext>``; the toolbox also reads names with a
# prefix ending in '_' (``..._dog10-bird2.png``), so one is allowed.
_STIMULUS_NAME = re.compile(
    r'^(?:.*_)?(?P<shape>[a-z]+)\d+-(?P<texture>[a-z]+)\d+'
    r'\.(?:png|jpg|jpeg)$', re.IGNORECASE)
EXPECTED_LAYOUT = ('<root>/<shape>/<shape><N>-<texture><M>.png, e.g. '
                   'airplane/airplane1-bicycle2.png, <shape> and <texture> '
                   'among: ' + ', '.join(CUE_CONFLICT_CATEGORIES))
# Outcomes of one decision (see decision_outcome).
SHAPE, TEXTURE, OTHER, NO_CONFLICT = 'shape', 'texture', 'other', 'excluded'


class CueConflictImage(NamedTuple):
    """One stimulus: its path and its shape and texture categories."""
    path: str
    shape: str
    texture: str

    @property
    def conflict(self) -> bool:
        """Whether shape and texture differ (else the image is left out)."""
        return self.shape != self.texture


def parse_stimulus_name(filename: str) -> Optional[tuple]:
    """``(shape, texture)`` of a stimulus file name, or None when the name
    does not follow ``<shape><N>-<texture><M>.png`` with two of the 16
    categories.

    Args:
        filename (str): A base name, e.g. ``'airplane1-bicycle2.png'``.

    Returns:
        tuple[str, str] | None: The two categories, lower case.
    """
    match = _STIMULUS_NAME.match(filename)
    if match is None:
        return None
    shape, texture = (match.group('shape').lower(),
                      match.group('texture').lower())
    if shape not in IMAGENET_INDICES or texture not in IMAGENET_INDICES:
        return None
    return shape, texture


def _layout_error(root: str, problems: List[str]) -> ValueError:
    shown = '\n  '.join(problems[:8])
    more = f'\n  ... and {len(problems) - 8} more' if len(problems) > 8 \
        else ''
    return ValueError(
        f'{root} is not in the cue-conflict layout ({len(problems)} '
        f'problem(s)):\n  {shown}{more}\nExpected {EXPECTED_LAYOUT}')


def find_cue_conflict_images(root: str) -> List[CueConflictImage]:
    """Every stimulus under ``root``, sorted by path.

    Hidden entries (names starting with '.') are skipped; anything else that
    does not fit the layout is an error, so that a wrong folder or a
    renamed set is not measured silently.

    Args:
        root (str): The ``cue-conflict`` folder: one sub-folder per shape
            category, each holding ``<shape><N>-<texture><M>.png`` files.

    Returns:
        list[CueConflictImage]: At least one image.

    Raises:
        ValueError: naming every file or folder that does not fit (up to
            eight of them) and the expected layout.
    """
    if not osp.isdir(root):
        raise ValueError(f'{root} is not a folder')
    images, problems = [], []
    for entry in sorted(os.listdir(root)):
        folder = osp.join(root, entry)
        if entry.startswith('.'):
            continue
        if not osp.isdir(folder):
            problems.append(f'{entry}: a file outside the category folders')
            continue
        if entry not in IMAGENET_INDICES:
            problems.append(f'{entry}/: not one of the 16 categories')
            continue
        for name in sorted(os.listdir(folder)):
            if name.startswith('.'):
                continue
            path = osp.join(folder, name)
            parsed = parse_stimulus_name(name)
            if osp.isdir(path):
                problems.append(f'{entry}/{name}/: a folder inside a '
                                'category folder')
            elif parsed is None:
                problems.append(f'{entry}/{name}: not named '
                                '<shape><N>-<texture><M>.png')
            elif parsed[0] != entry:
                problems.append(f'{entry}/{name}: shape "{parsed[0]}" in '
                                f'the folder of "{entry}"')
            else:
                images.append(CueConflictImage(path, *parsed))
    if problems:
        raise _layout_error(root, problems)
    if not images:
        raise ValueError(f'no cue-conflict images in {root}; expected '
                         f'{EXPECTED_LAYOUT}')
    return images


def category_probabilities(probabilities: torch.Tensor) -> torch.Tensor:
    """Mean ImageNet probability of each of the 16 categories.

    Args:
        probabilities (Tensor): ``(N, 1000)`` softmax outputs.

    Returns:
        Tensor: ``(N, 16)``, columns in :data:`CUE_CONFLICT_CATEGORIES`
        order.
    """
    if probabilities.dim() != 2 or \
            probabilities.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(
            'expected (N, 1000) ImageNet-1k outputs, got shape '
            f'{tuple(probabilities.shape)}: the 16 categories are groups of '
            'ImageNet-1k classes')
    columns = [
        probabilities[:, list(indices)].mean(dim=1)
        for indices in IMAGENET_INDICES.values()
    ]
    return torch.stack(columns, dim=1)


def decide(logits: torch.Tensor) -> List[str]:
    """The 16-category decision for each row of ImageNet-1k logits.

    Softmax over the 1000 classes, mean per category, largest mean (the
    toolbox's default decision mapping).

    Args:
        logits (Tensor): ``(N, 1000)``.

    Returns:
        list[str]: N category names.
    """
    probabilities = torch.softmax(logits.detach().double(), dim=1)
    winners = category_probabilities(probabilities).argmax(dim=1)
    return [CUE_CONFLICT_CATEGORIES[i] for i in winners.tolist()]


def decide_in_batches(images: List[CueConflictImage],
                      logits_fn: Callable[[List[str]], torch.Tensor],
                      batch_size: int = 16,
                      progress: Optional[Callable[[int], None]] = None
                      ) -> List[str]:
    """Decisions for ``images``, ``batch_size`` at a time.

    Args:
        images (list[CueConflictImage]): From
            :func:`find_cue_conflict_images`.
        logits_fn (Callable): Paths -> ``(len(paths), 1000)`` logits.
        batch_size (int): Images per call. Defaults to 16.
        progress (Callable, optional): Called with the number of images of
            each finished batch.

    Returns:
        list[str]: One decision per image, in order.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    decisions = []
    for start in range(0, len(images), batch_size):
        paths = [im.path for im in images[start:start + batch_size]]
        logits = logits_fn(paths)
        if logits.dim() != 2 or logits.shape[0] != len(paths):
            raise ValueError(f'logits_fn returned shape '
                             f'{tuple(logits.shape)} for {len(paths)} images')
        decisions += decide(logits)
        if progress is not None:
            progress(len(paths))
    return decisions


def decision_outcome(image: CueConflictImage, decision: str) -> str:
    """``'shape'``, ``'texture'``, ``'other'`` or, for an image without a
    conflict, ``'excluded'``."""
    if not image.conflict:
        return NO_CONFLICT
    if decision == image.shape:
        return SHAPE
    if decision == image.texture:
        return TEXTURE
    return OTHER


def shape_bias(shape: int, texture: int) -> float:
    """``shape / (shape + texture)``; NaN without any such decision."""
    total = shape + texture
    return shape / total if total else math.nan


def count_decisions(images: Iterable[CueConflictImage],
                    decisions: Iterable[str]
                    ) -> Dict[str, Dict[str, float]]:
    """Decision counts and shape bias per shape category and overall.

    Args:
        images (Iterable[CueConflictImage]): The stimuli.
        decisions (Iterable[str]): One category per image.

    Returns:
        dict: ``{category: row}`` for each shape category present, in
        :data:`CUE_CONFLICT_CATEGORIES` order, then ``'all'``. A row holds
        ``images``, ``excluded`` (no conflict), ``shape``, ``texture``,
        ``other`` and ``shape_bias`` (NaN without shape or texture
        decisions).
    """
    keys = ('images', NO_CONFLICT, SHAPE, TEXTURE, OTHER)
    rows = {}
    for image, decision in zip(images, decisions):
        row = rows.setdefault(image.shape, dict.fromkeys(keys, 0))
        row['images'] += 1
        row[decision_outcome(image, decision)] += 1
    table = OrderedDict((c, rows[c]) for c in CUE_CONFLICT_CATEGORIES
                        if c in rows)
    table['all'] = {k: sum(r[k] for r in rows.values()) for k in keys}
    for row in table.values():
        row['shape_bias'] = shape_bias(row[SHAPE], row[TEXTURE])
    return table


def format_shape_bias_table(table: Dict[str, Dict[str, float]]) -> str:
    """A text table of :func:`count_decisions`, one row per category."""
    head = (f'{"category":<10}{"images":>8}{"excluded":>10}{"shape":>7}'
            f'{"texture":>9}{"other":>7}{"shape bias":>12}')
    lines = [head]
    for name, row in table.items():
        if name == 'all':
            lines.append('-' * len(head))
        bias = '-' if math.isnan(row['shape_bias']) else \
            f'{row["shape_bias"]:.3f}'
        lines.append(f'{name:<10}{row["images"]:>8d}{row[NO_CONFLICT]:>10d}'
                     f'{row[SHAPE]:>7d}{row[TEXTURE]:>9d}{row[OTHER]:>7d}'
                     f'{bias:>12}')
    return '\n'.join(lines)


def shape_bias_png(tables: Dict[str, Dict[str, Dict[str, float]]]) -> bytes:
    """PNG bytes of a plot like RepLKNet's Fig. 5 (the toolbox's
    shape-bias matrix plot).

    One row per shape category; each model's per-category shape bias is a
    marker, its overall shape bias a vertical line. The bottom axis is the
    fraction of texture decisions (``1 - shape bias``), the top axis the
    fraction of shape decisions, as in the paper.

    Args:
        tables (dict): ``{model name: count_decisions(...)}``.

    Returns:
        bytes: The PNG file.
    """
    plt = pyplot()
    present = {c for t in tables.values() for c in t if c != 'all'}
    categories = [c for c in CUE_CONFLICT_CATEGORIES if c in present]
    fig, ax = plt.subplots(figsize=(6, 1.5 + 0.4 * len(categories)))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(categories) - 0.5)
    ax.set_yticks(range(len(categories)), categories)
    ax.invert_yaxis()
    ax.set_xlabel("fraction of 'texture' decisions")
    top = ax.secondary_xaxis('top', functions=(lambda x: 1 - x,
                                               lambda x: 1 - x))
    top.set_xlabel("fraction of 'shape' decisions")
    for y in range(len(categories) - 1):
        ax.axhline(y + 0.5, color='grey', linestyle=':', linewidth=0.6)
    markers = 'osD^vP*Xh'
    for i, (name, table) in enumerate(tables.items()):
        color = f'C{i % 10}'
        overall = table['all']['shape_bias']
        label = f'{name} ({overall:.3f})' if not math.isnan(overall) \
            else f'{name} (-)'
        if not math.isnan(overall):
            ax.axvline(1 - overall, color=color, linewidth=1.2)
        points = [(1 - table[c]['shape_bias'], y)
                  for y, c in enumerate(categories)
                  if c in table and not math.isnan(table[c]['shape_bias'])]
        xs, ys = zip(*points) if points else ((), ())
        ax.scatter(xs, ys, color=color, marker=markers[i % len(markers)],
                   label=label, zorder=3, clip_on=False)
    ax.legend(loc='lower center', bbox_to_anchor=(0.5, 1.12), fontsize=8,
              ncol=min(len(tables), 2), title='shape bias', frameon=False)
    fig.tight_layout()
    return figure_png(fig)
