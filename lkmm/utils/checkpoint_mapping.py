"""Checkpoint mappings: how a family's foreign checkpoints become lkmm's.

Each family declares one :class:`CheckpointMapping` in the module beside
its backbone (timm's ``checkpoint_filter_fn`` idea: pure functions from
state dict to state dict) and registers it. The pretrained check asks the
registry which family a foreign file belongs to
(:func:`find_checkpoint_mapping`); the converter tool converts any
registered family. Nothing here builds a model.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .state_dict import compare_state_dict_with_model, extract_state_dict

__all__ = [
    'TARGETS', 'ConversionReport', 'CheckpointMapping', 'KeyMapper',
    'register_checkpoint_mapping', 'checkpoint_mappings',
    'get_checkpoint_mapping', 'find_checkpoint_mapping', 'check_choice',
    'head_num_classes', 'fill_bn_counters', 'released_layout',
    'map_released_keys', 'released_source_prefix', 'check_against_model',
    'require_key', 'key_indices', 'detect_released_layout'
]

#: What a conversion produces: an mmpretrain ``ImageClassifier``'s keys
#: (``backbone.*``, ``head.fc.*``) or a bare backbone's.
TARGETS = ('classifier', 'backbone')


@dataclass
class ConversionReport:
    """What a conversion did, key by key.

    Attributes:
        src_format (str): Source layout (family specific).
        target (str): ``'classifier'`` or ``'backbone'``.
        num_tensors (int): Tensors in the converted state dict.
        unknown (list[str]): Source keys that could not be mapped.
        dropped (list[str]): Source keys left out on purpose (the head when
            converting to a bare backbone).
        filled (list[str]): Target keys created because the source lacked
            them (BN ``num_batches_tracked``, set to 0).
        missing (list[str]): Target keys without a value.
        unexpected (list[str]): Converted keys a checked model lacks.
        mismatched (list[str]): ``'key: checkpoint shape vs model shape'``.
        matched (list[str]): ``'source key -> target key'`` per used key.
        reshaped (list[str]): ``'source -> target: shape -> shape'`` for
            tensors whose layout changed on the way.
        notes (list[str]): Why particular keys are unknown or missing.
    """
    src_format: str
    target: str
    num_tensors: int = 0
    unknown: List[str] = field(default_factory=list)
    dropped: List[str] = field(default_factory=list)
    filled: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    matched: List[str] = field(default_factory=list)
    reshaped: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every source key was used and nothing is missing."""
        return not (self.unknown or self.missing or self.unexpected
                    or self.mismatched)

    def summary(self) -> str:
        """The report as lines of text, listing keys by name."""
        lines = [f'{self.src_format} -> lkmm {self.target}: '
                 f'{self.num_tensors} tensors']
        if self.matched:
            lines.append(f'matched source keys: {len(self.matched)}')
        for name in ('reshaped', 'unknown', 'dropped', 'filled', 'missing',
                     'unexpected', 'mismatched'):
            keys = getattr(self, name)
            if keys:
                lines.append(f'{name} keys ({len(keys)}):')
                lines += [f'  {k}' for k in keys]
        if self.notes:
            lines.append('notes:')
            lines += [f'  {n}' for n in self.notes]
        return '\n'.join(lines)


@dataclass(frozen=True)
class CheckpointMapping:
    """One family's conversion from foreign checkpoint layouts.

    Attributes:
        name (str): Family name, as the converter tool's ``--family``.
        model (str): The lkmm registry name the weights are for.
        source (str): What the foreign checkpoints are, for messages.
        formats (tuple[str]): Source layouts ``convert`` accepts.
        foreign_formats (tuple[str]): Those of ``formats`` that are not
            lkmm's own (a file in them needs converting before loading).
        detect (callable): ``detect(state_dict) -> format``; raises
            ValueError when the keys are not this family's.
        convert (callable): ``convert(checkpoint, src_format=None,
            target='classifier', use_ema=False) -> (state_dict, report)``.
        infer_kwargs (callable): ``infer_kwargs(state_dict, report) ->
            dict`` of the ``model``'s constructor arguments that fit.
        classifier_neck (dict, optional): The ``ImageClassifier`` neck of
            the ``'classifier'`` target; None where the backbone pools.
        ema_key (str, optional): The checkpoint key of EMA weights; None
            when the family's releases have none.
    """
    name: str
    model: str
    source: str
    formats: Tuple[str, ...]
    foreign_formats: Tuple[str, ...]
    detect: Callable[[Mapping], str]
    convert: Callable
    infer_kwargs: Callable[[Mapping, ConversionReport], dict]
    classifier_neck: Optional[dict] = None
    ema_key: Optional[str] = None

    def recognise(self, state_dict: Mapping) -> Optional[str]:
        """The foreign format of ``state_dict``, or None (never raises)."""
        try:
            fmt = self.detect(state_dict)
        except ValueError:
            return None
        return fmt if fmt in self.foreign_formats else None


