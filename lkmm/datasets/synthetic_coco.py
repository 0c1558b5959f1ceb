"""A small, learnable shapes detection / instance segmentation set in COCO
format (as mmdet's ``CocoDataset`` reads it).

Objects are textured disks, squares and triangles, several per image, drawn
one after the other so later ones may hide part of earlier ones. Every
annotation describes exactly the pixels its object shows: the polygon of an
object is traced along the pixel corners of its visible region, so decoding
it with pycocotools gives back that region pixel for pixel, and ``bbox`` and
``area`` are computed from the same region.
"""
import json
import os
import os.path as osp
from functools import partial
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw

from .synthetic import (
    _check_count,
    _check_seed,
    _check_size,
    _texture,
    _write_once,
)

SHAPES_COCO_METAINFO = dict(
    classes=('disk', 'square', 'triangle'),
    palette=[[220, 60, 60], [60, 200, 60], [60, 90, 230]])

# Per category: base colour (RGB) and texture, as in the segmentation set.
_COCO_STYLES = {
    'disk': ((200, 90, 80), 'dots'),
    'square': ((90, 170, 90), 'stripes'),
    'triangle': ((90, 110, 200), 'checker'),
}

# A visible region must keep this share of its shape and this many pixels.
_MIN_VISIBLE = 0.6
_MIN_PIXELS = 30
_TRIES = 20


def mask_to_polygon(mask: np.ndarray) -> Optional[List[float]]:
    """Trace a binary mask along its pixel corners.

    Pixel ``(r, c)`` covers ``[c, c + 1) x [r, r + 1)``, as in pycocotools,
    so the returned polygon rasterizes back to ``mask`` exactly.

    Args:
        mask (np.ndarray): (H, W) bool mask.

    Returns:
        list[float] | None: ``[x0, y0, x1, y1, ...]`` (clockwise on screen,
        collinear corners dropped), or None when the mask is empty or not a
        single 4-connected region without holes and pinches, which one
        polygon cannot describe.
    """
    m = np.pad(np.asarray(mask, dtype=bool), 1)
    inner = m[1:-1, 1:-1]
    # Directed edges with the region on their right (y axis pointing down).
    edges: Dict[Tuple[int, int], List[Tuple[int, int]]] = {}
    for keep, (x0, y0, x1, y1) in (
            (inner & ~m[:-2, 1:-1], (0, 0, 1, 0)),    # top edges, going +x
            (inner & ~m[1:-1, 2:], (1, 0, 1, 1)),     # right edges, +y
            (inner & ~m[2:, 1:-1], (1, 1, 0, 1)),     # bottom edges, -x
            (inner & ~m[1:-1, :-2], (0, 1, 0, 0))):   # left edges, -y
        rows, cols = np.nonzero(keep)
        for r, c in zip(rows.tolist(), cols.tolist()):
            edges.setdefault((c + x0, r + y0), []).append((c + x1, r + y1))
    if not edges:
        return None
    start = min(edges)
    loop = [start]
    prev, cur = start, edges[start].pop()
    if not edges[start]:
        del edges[start]
    while cur != start:
        nexts = edges.get(cur)
        if not nexts:  # cannot happen for a well-formed edge set
            return None
        if len(nexts) == 1:
            nxt = nexts.pop()
        else:
            # Two regions touch at a corner: turn right, staying on the
            # pixel we came along (4-connectivity).
            dx, dy = cur[0] - prev[0], cur[1] - prev[1]
            nxt = (cur[0] - dy, cur[1] + dx)
            nexts.remove(nxt)
        if not nexts:
            del edges[cur]
        loop.append(cur)
        prev, cur = cur, nxt
    # Edges left over mean holes or more regions; repeated corners pinches.
    if edges or len(set(loop)) != len(loop):
        return None
    corners = []
    n = len(loop)
    for i, p in enumerate(loop):
        a, b = loop[i - 1], loop[(i + 1) % n]
        if (p[0] - a[0]) * (b[1] - p[1]) != (p[1] - a[1]) * (b[0] - p[0]):
            corners.append(p)
    return [float(v) for p in corners for v in p]


