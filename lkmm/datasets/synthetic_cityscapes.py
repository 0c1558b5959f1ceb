"""A small, learnable street-scene segmentation set in Cityscapes layout (as
mmseg's ``CityscapesDataset`` reads it).

Scenes are drawn from a few of the 19 Cityscapes training classes, each a
textured region in a plausible place: sky on top, a row of buildings and
trees along the horizon, road and sidewalks below, cars and persons standing
on the ground and scaled with their distance. An ego-vehicle band at the
bottom of some images is labelled ignore (255), as in Cityscapes.
"""
import os
import os.path as osp
import shutil
from functools import partial
from typing import List, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

from .synthetic import (
    _check_count,
    _check_seed,
    _check_size,
    _texture,
    _write_once,
)

# Train ids (0..18, the index into CityscapesDataset.METAINFO['classes']) of
# the classes drawn, and their Cityscapes label ids (for *_labelIds.png).
SHAPES_CITYSCAPES_TRAIN_IDS = dict(road=0, sidewalk=1, building=2,
                                   vegetation=8, sky=10, person=11, car=13)
_LABEL_IDS = {0: 7, 1: 8, 2: 11, 8: 21, 10: 23, 11: 24, 13: 26, 255: 1}
_IGNORE = 255
_EGO_LABEL_ID = 1  # 'ego vehicle', train id 255

# Made-up cities, so regenerating never touches real Cityscapes folders.
_CITIES = dict(train=('lkmm_synthtown', 'lkmm_shapeburg'),
               val=('lkmm_testville', ))

# Per train id: base colour (RGB), colour jitter, texture, texture strength.
_CITY_STYLES = {
    0: ((85, 80, 90), 10, 'noise', 18),
    1: ((175, 150, 165), 15, 'checker', 22),
    2: ((125, 105, 95), 35, 'checker', 40),
    8: ((70, 130, 45), 20, 'dots', 35),
    10: ((125, 170, 225), 15, 'noise', 6),
    11: ((200, 70, 90), 30, 'stripes', 30),
    13: ((40, 60, 150), 40, 'stripes', 15),
    _IGNORE: ((35, 35, 40), 5, 'noise', 5),
}


class _Scene:
    """Regions drawn in order; each has a train id and its own colours."""

    def __init__(self, hw: Tuple[int, int]):
        self.hw = hw
        self.region = np.zeros(hw, np.int32)
        self.train_ids: List[int] = []
        self.things: List[bool] = []

    def paint(self, train_id: int, where: np.ndarray, thing=False) -> None:
        self.train_ids.append(train_id)
        self.things.append(thing)
        self.region[where] = len(self.train_ids) - 1

    def shape(self, train_id: int, draw_fn, thing=False) -> None:
        canvas = Image.new('L', (self.hw[1], self.hw[0]), 0)
        draw_fn(ImageDraw.Draw(canvas))
        self.paint(train_id, np.asarray(canvas, dtype=bool), thing)


def _fill_rectangle(draw: ImageDraw.ImageDraw, box: list) -> None:
    """Fill ``box`` (``[x0, y0, x1, y1]``) on a :meth:`_Scene.shape` mask."""
    draw.rectangle(box, fill=1)


def _fill_ellipse(draw: ImageDraw.ImageDraw, box: list) -> None:
    """Fill the ellipse inside ``box`` on a :meth:`_Scene.shape` mask."""
    draw.ellipse(box, fill=1)


def _fill_polygon(draw: ImageDraw.ImageDraw, points: list) -> None:
    """Fill the polygon through ``points`` on a :meth:`_Scene.shape` mask."""
    draw.polygon(points, fill=1)


def _draw_buildings(scene: _Scene, horizon: int, w: int,
                    rng: np.random.Generator) -> None:
    """A row of buildings standing on the horizon, with gaps of sky.

    Args:
        scene (_Scene): Painted on.
        horizon (int): Row of the horizon.
        w (int): Image width.
        rng (np.random.Generator): Draws the buildings.
    """
    x = -int(rng.uniform(0, 0.1) * w)
    while x < w:
        width = int(rng.uniform(0.12, 0.3) * w) + 2
        if rng.random() < 0.8:
            top = int(rng.uniform(0.05, 0.7) * horizon)
            box = [x, top, x + width - 1, horizon]
            scene.shape(2, partial(_fill_rectangle, box=box))
        x += width


