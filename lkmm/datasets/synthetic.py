"""Small, learnable synthetic datasets in the real on-disk formats.

They let the demo and the tests run the full train/test tools without a
download. Everything is generated from a seed, so runs are reproducible.
"""
import os
import os.path as osp
from typing import Callable, Dict, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

# ADE20K convention: label 0 is "other" and is ignored (reduce_zero_label),
# so the PNGs store class i as i + 1.
SHAPES_METAINFO = dict(
    classes=('background', 'disk', 'square', 'triangle'),
    palette=[[120, 120, 120], [220, 60, 60], [60, 200, 60], [60, 90, 230]])

# Per class: base colour (RGB) and texture kind. Colours overlap a little and
# textures differ, so a model has to look at more than one pixel.
_STYLES = {
    1: ((150, 140, 120), 'noise'),
    2: ((200, 90, 80), 'dots'),
    3: ((90, 170, 90), 'stripes'),
    4: ((90, 110, 200), 'checker'),
}


# ------------------------------------------------ arguments and the stamp


def _check_count(name: str, value) -> None:
    """A count (images, images per class, a square side) is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}')


def _check_size(size: Union[int, Tuple[int, int]],
                minimum: int) -> Tuple[int, int]:
    """``size`` as ``(h, w)``; an int means a square."""
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2 or any(
            isinstance(v, bool) or not isinstance(v, int) or v < minimum
            for v in size)):
        raise ValueError(f'size must be an int or an (h, w) pair of ints '
                         f'>= {minimum}, got {size!r}')
    return int(size[0]), int(size[1])


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')


def _write_once(root: str, stamp_name: str, settings: Dict[str, object],
                write: Callable[[], None]) -> str:
    """Run ``write`` unless ``root`` already holds a complete set.

    The stamp ``root/stamp_name`` holds the settings as ``key=value`` pairs
    on one line. It is written last, so its presence means the set is
    complete; when it holds other settings it is removed before ``write``
    starts, so a half-written set is never taken for a complete one.

    Args:
        root (str): The dataset folder.
        stamp_name (str): File name of the stamp in ``root``.
        settings (dict): What the set was drawn with, in stamp order.
        write (callable): Writes the set into ``root``.

    Returns:
        str: ``root``.
    """
    stamp = osp.join(root, stamp_name)
    text = ' '.join(f'{key}={value}' for key, value in settings.items())
    text += '\n'
    if osp.isfile(stamp):
        with open(stamp) as f:
            if f.read() == text:
                return root
        os.remove(stamp)  # being rewritten: not complete until the end
    write()
    with open(stamp, 'w') as f:  # written last: the set is complete
        f.write(text)
    return root


def _texture(kind: str, size: int, rng: np.random.Generator,
             periods: Tuple[int, int] = (4, 8)) -> np.ndarray:
    """A (size, size) map in [-1, 1] that modulates a base colour."""
    yy, xx = np.mgrid[0:size, 0:size]
    period = rng.integers(*periods)
    phase = rng.integers(0, period)
    if kind == 'stripes':
        tex = np.sign(np.sin(2 * np.pi * (xx + yy + phase) / period))
    elif kind == 'checker':
        tex = (((xx + phase) // period + (yy + phase) // period) % 2) * 2. - 1
    elif kind == 'dots':
        tex = ((((xx + phase) % period) < 2) &
               (((yy + phase) % period) < 2)) * 2. - 1
    else:
        tex = rng.uniform(-1, 1, (size, size))
    return tex.astype(np.float32)


def _draw_sample(size: int, rng: np.random.Generator
                 ) -> Tuple[np.ndarray, np.ndarray]:
    label = np.full((size, size), 1, dtype=np.uint8)
    for _ in range(rng.integers(1, 4)):
        cls = int(rng.integers(2, 5))
        mask = Image.new('L', (size, size), 0)
        draw = ImageDraw.Draw(mask)
        radius = rng.uniform(0.12, 0.3) * size
        cx, cy = rng.uniform(radius, size - radius, 2)
        if cls == 2:
            draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius],
                         fill=1)
        elif cls == 3:
            draw.rectangle(
                [cx - radius, cy - radius, cx + radius, cy + radius], fill=1)
        else:
            draw.polygon([(cx, cy - radius), (cx - radius, cy + radius),
                          (cx + radius, cy + radius)], fill=1)
        label[np.asarray(mask, dtype=bool)] = cls  # later shapes on top
    image = np.zeros((size, size, 3), dtype=np.float32)
    for cls, (colour, kind) in _STYLES.items():
        where = label == cls
        if not where.any():
            continue
        jitter = rng.uniform(-25, 25, 3)
        tex = _texture(kind, size, rng)[..., None]
        layer = np.asarray(colour, np.float32) + jitter + 35 * tex
        image[where] = layer[where]
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), label


def make_shapes_segmentation(root: str,
                             num_train: int = 96,
                             num_val: int = 24,
                             size: int = 64,
                             seed: int = 0) -> str:
    """Write a shapes-and-textures segmentation set in ADE20K layout.

    Layout (as mmseg's ``ADE20KDataset`` / ``BaseSegDataset`` read it)::

        root/images/{training,validation}/shapes_00000.jpg
        root/annotations/{training,validation}/shapes_00000.png

    Labels follow ADE20K: 0 is ignored, classes of
    :data:`SHAPES_METAINFO` are stored as 1..4 (``reduce_zero_label=True``).
    Existing complete datasets with the same settings are kept.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 96.
        num_val (int): Validation images. Defaults to 24.
        size (int): Image side in pixels. Defaults to 64.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    _check_count('num_train', num_train)
    _check_count('num_val', num_val)
    _check_count('size', size)
    _check_seed(seed)

    def write():
        rng = np.random.default_rng(seed)
        for split, count in (('training', num_train),
                             ('validation', num_val)):
            img_dir = osp.join(root, 'images', split)
            ann_dir = osp.join(root, 'annotations', split)
            os.makedirs(img_dir, exist_ok=True)
            os.makedirs(ann_dir, exist_ok=True)
            for i in range(count):
                image, label = _draw_sample(size, rng)
                Image.fromarray(image).save(
                    osp.join(img_dir, f'shapes_{i:05d}.jpg'), quality=95)
                Image.fromarray(label).save(
                    osp.join(ann_dir, f'shapes_{i:05d}.png'))

    return _write_once(
        root, 'lkmm_shapes.txt',
        dict(num_train=num_train, num_val=num_val, size=size, seed=seed),
        write)


# Classification demo: one class per (shape, texture) pair, so neither the
# colour nor the outline alone gives the label away.
# Sorted, as mmpretrain orders the class folders.
SHAPES_CLS_CLASSES = ('disk_checker', 'disk_stripes', 'ring_checker',
                      'ring_stripes', 'square_checker', 'square_stripes',
                      'triangle_checker', 'triangle_stripes')


def _draw_object(shape: str, texture: str, size: int,
                 rng: np.random.Generator) -> np.ndarray:
    """One textured object on a noisy background, as an RGB uint8 image."""
    mask = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(mask)
    radius = rng.uniform(0.25, 0.42) * size
    cx, cy = rng.uniform(radius, size - radius, 2)
    box = [cx - radius, cy - radius, cx + radius, cy + radius]
    if shape in ('disk', 'ring'):
        draw.ellipse(box, fill=1)
        if shape == 'ring':
            inner = radius * 0.55
            draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner],
                         fill=0)
    elif shape == 'square':
        draw.rectangle(box, fill=1)
    else:
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius),
                      (cx + radius, cy + radius)], fill=1)
    where = np.asarray(mask, dtype=bool)
    background = rng.uniform(60, 190, 3) + 20 * _texture(
        'noise', size, rng)[..., None]
    colour = rng.uniform(40, 230, 3)  # random: colour carries no label
    image = background.astype(np.float32)
    # Coarse periods: the texture must survive the stem's 4x downsampling.
    tex = _texture(texture, size, rng, periods=(6, 11))[..., None]
    image[where] = (colour + 50 * tex)[where]
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_shapes_classification(root: str,
                               num_train_per_class: int = 24,
                               num_val_per_class: int = 8,
                               size: int = 64,
                               seed: int = 0) -> str:
    """Write a small shapes classification set in ImageNet folder layout.

    Layout (as mmpretrain's ``ImageNet`` / ``CustomDataset`` read it, class
    names from the sub-folders, sorted)::

        root/train/<class>/<class>_00000.png
        root/val/<class>/<class>_00000.png

    The eight classes of :data:`SHAPES_CLS_CLASSES` combine an outline with a
    texture; colours are random. Existing complete datasets with the same
    settings are kept.

    Args:
        root (str): Output folder.
        num_train_per_class (int): Training images per class. Defaults to 24.
        num_val_per_class (int): Validation images per class. Defaults to 8.
        size (int): Image side in pixels. Defaults to 64.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    _check_count('num_train_per_class', num_train_per_class)
    _check_count('num_val_per_class', num_val_per_class)
    _check_count('size', size)
    _check_seed(seed)

    def write():
        rng = np.random.default_rng(seed)
        for split, count in (('train', num_train_per_class),
                             ('val', num_val_per_class)):
            for cls in SHAPES_CLS_CLASSES:
                shape, texture = cls.split('_')
                folder = osp.join(root, split, cls)
                os.makedirs(folder, exist_ok=True)
                for i in range(count):
                    Image.fromarray(
                        _draw_object(shape, texture, size, rng)).save(
                            osp.join(folder, f'{cls}_{i:05d}.png'))

    return _write_once(
        root, 'lkmm_shapes_cls.txt',
        dict(num_train_per_class=num_train_per_class,
             num_val_per_class=num_val_per_class, size=size, seed=seed),
        write)
