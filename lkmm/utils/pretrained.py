"""The one check for a ``Pretrained`` init whose checkpoint is unset.

The published fine-tuning configs leave the checkpoint None on purpose (the
path is the user's); mmengine would fail later with an unrelated TypeError,
or a backbone built outside lkmm's tools would train from random weights.
``tools/train.py`` checks the whole config first; every lkmm backbone checks
its own ``init_cfg`` again in ``init_weights`` (for other launchers).
"""
import os.path as osp
import zipfile
from typing import List, Optional

from mmengine.config import Config

__all__ = ['find_unset_pretrained', 'check_pretrained_set',
           'checkpoint_file_problem']


def find_unset_pretrained(node, path: str = 'model') -> List[str]:
    """Config paths of ``Pretrained`` init entries without a checkpoint.

    Args:
        node: A config (sub)tree, normally ``cfg.model``.
        path (str): The dotted path of ``node``. Defaults to ``'model'``.

    Returns:
        list[str]: e.g. ``['model.backbone.init_cfg.checkpoint']``.
    """
    found = []
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained' and not node.get('checkpoint'):
            found.append(f'{path}.checkpoint')
        for key, value in node.items():
            found += find_unset_pretrained(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found += find_unset_pretrained(value, f'{path}.{i}')
    return found


def check_pretrained_set(node, path: str = 'model') -> None:
    """Refuse a ``Pretrained`` init entry without a checkpoint.

    Args:
        node: A whole :class:`~mmengine.config.Config` (its ``model`` is
            checked), or a config subtree such as a backbone's
            ``init_cfg``.
        path (str): The dotted config path of ``node``, used to name the
            ``--cfg-options`` key. Defaults to ``'model'``.

    Raises:
        ValueError: naming each ``--cfg-options`` key to set.
    """
    if isinstance(node, Config):
        node = node.get('model', {})
    missing = find_unset_pretrained(node, path)
    if missing:
        options = ' '.join(f'{key}=PATH' for key in missing)
        raise ValueError(
            'a Pretrained init_cfg is set but its "checkpoint" is not set: '
            f'pass --cfg-options {options} (an lkmm checkpoint, or one '
            'converted by tools/model_converters/), or set the init_cfg to '
            'None to train from scratch')


# What a torch.save file starts with: a zip archive (torch >= 1.6) or the
# legacy pickle (protocol 2, then torch's magic number).
_ZIP_MAGIC = b'PK\x03\x04'
_LEGACY_MAGIC = b'\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19'


def checkpoint_file_problem(path: str) -> Optional[str]:
    """What makes a local checkpoint file unreadable, or None.

    Reads the first bytes and the zip directory only, so it is cheap for
    large files. URLs and other schemes are left to their loaders.

    Args:
        path (str): The checkpoint path.

    Returns:
        str | None: One message per case: missing, empty, truncated (an
        incomplete zip archive) or not a checkpoint at all.
    """
    if not isinstance(path, str) or '://' in path:
        return None
    if not osp.isfile(path):
        return f'checkpoint not found: {path}'
    if osp.getsize(path) == 0:
        return (f'checkpoint {path} is empty (0 bytes): the download or '
                'copy did not finish')
    with open(path, 'rb') as f:
        head = f.read(16)
    if path.endswith('.safetensors'):
        return None  # read by its own loader
    if head.startswith(_ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            return (f'checkpoint {path} is truncated or corrupt (an '
                    f'incomplete zip archive, {osp.getsize(path)} bytes): '
                    'download or copy it again')
        return None
    if head.startswith(_LEGACY_MAGIC):
        return None
    return (f'{path} is not a PyTorch checkpoint (it starts with '
            f'{head[:8]!r}; a torch.save file starts with a zip or pickle '
            'header)')