def _draw_trees(scene: _Scene, horizon: int, hw: Tuple[int, int],
                rng: np.random.Generator) -> None:
    """Zero to three tree crowns on the horizon, in front of the buildings.

    Args:
        scene (_Scene): Painted on.
        horizon (int): Row of the horizon.
        hw (tuple[int, int]): Image ``(h, w)``.
        rng (np.random.Generator): Draws the trees.
    """
    h, w = hw
    for _ in range(int(rng.integers(0, 4))):
        radius = rng.uniform(0.06, 0.14) * h
        cx, cy = rng.uniform(0, w), horizon - rng.uniform(0.3, 1.0) * radius
        box = [cx - radius * 1.3, cy - radius, cx + radius * 1.3, cy + radius]
        scene.shape(8, partial(_fill_ellipse, box=box))


class _Road:
    """A road narrowing from the image's bottom edge to a vanishing point
    on the horizon.

    Args:
        hw (tuple[int, int]): Image ``(h, w)``.
        horizon (int): Row of the horizon.
        vx (float): Column of the vanishing point.
        left (float): Column of the road's left edge at the bottom row.
        right (float): Column of its right edge there.
    """

    def __init__(self, hw: Tuple[int, int], horizon: int, vx: float,
                 left: float, right: float):
        self.h, self.w = hw
        self.horizon, self.vx, self.left, self.right = horizon, vx, left, right

    def polygon(self) -> List[Tuple[float, float]]:
        """The road's corners: top left, top right, bottom right, left."""
        vx, w = self.vx, self.w
        return [(vx - 0.03 * w, self.horizon), (vx + 0.03 * w, self.horizon),
                (self.right, self.h), (self.left, self.h)]

    def x_at(self, y: float, t: float) -> float:
        """Column of the point a share ``t`` across the road at row ``y``
        (0: left edge, 1: right edge; outside for the sidewalks)."""
        vx, w = self.vx, self.w
        s = (y - self.horizon) / (self.h - self.horizon)
        x0 = vx - 0.03 * w + s * (self.left - vx + 0.03 * w)
        x1 = vx + 0.03 * w + s * (self.right - vx - 0.03 * w)
        return x0 + t * (x1 - x0)


def _draw_ground(scene: _Scene, rows: np.ndarray, horizon: int,
                 hw: Tuple[int, int], rng: np.random.Generator) -> _Road:
    """Sidewalk below the horizon, the road on top of it.

    Args:
        scene (_Scene): Painted on.
        rows (np.ndarray): (H, W) row index of every pixel.
        horizon (int): Row of the horizon.
        hw (tuple[int, int]): Image ``(h, w)``.
        rng (np.random.Generator): Draws the road's shape.

    Returns:
        _Road: The road, where the things are placed.
    """
    w = hw[1]
    scene.paint(1, rows >= horizon)
    vx = rng.uniform(0.35, 0.65) * w
    left, right = rng.uniform(-0.35, 0.15) * w, rng.uniform(0.85, 1.35) * w
    road = _Road(hw, horizon, vx, left, right)
    scene.shape(0, partial(_fill_polygon, points=road.polygon()))
    return road


def _car_shape(draw: ImageDraw.ImageDraw, x0: float, x1: float, base: float,
               height: float) -> None:
    """A car's body and cabin, standing on row ``base``."""
    draw.rectangle([x0, base - 0.6 * height, x1, base], fill=1)
    inset = 0.2 * (x1 - x0)
    draw.rectangle([x0 + inset, base - height, x1 - inset,
                    base - 0.55 * height], fill=1)