def _shape_mask(category: str, hw: Tuple[int, int],
                rng: np.random.Generator) -> np.ndarray:
    h, w = hw
    side = min(h, w)
    radius = rng.uniform(0.1, 0.22) * side
    cx = rng.uniform(radius * 0.6, w - radius * 0.6)
    cy = rng.uniform(radius * 0.6, h - radius * 0.6)
    canvas = Image.new('L', (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    if category == 'disk':
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius],
                     fill=1)
    else:
        corners = 4 if category == 'square' else 3
        turn = rng.uniform(0, 2 * np.pi)
        angles = turn + 2 * np.pi * np.arange(corners) / corners
        # Circumradius: squares keep the area of the disk roughly.
        scale = radius * (1.25 if corners == 4 else 1.35)
        draw.polygon([(cx + scale * np.cos(a), cy + scale * np.sin(a))
                      for a in angles], fill=1)
    return np.asarray(canvas, dtype=bool)


def _visible(masks: List[np.ndarray]) -> List[np.ndarray]:
    """Visible part of each mask when later masks are drawn on top."""
    covered = np.zeros_like(masks[0])
    out = []
    for mask in reversed(masks):
        out.append(mask & ~covered)
        covered |= mask
    return out[::-1]


def _layout_ok(masks: List[np.ndarray]) -> Optional[List[List[float]]]:
    polygons = []
    for full, vis in zip(masks, _visible(masks)):
        area = int(vis.sum())
        if area < _MIN_PIXELS or area < _MIN_VISIBLE * full.sum():
            return None
        polygon = mask_to_polygon(vis)
        if polygon is None:
            return None
        polygons.append(polygon)
    return polygons


def _draw_coco_sample(hw: Tuple[int, int], rng: np.random.Generator):
    """An image and its objects: (category index, visible mask, polygon)."""
    h, w = hw
    classes = SHAPES_COCO_METAINFO['classes']
    cats: List[int] = []
    masks: List[np.ndarray] = []
    polygons: List[List[float]] = []
    wanted = int(rng.integers(2, 6))
    # Random placements; one that hides too much of an object, splits it or
    # is too small is dropped. The first object nearly always fits.
    for _ in range(wanted * _TRIES):
        if len(cats) == wanted:
            break
        cat = int(rng.integers(len(classes)))
        mask = _shape_mask(classes[cat], hw, rng)
        found = _layout_ok(masks + [mask])
        if found is not None:
            cats.append(cat)
            masks.append(mask)
            polygons = found
    background = rng.uniform(70, 180, 3) + 25 * _texture(
        'noise', max(h, w), rng)[:h, :w, None]
    image = background.astype(np.float32)
    for cat, mask in zip(cats, masks):  # later objects on top
        colour, kind = _COCO_STYLES[classes[cat]]
        tex = _texture(kind, max(h, w), rng, periods=(4, 8))[:h, :w, None]
        layer = np.asarray(colour, np.float32) + rng.uniform(-30, 30, 3) + \
            40 * tex
        image[mask] = layer[mask]
    image += rng.normal(0, 6, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    return image, list(zip(cats, _visible(masks), polygons))


def _object_annotation(ann_id: int, image_id: int, cat: int,
                       mask: np.ndarray, polygon: List[float]) -> dict:
    """The COCO annotation of one object's visible region.

    Args:
        ann_id (int): Annotation id.
        image_id (int): Id of its image.
        cat (int): Category index (COCO ids start at 1).
        mask (np.ndarray): (H, W) bool visible region.
        polygon (list[float]): Its outline (:func:`mask_to_polygon`).

    Returns:
        dict: ``id``, ``image_id``, ``category_id``, ``bbox`` (``[x, y, w,
        h]`` of the region), ``area`` (its pixels), ``iscrowd=0`` and
        ``segmentation``.
    """
    rows, cols = np.nonzero(mask)
    x0, y0 = int(cols.min()), int(rows.min())
    return dict(id=ann_id, image_id=image_id, category_id=cat + 1,
                bbox=[float(x0), float(y0), float(cols.max() + 1 - x0),
                      float(rows.max() + 1 - y0)],
                area=float(mask.sum()), iscrowd=0, segmentation=[polygon])


def _write_coco_split(root: str, split: str, count: int,
                      hw: Tuple[int, int], rng: np.random.Generator,
                      next_image: int, next_ann: int
                      ) -> Tuple[List[dict], List[dict], int, int]:
    """Draw and save the images of one split.

    Args:
        root (str): Dataset folder; images go to ``root/split``.
        split (str): ``'train2017'`` or ``'val2017'``.
        count (int): Images to draw.
        hw (tuple[int, int]): Image ``(h, w)``.
        rng (np.random.Generator): Shared by all splits, in order.
        next_image (int): Id of the split's first image (ids go on across
            splits).
        next_ann (int): Id of its first annotation.

    Returns:
        tuple[list[dict], list[dict], int, int]: The split's ``images`` and
        ``annotations`` entries, and the next free image and annotation
        ids.
    """
    os.makedirs(osp.join(root, split), exist_ok=True)
    images, annotations = [], []
    for _ in range(count):
        image, objects = _draw_coco_sample(hw, rng)
        file_name = f'{next_image:012d}.jpg'
        Image.fromarray(image).save(
            osp.join(root, split, file_name), quality=95)
        images.append(
            dict(id=next_image, file_name=file_name, height=hw[0],
                 width=hw[1]))
        for cat, mask, polygon in objects:
            annotations.append(_object_annotation(next_ann, next_image, cat,
                                                  mask, polygon))
            next_ann += 1
        next_image += 1
    return images, annotations, next_image, next_ann


def _write_shapes_coco(root: str, num_train: int, num_val: int,
                       hw: Tuple[int, int], seed: int) -> None:
    """Write both splits and their annotation files (see
    :func:`make_shapes_coco`), all drawn from one generator.

    Args:
        root (str): Dataset folder.
        num_train (int): Training images.
        num_val (int): Validation images.
        hw (tuple[int, int]): Image ``(h, w)``.
        seed (int): Seed of the generator.
    """
    rng = np.random.default_rng(seed)
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(SHAPES_COCO_METAINFO['classes'])
    ]
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    next_image, next_ann = 1, 1
    for split, count in (('train2017', num_train), ('val2017', num_val)):
        images, annotations, next_image, next_ann = _write_coco_split(
            root, split, count, hw, rng, next_image, next_ann)
        with open(
                osp.join(root, 'annotations',
                         f'instances_{split}.json'), 'w') as f:
            json.dump(
                dict(info=dict(description='lkmm generated shapes',
                               version='1.0'),
                     licenses=[], images=images, annotations=annotations,
                     categories=categories), f)