_MAPPINGS: Dict[str, CheckpointMapping] = {}


def register_checkpoint_mapping(mapping: CheckpointMapping
                                ) -> CheckpointMapping:
    """Make ``mapping`` known to the pretrained check and the converter.

    Returns:
        CheckpointMapping: ``mapping``.

    Raises:
        ValueError: Another mapping already has its name.
    """
    if _MAPPINGS.get(mapping.name, mapping) is not mapping:
        raise ValueError(f'a checkpoint mapping named {mapping.name!r} is '
                         'already registered')
    _MAPPINGS[mapping.name] = mapping
    return mapping


def checkpoint_mappings() -> Tuple[CheckpointMapping, ...]:
    """Every registered mapping, in registration order."""
    return tuple(_MAPPINGS.values())


def get_checkpoint_mapping(name: str) -> CheckpointMapping:
    """The mapping registered as ``name``.

    Raises:
        ValueError: naming the registered families.
    """
    if name not in _MAPPINGS:
        raise ValueError(f'unknown checkpoint family {name!r}; registered: '
                         f'{sorted(_MAPPINGS)}')
    return _MAPPINGS[name]


def find_checkpoint_mapping(state_dict: Mapping
                            ) -> Optional[Tuple[CheckpointMapping, str]]:
    """The registered family whose foreign layout ``state_dict`` is in.

    Returns:
        tuple | None: ``(mapping, format)``, or None for lkmm's own layout
        and for keys no family recognises.
    """
    for mapping in _MAPPINGS.values():
        fmt = mapping.recognise(state_dict)
        if fmt is not None:
            return mapping, fmt
    return None


def check_choice(value, allowed: Sequence, field_name: str):
    """``value`` when it is one of ``allowed``.

    Raises:
        ValueError: naming ``field_name`` and the allowed values.
    """
    if value not in allowed:
        raise ValueError(f'{field_name} must be one of {tuple(allowed)}, '
                         f'got {value!r}')
    return value


class KeyMapper:
    """Collects converted entries and refuses two sources for one key.

    Args:
        report (ConversionReport): Where each use is recorded.
        record (bool): List ``'source -> target'`` in ``report.matched``.
            Defaults to True.
    """

    def __init__(self, report: ConversionReport, record: bool = True):
        self.report = report
        self.record = record
        self.out: Dict[str, torch.Tensor] = OrderedDict()
        self._source_of: Dict[str, str] = {}

    def put(self, dst: str, src: str, value: torch.Tensor,
            original: Optional[torch.Tensor] = None) -> None:
        """Store ``value`` as ``dst``; ``original`` is the source tensor
        when the layout changed (recorded as reshaped).

        Raises:
            ValueError: ``dst`` already came from another source key.
        """
        if dst in self.out:
            raise ValueError(f'source keys {self._source_of[dst]!r} and '
                             f'{src!r} both map to {dst!r}')
        self.out[dst], self._source_of[dst] = value, src
        if self.record:
            self.report.matched.append(f'{src} -> {dst}')
        if original is not None:
            self.report.reshaped.append(
                f'{src} -> {dst}: {tuple(original.shape)} -> '
                f'{tuple(value.shape)}')


def head_num_classes(state_dict: Mapping) -> Optional[int]:
    """Rows of ``head.fc.weight`` in a converted state dict (None without
    a head): the classes of the classifier it fits."""
    weight = state_dict.get('head.fc.weight')
    return None if weight is None else int(weight.shape[0])


