"""Argument checks shared by :class:`~.masks.SparseMasks`, the prune-rate
schedule and :class:`~.hook.DynamicSparsityHook`.

Each raises ``ValueError`` naming the offending argument, so a bad config
fails when the hook is built rather than when training starts.
"""
import numbers
import re
from typing import List, Optional, Sequence, Union

#: ``include`` / ``exclude`` of :class:`~.masks.SparseMasks`: a regex, a
#: list of them, or None.
PatternType = Optional[Union[str, Sequence[str]]]


def check_sparsity(sparsity, owner: str) -> float:
    """Validate a sparsity target.

    Args:
        sparsity (float): Fraction of the selected weights set to zero.
        owner (str): Name of the class checking it, for the message.

    Returns:
        float: ``sparsity`` as a float in [0, 1).
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity,
                                                    numbers.Real):
        raise ValueError(f'{owner} sparsity must be a number in [0, 1), got '
                         f'{sparsity!r}')
    if not 0 <= sparsity < 1:
        raise ValueError(f'{owner} sparsity must be in [0, 1) (the fraction '
                         f'of sparsified weights set to zero), got '
                         f'{sparsity}')
    return float(sparsity)


def check_choice(value, allowed: Sequence[str], field: str) -> str:
    """Validate that ``value`` is one of ``allowed``.

    Args:
        value (str): The given value.
        allowed (Sequence[str]): The accepted values.
        field (str): Name of the argument, for the message.

    Returns:
        str: ``value``.
    """
    if value not in allowed:
        raise ValueError(f'{field} must be one of {list(allowed)}, got '
                         f'{value!r}')
    return value


def compile_patterns(patterns: PatternType, field: str) -> List[re.Pattern]:
    """Compile parameter-name regexes.

    Args:
        patterns (str | Sequence[str], optional): A regex or a list of them.
        field (str): Name of the argument, for the message.

    Returns:
        list[re.Pattern]: The compiled regexes (empty for None).
    """
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f'{field} must be a regex string or a list of '
                             f'them, got {pattern!r}')
        try:
            compiled.append(re.compile(pattern))
        except re.error as err:
            raise ValueError(f'{field} has an invalid regex {pattern!r}: '
                             f'{err}') from err
    return compiled


def type_names(module_types) -> Optional[List[Union[type, str]]]:
    """Normalize ``module_types`` of :class:`~.masks.SparseMasks`.

    Args:
        module_types (type | str | Sequence[type | str], optional): Module
            classes or class names (a dotted path keeps its last part).

    Returns:
        list[type | str] | None: Classes and bare class names, or None.
    """
    if module_types is None:
        return None
    if isinstance(module_types, (str, type)):
        module_types = [module_types]
    out = []
    for t in module_types:
        if isinstance(t, type):
            out.append(t)
        elif isinstance(t, str) and t:
            # 'torch.nn.Conv2d' and 'Conv2d' both name nn.Conv2d.
            out.append(t.rsplit('.', 1)[-1])
        else:
            raise ValueError('module_types must hold classes or class names, '
                             f'got {t!r}')
    return out


def check_selection(min_ndim, dense_threshold) -> None:
    """Validate ``min_ndim`` and ``dense_threshold`` of
    :class:`~.masks.SparseMasks`.

    Args:
        min_ndim (int): Smallest number of dimensions of a selected
            parameter, >= 1.
        dense_threshold (float): Density from which a layer stays dense,
            in (0, 1].
    """
    if isinstance(min_ndim, bool) or not isinstance(min_ndim, int) \
            or min_ndim < 1:
        raise ValueError(f'min_ndim must be an int >= 1, got {min_ndim!r}')
    if isinstance(dense_threshold, bool) or not (
            isinstance(dense_threshold, numbers.Real)
            and 0 < dense_threshold <= 1):
        raise ValueError('dense_threshold must be in (0, 1], got '
                         f'{dense_threshold!r}')
