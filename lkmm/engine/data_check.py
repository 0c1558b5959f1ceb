"""Check that the datasets a config uses are where it says, before the
Runner starts.

Without it, a published config run without its dataset ends, after the
environment and config dumps, in a raw ``FileNotFoundError`` from inside
the library's dataset class. :func:`check_data_roots` stops first, with one
message naming the dataset, the expected path and the ``--cfg-options``
keys that move it.
"""
import os.path as osp
from typing import Dict, Iterator, List, Sequence, Tuple

__all__ = ['DatasetNotFoundError', 'find_missing_data', 'check_data_roots']

#: lkmm's generated datasets (demo and tests) and the task that writes
#: each with ``tools/misc/make_demo_data.py``.
_GENERATED = {
    'data/lkmm_shapes': 'segmentation',
    'data/lkmm_shapes_cls': 'classification',
    'data/lkmm_shapes_cityscapes': 'cityscapes',
    'data/lkmm_shapes_coco': 'coco',
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset a config uses is not where the config says."""


def _datasets(node, path: str) -> Iterator[Tuple[str, dict]]:
    """``(config path, dataset dict)`` of every leaf dataset under a
    dataloader's ``dataset`` (through wrappers such as RepeatDataset and
    ConcatDataset)."""
    if not isinstance(node, dict):
        return
    if isinstance(node.get('dataset'), dict):
        yield from _datasets(node['dataset'], f'{path}.dataset')
    elif isinstance(node.get('datasets'), (list, tuple)):
        for i, child in enumerate(node['datasets']):
            yield from _datasets(child, f'{path}.datasets.{i}')
    else:
        yield path, node


def _expected_paths(dataset: dict) -> List[str]:
    """The paths a dataset dict reads: its root, then its annotation file,
    image folders and split."""
    root = dataset.get('data_root') or ''
    paths = [root] if root else []

    def under_root(rel):
        return rel if osp.isabs(rel) or not root else osp.join(root, rel)

    if dataset.get('ann_file'):
        paths.append(under_root(dataset['ann_file']))
    prefix = dataset.get('data_prefix')
    if isinstance(prefix, dict):
        paths += [under_root(p) for p in prefix.values()
                  if isinstance(p, str) and p]
    elif isinstance(prefix, str) and prefix:
        paths.append(under_root(prefix))
    split = dataset.get('split')
    if isinstance(split, str) and split and not dataset.get('ann_file') \
            and not prefix and root:
        # mmpretrain's ImageNet: ROOT/meta/SPLIT.txt, else ROOT/SPLIT/.
        meta = osp.join(root, 'meta', f'{split}.txt')
        paths.append(meta if osp.isfile(meta) else osp.join(root, split))
    return paths


def find_missing_data(
    cfg, dataloaders: Sequence[str] = ('train_dataloader', 'val_dataloader',
                                       'test_dataloader')
) -> List[Dict[str, str]]:
    """The datasets of ``cfg`` whose files are missing.

    Args:
        cfg (Config): A config.
        dataloaders (Sequence[str]): The dataloaders to check (those a run
            uses: train and val for training, test for testing).

    Returns:
        list[dict]: One entry per missing dataset: ``type``, ``path`` (the
        first missing path), ``key`` (the config key of its ``data_root``,
        or of the dataset when it has none).
    """
    missing = []
    for loader in dataloaders:
        node = cfg.get(loader)
        if not isinstance(node, dict):
            continue
        for path, dataset in _datasets(node.get('dataset'),
                                       f'{loader}.dataset'):
            absent = next((p for p in _expected_paths(dataset)
                           if not osp.exists(p)), None)
            if absent is not None:
                missing.append(dict(
                    type=str(dataset.get('type', 'dataset')), path=absent,
                    root=dataset.get('data_root') or '',
                    key=f'{path}.data_root'))
    return missing


def check_data_roots(
    cfg, dataloaders: Sequence[str] = ('train_dataloader', 'val_dataloader',
                                       'test_dataloader')
) -> None:
    """Stop, with one message, when a dataset of ``cfg`` is missing.

    Args:
        cfg (Config): A config.
        dataloaders (Sequence[str]): The dataloaders a run uses.

    Raises:
        DatasetNotFoundError: naming the dataset, the expected path and the
            ``--cfg-options`` keys that point the config elsewhere.
    """
    missing = find_missing_data(cfg, dataloaders)
    if not missing:
        return
    first = missing[0]
    # Every missing dataset reading the same root moves with one option
    # per dataloader.
    keys = [m['key'] for m in missing if m['root'] == first['root']]
    options = ' '.join(f'{key}=PATH' for key in dict.fromkeys(keys))
    where = f"data root '{first['root']}'" if first['root'] else 'path'
    lines = [
        f"{first['type']} not found: {first['path']} does not exist "
        f"({where}, from {first['key']}).",
        f'Put the dataset there (cwd: {osp.abspath(".")}), or point the '
        f'config to it: --cfg-options {options}'
    ]
    task = _GENERATED.get(first['root'].rstrip('/'))
    if task:
        lines.append('This dataset is generated: python '
                     f'tools/misc/make_demo_data.py --task {task} --root '
                     f'{first["root"].rstrip("/")}')
    others = [m for m in missing if m['root'] != first['root']]
    if others:
        lines.append('Also missing: ' + '; '.join(
            f"{m['type']} at {m['path']} ({m['key']})" for m in others))
    raise DatasetNotFoundError('\n'.join(lines))