def fill_bn_counters(state_dict: Dict[str, torch.Tensor],
                     report: ConversionReport) -> None:
    """Add BN ``num_batches_tracked`` (0) where a converted state dict lacks
    it, listed in ``report.filled``: a strict load needs it, and its value
    only matters for ``momentum=None`` BN."""
    for key in [k for k in state_dict if k.endswith('.running_mean')]:
        counter = key[:-len('running_mean')] + 'num_batches_tracked'
        if counter not in state_dict:
            state_dict[counter] = torch.tensor(0, dtype=torch.long)
            report.filled.append(counter)


def detect_released_layout(state_dict: Mapping,
                           is_block: Callable[[str], bool],
                           dense_norm: re.Pattern, lkmm_block: re.Pattern,
                           names: Tuple[str, str, str, str]) -> str:
    """Which released layout of an authors' release a state dict is in.

    Args:
        state_dict (Mapping): A state dict or a whole checkpoint.
        is_block (callable): Whether a key (without ``backbone.``) is one of
            the release's block keys.
        dense_norm (re.Pattern): The dense backbone's output-norm keys.
        lkmm_block (re.Pattern): lkmm's own block keys (refused here).
        names (tuple[str]): For messages: the family, lkmm's model name, an
            lkmm block key and a released block key.

    Returns:
        str: ``'classification'`` or ``'dense'`` (see
        :func:`released_layout`).

    Raises:
        ValueError: no released block key (naming the ones expected), the
            keys are lkmm's already, or the layouts are mixed.
    """
    family, model, lkmm_example, example = names
    keys = list(extract_state_dict(state_dict))
    bare = any(is_block(k) for k in keys if not k.startswith('backbone.'))
    prefixed = any(is_block(k[len('backbone.'):]) for k in keys
                   if k.startswith('backbone.'))
    layout = released_layout(keys, bare, prefixed, dense_norm, family)
    if layout is not None:
        return layout
    if any(lkmm_block.match(k) for k in keys):
        raise ValueError(
            f'this is already an lkmm {model} state dict (keys like '
            f"'{lkmm_example}'); load it directly")
    raise ValueError(
        f'not a released {family} checkpoint: found no block keys like '
        f"'{example}' (ImageNet model) or 'backbone.{example}' (its mmseg "
        f'/ mmdet backbone); first keys are {keys[:5]}')


def released_layout(keys: Sequence[str], bare: bool, prefixed: bool,
                    dense_norm, family: str) -> Optional[str]:
    """Which released layout holds the block keys found: the ImageNet model
    or the mmseg/mmdet backbone.

    Args:
        keys (Sequence[str]): The state dict's keys.
        bare (bool): Released block keys without prefix were found.
        prefixed (bool): Released block keys under ``backbone.`` were found.
        dense_norm (re.Pattern): The dense backbone's output-norm keys.
        family (str): Model name for the message.

    Returns:
        str | None: ``'dense'`` (``backbone.`` keys, or bare keys with
        output norms and no head), ``'classification'``, or None when no
        released block key was found.

    Raises:
        ValueError: bare and ``backbone.`` layouts are mixed.
    """
    if bare and prefixed:
        raise ValueError(f'the state dict mixes released {family} layouts '
                         "('stages.*' and 'backbone.stages.*'); convert one "
                         'model at a time')
    if prefixed:
        return 'dense'
    if bare:
        has_head = any(k in ('norm.weight', 'head.weight') for k in keys)
        dense_norms = any(dense_norm.fullmatch(k) for k in keys)
        return 'dense' if dense_norms and not has_head else 'classification'
    return None


#: ``map_name(src, name, value)`` of :func:`map_released_keys`: the lkmm
#: name (without target prefix) and value, and whether the value's layout
#: changed; None for a key the family does not know.
NameMap = Callable[[str, str, torch.Tensor],
                   Optional[Tuple[str, torch.Tensor, bool]]]


def released_source_prefix(state_dict: Mapping, src_format: str) -> str:
    """``'backbone.'`` where a dense checkpoint keeps the backbone under
    it (a segmentor / detector; bare when saved from the backbone)."""
    if src_format == 'dense' and any(
            k.startswith('backbone.') for k in state_dict):
        return 'backbone.'
    return ''