def _person_shape(draw: ImageDraw.ImageDraw, cx: float, base: float,
                  height: float, half: float) -> None:
    """A person's body and head, standing on row ``base``."""
    draw.ellipse([cx - half, base - 0.8 * height, cx + half, base], fill=1)
    head = 0.11 * height
    draw.ellipse([cx - head, base - height, cx + head,
                  base - height + 2 * head], fill=1)


def _draw_things(scene: _Scene, road: _Road, rng: np.random.Generator
                 ) -> None:
    """Cars on the road and persons on the sidewalks, far ones first, each
    scaled with its distance from the horizon.

    Args:
        scene (_Scene): Painted on.
        road (_Road): The road.
        rng (np.random.Generator): Draws the things.
    """
    h, w, horizon = road.h, road.w, road.horizon
    things = []
    for _ in range(int(rng.integers(1, 4))):
        things.append(('car', rng.uniform(horizon + 0.12 * h, h)))
    for _ in range(int(rng.integers(0, 4))):
        things.append(('person', rng.uniform(horizon + 0.1 * h, h)))
    for kind, base in sorted(things, key=lambda t: t[1]):
        scale = (base - horizon) / (h - horizon)
        if kind == 'car':
            width = scale * rng.uniform(0.22, 0.32) * w + 4
            height = width * rng.uniform(0.45, 0.6)
            cx = road.x_at(base, rng.uniform(0.15, 0.85))
            scene.shape(13, partial(_car_shape, x0=cx - width / 2,
                                    x1=cx + width / 2, base=base,
                                    height=height), thing=True)
        else:
            height = scale * rng.uniform(0.3, 0.45) * h + 5
            side = rng.random() < 0.5
            cx = road.x_at(base, -0.08 if side else 1.08) + \
                rng.uniform(-3, 3)
            scene.shape(11, partial(_person_shape, cx=cx, base=base,
                                    height=height, half=0.16 * height),
                        thing=True)


