"""Argument checks shared by lkmm's backbones (errors name the field and
the allowed values)."""
from typing import Dict, Sequence, Tuple, Union


def parse_out_indices(out_indices: Union[int, Sequence[int]],
                      num_stages: int) -> Tuple[int, ...]:
    """``out_indices`` as a tuple of stage indices in ``[0, num_stages)``.

    Args:
        out_indices (int | Sequence[int]): Stage indices, negative ones
            counting from the end.
        num_stages (int): Number of stages.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    if not isinstance(out_indices, Sequence) or not out_indices:
        raise ValueError('out_indices must be an int or a non-empty '
                         f'sequence of ints, got {out_indices!r}')
    parsed = []
    for index in out_indices:
        if not isinstance(index, int) or not (
                -num_stages <= index < num_stages):
            raise ValueError(
                f'out_indices entries must be ints in [{-num_stages}, '
                f'{num_stages - 1}], got {index!r}')
        parsed.append(index % num_stages)
    return tuple(parsed)


def check_odd_positive(name: str, values: Sequence[int]) -> None:
    """Every entry of arch field ``name`` is a positive odd int."""
    if any(not isinstance(k, int) or k < 1 or k % 2 != 1 for k in values):
        raise ValueError(f'arch "{name}" must hold positive odd integers, '
                         f'got {values}')


def check_positive_ints(name: str, values: Sequence[int]) -> None:
    """Every entry of arch field ``name`` is a positive int."""
    if any(not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f'arch "{name}" must hold positive integers, '
                         f'got {values}')


def check_same_length(settings: Dict[str, Sequence], keys: Sequence[str]
                      ) -> int:
    """The per-stage arch fields ``keys`` have one entry per stage.

    Returns:
        int: The number of stages.
    """
    lengths = {k: len(settings[k]) for k in keys}
    if len(set(lengths.values())) != 1:
        names = ', '.join(f'"{k}"' for k in keys)
        raise ValueError(f'arch {names} must have the same length, got '
                         f'lengths {lengths}')
    return lengths[keys[0]]


def lookup_arch(backbone: str, arch: Union[str, dict], zoo: dict,
                keys: Sequence[str], required: Sequence[str]) -> dict:
    """The arch dict for a zoo name or a custom dict, with unknown names,
    unknown keys and missing keys refused.

    Args:
        backbone (str): Backbone name for the messages.
        arch (str | dict): A zoo name or a dict.
        zoo (dict): Named archs.
        keys (Sequence[str]): Allowed keys of a custom dict.
        required (Sequence[str]): Keys a custom dict must have.

    Returns:
        dict: The (not yet copied) arch dict.
    """
    if isinstance(arch, str):
        if arch not in zoo:
            raise ValueError(
                f'Unknown arch "{arch}" for {backbone}; choose one of '
                f'{sorted(zoo)} or pass a dict with keys {list(keys)}')
        return zoo[arch]
    if not isinstance(arch, dict):
        raise ValueError(
            f'arch must be a str or a dict, got {type(arch).__name__}')
    unknown = set(arch) - set(keys)
    if unknown:
        raise ValueError(f'Unknown arch keys {sorted(unknown)}; allowed keys '
                         f'are {list(keys)}')
    missing = set(required) - set(arch)
    if missing:
        raise ValueError(f'arch dict is missing keys {sorted(missing)}')
    return arch


def check_choice(name: str, value, choices: Sequence) -> None:
    """Arch field ``name`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f'arch "{name}" must be one of {tuple(choices)}, '
                         f'got {value!r}')
