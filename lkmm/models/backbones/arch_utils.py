"""Arch specs and argument checks shared by lkmm's backbones (errors name
the field and the allowed values)."""
import copy
from dataclasses import dataclass
from typing import Any, Dict, Sequence, Tuple, Union


class _Required:
    """Marks an :class:`ArchField` without a default (a custom arch dict
    must give it)."""

    def __repr__(self) -> str:
        return 'REQUIRED'


#: The default of an :class:`ArchField` a custom arch dict must give.
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class ArchField:
    """One key of a backbone's ``arch`` dict.

    Args:
        name (str): The key.
        default: Its value where a custom arch dict leaves it out;
            :data:`REQUIRED` (the default) where it must be given.
        per_stage (bool): It holds one entry per stage (the first such
            field of an :class:`ArchSpec` gives the stage count).
            Defaults to False.
        positive_ints (bool): Every entry is a positive int.
            Defaults to False.
    """
    name: str
    default: Any = REQUIRED
    per_stage: bool = False
    positive_ints: bool = False

    @property
    def required(self) -> bool:
        """Whether a custom arch dict must give this key."""
        return self.default is REQUIRED


class ArchSpec:
    """The keys of one backbone family's ``arch`` dict, declared once
    (read by :meth:`~.base.LargeKernelBackbone.parse_arch`).

    Args:
        *fields (ArchField): The keys, in the order messages list them.

    Raises:
        ValueError: Two fields share a name, or none is per stage.
    """

    def __init__(self, *fields: ArchField):
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ValueError(f'ArchSpec fields must be unique, got {names}')
        if not any(f.per_stage for f in fields):
            raise ValueError('ArchSpec needs a per-stage field (it gives the '
                             'stage count)')
        self.fields: Tuple[ArchField, ...] = tuple(fields)

    def __repr__(self) -> str:
        return f'ArchSpec{self.fields!r}'

    @property
    def keys(self) -> Tuple[str, ...]:
        """Every key a custom arch dict may have."""
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> Tuple[str, ...]:
        """The keys a custom arch dict must have."""
        return tuple(f.name for f in self.fields if f.required)

    @property
    def defaults(self) -> Dict[str, Any]:
        """A fresh copy of the defaults of the other keys."""
        return {f.name: copy.deepcopy(f.default) for f in self.fields
                if not f.required}

    @property
    def per_stage(self) -> Tuple[str, ...]:
        """The keys holding one entry per stage."""
        return tuple(f.name for f in self.fields if f.per_stage)

    @property
    def positive_ints(self) -> Tuple[str, ...]:
        """The keys whose entries are positive ints."""
        return tuple(f.name for f in self.fields if f.positive_ints)

    def parse(self, backbone: str, arch: Union[str, dict],
              zoo: Dict[str, dict]) -> dict:
        """The full settings of ``arch``: a zoo entry or a custom dict,
        checked against the spec, defaults filled in (all copies).

        Args:
            backbone (str): Backbone name for the messages.
            arch (str | dict): A name in ``zoo`` or a dict.
            zoo (dict): Named archs.

        Returns:
            dict: Every key of the spec.

        Raises:
            ValueError: An unknown name or key, a missing key, per-stage
                fields of different lengths or entries that are not
                positive ints, naming the field.
        """
        arch = lookup_arch(backbone, arch, zoo, self.keys, self.required)
        settings = self.defaults
        settings.update(copy.deepcopy(arch))
        check_same_length(settings, self.per_stage)
        for key in self.positive_ints:
            check_positive_ints(key, settings[key])
        return settings

    def num_stages(self, settings: dict) -> int:
        """The stage count of parsed ``settings``."""
        return len(settings[self.per_stage[0]])


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