def _label_maps(scene: _Scene
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three Cityscapes label images of a drawn scene.

    Args:
        scene (_Scene): The scene.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: Label ids and train ids
        (uint8), and instance ids (uint16: the label id for stuff, label id
        * 1000 + index for things).
    """
    train_lut = np.asarray(scene.train_ids, np.uint8)
    train = train_lut[scene.region]
    label_ids = np.asarray([_LABEL_IDS[t] for t in scene.train_ids],
                           np.uint8)[scene.region]
    instance_lut = np.asarray(
        [_LABEL_IDS[t] for t in scene.train_ids], np.int64)
    counters = {}
    for i, (t, thing) in enumerate(zip(scene.train_ids, scene.things)):
        if thing:
            instance_lut[i] = _LABEL_IDS[t] * 1000 + counters.get(t, 0)
            counters[t] = counters.get(t, 0) + 1
    instances = instance_lut[scene.region].astype(np.uint16)
    return label_ids, train, instances


def _render(scene: _Scene, rng: np.random.Generator) -> np.ndarray:
    """The image of a scene: each visible region in its class's textured
    colour, plus pixel noise.

    Args:
        scene (_Scene): The scene.
        rng (np.random.Generator): Draws colours, textures and noise.

    Returns:
        np.ndarray: (H, W, 3) uint8.
    """
    h, w = scene.hw
    image = np.zeros((h, w, 3), np.float32)
    side = max(h, w)
    for i, t in enumerate(scene.train_ids):
        where = scene.region == i
        if not where.any():
            continue
        colour, jitter, kind, strength = _CITY_STYLES[t]
        tex = _texture(kind, side, rng, periods=(3, 7))[:h, :w, None]
        layer = np.asarray(colour, np.float32) + rng.uniform(
            -jitter, jitter, 3) + strength * tex
        if t == 10:  # sky: lighter towards the horizon
            layer = layer + 40 * (np.arange(h, dtype=np.float32)[:, None,
                                                                None] / h)
        image[where] = layer[where]
    image += rng.normal(0, 5, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _draw_street(hw: Tuple[int, int], rng: np.random.Generator):
    """One street scene and its labels.

    Sky, buildings, trees, sidewalk, road, then cars and persons are drawn
    in that order (later ones hide earlier ones), and some images get an
    ego-vehicle band, ignored as in Cityscapes.

    Args:
        hw (tuple[int, int]): Image ``(h, w)``.
        rng (np.random.Generator): Every random draw of the scene.

    Returns:
        tuple[np.ndarray, ...]: Image (H, W, 3) uint8, label ids, train ids,
        instance ids (see :func:`_label_maps`).
    """
    h, w = hw
    scene = _Scene(hw)
    horizon = int(rng.uniform(0.38, 0.5) * h)
    rows = np.arange(h)[:, None] * np.ones((1, w), bool)
    scene.paint(10, rows < horizon)
    _draw_buildings(scene, horizon, w, rng)
    _draw_trees(scene, horizon, hw, rng)
    road = _draw_ground(scene, rows, horizon, hw, rng)
    _draw_things(scene, road, rng)
    if rng.random() < 0.5:  # ego vehicle: ignored, as in Cityscapes
        scene.paint(_IGNORE, rows >= h - max(2, int(0.07 * h)))
    label_ids, train, instances = _label_maps(scene)
    return _render(scene, rng), label_ids, train, instances


def make_shapes_cityscapes(root: str,
                           num_train: int = 48,
                           num_val: int = 12,
                           size: Union[int, Tuple[int, int]] = (64, 128),
                           seed: int = 0) -> str:
    """Write a synthetic street-scene segmentation set in Cityscapes layout.

    Layout (as mmseg's ``CityscapesDataset`` reads it, with
    ``data_prefix=dict(img_path='leftImg8bit/train',
    seg_map_path='gtFine/train')``). The images of a split are spread over
    made-up cities; ``<name>`` is ``<city>_<nnnnnn>_000019``::

        root/leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
        root/gtFine/{train,val}/<city>/<name>_gtFine_labelTrainIds.png
        root/gtFine/{train,val}/<city>/<name>_gtFine_labelIds.png
        root/gtFine/{train,val}/<city>/<name>_gtFine_instanceIds.png

    ``labelTrainIds`` (what mmseg reads) holds train ids 0..18 and 255 for
    ignore; only the classes of :data:`SHAPES_CITYSCAPES_TRAIN_IDS` occur.
    ``labelIds`` holds the matching Cityscapes label ids (for the official
    evaluation scripts) and ``instanceIds`` (16 bit) the label id for stuff
    and ``label id * 1000 + n`` for each car and person. Existing complete
    datasets with the same settings are kept; otherwise the made-up city
    folders are rewritten.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 48.
        num_val (int): Validation images. Defaults to 12.
        size (int | tuple[int, int]): ``(h, w)`` in pixels (each at least
            32), or one int for a square. Defaults to ``(64, 128)``.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    _check_count('num_train', num_train)
    _check_count('num_val', num_val)
    hw = _check_size(size, 32)
    _check_seed(seed)

    def write():
        rng = np.random.default_rng(seed)
        for split, count in (('train', num_train), ('val', num_val)):
            cities = _CITIES[split]
            for city in cities:  # clear files of other settings
                for top in ('leftImg8bit', 'gtFine'):
                    folder = osp.join(root, top, split, city)
                    if osp.isdir(folder):
                        shutil.rmtree(folder)
                    os.makedirs(folder)
            for i in range(count):
                city = cities[i % len(cities)]
                stem = f'{city}_{i // len(cities):06d}_000019'
                image, label_ids, train_ids, instances = _draw_street(hw, rng)
                Image.fromarray(image).save(
                    osp.join(root, 'leftImg8bit', split, city,
                             f'{stem}_leftImg8bit.png'))
                gt = osp.join(root, 'gtFine', split, city, f'{stem}_gtFine_')
                Image.fromarray(train_ids).save(gt + 'labelTrainIds.png')
                Image.fromarray(label_ids).save(gt + 'labelIds.png')
                Image.fromarray(instances).save(gt + 'instanceIds.png')

    return _write_once(
        root, 'lkmm_shapes_cityscapes.txt',
        dict(num_train=num_train, num_val=num_val, size=f'{hw[0]}x{hw[1]}',
             seed=seed), write)