def _released_name(name: str, classification: bool, last: int,
                   dense_norm: re.Pattern) -> Optional[str]:
    """The lkmm name of a release's output norm, or None: the pooled
    ``norm`` (an nn.LayerNorm on the pooled features) is lkmm's last-stage
    norm with ``gap_before_final_norm=True``; a dense backbone's ``norm{i}``
    keeps its name."""
    pooled = re.fullmatch(r'norm\.(weight|bias)', name)
    if classification and pooled:
        return f'norm{last}.{pooled.group(1)}'
    if not classification and dense_norm.fullmatch(name):
        return name
    return None


def map_released_keys(state_dict: Mapping, report: ConversionReport,
                      last: int, map_name: NameMap, dense_norm: re.Pattern,
                      family: str) -> Dict[str, torch.Tensor]:
    """The key loop of authors' releases in two layouts: the ImageNet model
    (``'classification'``: pooled ``norm`` and ``head``) or its mmseg /
    mmdet backbone (``'dense'``: output norms, maybe under ``backbone.``).

    Args:
        state_dict (Mapping): Unwrapped source keys.
        report (ConversionReport): Its ``src_format`` and ``target`` steer
            the mapping; unknown, dropped and missing keys go there.
        last (int): The last stage, whose norm the pooled ``norm`` is.
        map_name (callable): The family's backbone key mapping.
        dense_norm (re.Pattern): The dense layout's output-norm keys.
        family (str): Name for messages.

    Returns:
        OrderedDict: The converted entries.

    Raises:
        ValueError: two sources for one key, or nothing converted.
    """
    prefix = 'backbone.' if report.target == 'classifier' else ''
    src_prefix = released_source_prefix(state_dict, report.src_format)
    classification = report.src_format == 'classification'
    mapper, has_head = KeyMapper(report), False
    for src, value in state_dict.items():
        name = src[len(src_prefix):] if src.startswith(src_prefix) else None
        head = classification and re.fullmatch(r'head\.(weight|bias)',
                                               name or '')
        if head:
            has_head = True
            if report.target == 'backbone':
                report.dropped.append(src)
            else:
                mapper.put(f'head.fc.{head.group(1)}', src, value)
            continue
        dst = None if name is None else _released_name(
            name, classification, last, dense_norm)
        mapped = None if name is None or dst else map_name(src, name, value)
        if dst:
            mapper.put(prefix + dst, src, value)
        elif mapped is not None:
            dst, new, reshaped = mapped
            mapper.put(prefix + dst, src, new, value if reshaped else None)
        else:
            report.unknown.append(src)
    if not mapper.out:
        raise ValueError(
            f'no {family} weights could be converted from this '
            f'{report.src_format}-format state dict; unknown keys: '
            f'{report.unknown[:10]}')
    if report.target == 'classifier' and not has_head:
        report.missing += ['head.fc.weight', 'head.fc.bias']
    return mapper.out


def check_against_model(state_dict: Mapping, report: ConversionReport,
                        model: nn.Module) -> None:
    """Add the model's missing / unexpected keys to a report; refuse shapes
    that differ. Compares only: the model comes from the caller.

    Raises:
        ValueError: Naming each converted key whose shape differs from the
            model's, both shapes and, where recorded, the source key.
    """
    missing, report.unexpected, report.mismatched = \
        compare_state_dict_with_model(state_dict, model)
    report.missing = list(dict.fromkeys(report.missing + missing))
    if report.mismatched:
        source_of = dict(m.split(' -> ')[::-1] for m in report.matched)
        raise ValueError(
            'shapes differ from the lkmm model (converted key: checkpoint '
            'shape vs model shape [source key]): ' + '; '.join(
                f'{m} [{source_of.get(m.split(":")[0], "?")}]'
                for m in report.mismatched))


def require_key(state_dict: Mapping, key: str, family: str) -> torch.Tensor:
    """``state_dict[key]``, which inferring ``family``'s arch needs.

    Raises:
        ValueError: naming the missing key.
    """
    if key not in state_dict:
        raise ValueError(
            f'cannot infer the {family} arch: key {key!r} is missing')
    return state_dict[key]


def key_indices(keys, pattern: re.Pattern) -> List[int]:
    """Sorted distinct ints captured by ``pattern`` (one group, matched at
    the start) in ``keys``: e.g. the stage indices of a state dict."""
    return sorted({int(m.group(1)) for m in map(pattern.match, keys) if m})