def make_shapes_coco(root: str,
                     num_train: int = 64,
                     num_val: int = 16,
                     size: Union[int, Tuple[int, int]] = 96,
                     seed: int = 0) -> str:
    """Write a shapes instance segmentation set in COCO format.

    Layout (as mmdet's ``CocoDataset`` reads it, with
    ``metainfo=SHAPES_COCO_METAINFO``, ``ann_file`` and
    ``data_prefix=dict(img=...)``)::

        root/train2017/000000000001.jpg ...
        root/val2017/000000000065.jpg ...       (ids go on after train)
        root/annotations/instances_train2017.json
        root/annotations/instances_val2017.json

    Each JSON holds ``images`` (id, file_name, height, width),
    ``annotations`` (id, image_id, category_id, ``bbox`` as ``[x, y, w, h]``,
    ``area`` in pixels, ``iscrowd=0``, ``segmentation`` as one polygon
    ``[[x0, y0, x1, y1, ...]]``) and ``categories`` (ids 1.. for the classes
    of :data:`SHAPES_COCO_METAINFO`). Two to five objects an image; they may
    overlap, and the annotations describe the visible parts (at least 60% of
    each shape). Existing complete datasets with the same settings are kept.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 64.
        num_val (int): Validation images. Defaults to 16.
        size (int | tuple[int, int]): Image side, or ``(h, w)``, in pixels
            (at least 32). Defaults to 96.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    _check_count('num_train', num_train)
    _check_count('num_val', num_val)
    hw = _check_size(size, 32)
    _check_seed(seed)
    return _write_once(
        root, 'lkmm_shapes_coco.txt',
        dict(num_train=num_train, num_val=num_val, size=f'{hw[0]}x{hw[1]}',
             seed=seed),
        partial(_write_shapes_coco, root, num_train, num_val, hw, seed))
