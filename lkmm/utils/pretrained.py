"""The one check for a ``Pretrained`` init whose checkpoint is unset.

The published fine-tuning configs leave the checkpoint None on purpose (the
path is the user's); mmengine would fail later with an unrelated TypeError,
or a backbone built outside lkmm's tools would train from random weights.
``tools/train.py`` checks the whole config first; every lkmm backbone checks
its own ``init_cfg`` again in ``init_weights`` (for other launchers).
"""
from typing import List

from mmengine.config import Config

__all__ = ['find_unset_pretrained', 'check_pretrained_set']


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
