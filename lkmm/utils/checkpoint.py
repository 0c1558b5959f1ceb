"""Safe checkpoint loading for mmengine on torch >= 2.6.

torch >= 2.6 refuses mmengine's own checkpoints under mmengine's
``torch.load`` call; rather than trusting any pickle, lkmm loads with
``weights_only=True`` plus an explicit allowlist (:data:`SAFE_GLOBALS`,
:func:`safe_load`), registered with torch and every mmengine checkpoint
loader by :func:`register_safe_checkpoint_loading` (run by ``import lkmm``).
``*.safetensors`` files are read without unpickling
(:func:`load_safetensors_checkpoint`). Why and what it covers:
``docs/architecture.md``, "Safe checkpoint loading".
"""
import argparse
import io
import json
import logging
import os
import os.path as osp
import pickle
import re
from collections import OrderedDict
from tempfile import TemporaryDirectory

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import checkpoint as mmckpt
from mmengine.utils import digit_version

from .pretrained import checkpoint_file_problem

try:  # numpy >= 2 (numpy.core is a deprecated alias there)
    from numpy._core import multiarray as _multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _multiarray

__all__ = [
    'SAFE_GLOBALS', 'UnsafeCheckpointError', 'safe_load',
    'register_safe_checkpoint_loading', 'load_safetensors_checkpoint',
    'save_safetensors_checkpoint'
]

# torch >= 2.4 can extend the weights_only allowlist; torch >= 2.6 also
# accepts (object, 'name.in.the.pickle') pairs, needed for renamed globals.
_CAN_ALLOWLIST = hasattr(torch.serialization, 'add_safe_globals')
_CAN_ALIAS = digit_version(torch.__version__) >= digit_version('2.6.0')

# HistoryBuffer.__getstate__ stores its class-level statistics methods, and
# pickle protocol 2 (torch.save's default) writes ``HistoryBuffer.min`` as
# ``getattr(HistoryBuffer, 'min')``.
_HISTORY_BUFFER_STATS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name):
    # Stand-in for ``builtins.getattr`` while unpickling. The real getattr
    # reaches anything (``__globals__``, ``__builtins__``, ...), so only the
    # exact lookups a HistoryBuffer pickle makes are answered.
    if obj is HistoryBuffer and type(name) is str \
            and name in _HISTORY_BUFFER_STATS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        'GLOBAL builtins.getattr is only allowed as getattr(HistoryBuffer, '
        f'<statistic>), not on a {type(obj).__name__!r}')


def _build_safe_globals():
    # Plain data only: none of these calls anything chosen by the pickle.
    # (HistoryBuffer.__setstate__ does copy the pickled statistics_methods
    # into its class-level dict; with the getattr stand-in below those can
    # only be HistoryBuffer's own methods or other allowlisted objects.)
    # ndarray/scalar rebuilding and dtype BUILD need the concrete dtype
    # classes (numpy.dtypes.Float64DType, ...) to be allowed as well.
    # argparse.Namespace: the run arguments timm saves in its checkpoints
    # (a plain attribute bag; unpickling sets its __dict__, calls nothing).
    safe = [
        HistoryBuffer, np.ndarray, np.dtype, _multiarray._reconstruct,
        _multiarray.scalar, argparse.Namespace
    ]
    safe += [
        type(np.dtype(c)) for c in ('?', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2',
                                    'u4', 'u8', 'f2', 'f4', 'f8', 'c8', 'c16')
    ]
    if _CAN_ALIAS:
        safe.append((_history_buffer_getattr, 'builtins.getattr'))
        # numpy 1.x pickles say numpy.core.multiarray, numpy 2.x say
        # numpy._core.multiarray; accept both whichever numpy is installed.
        for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            safe += [(_multiarray._reconstruct, f'{mod}._reconstruct'),
                     (_multiarray.scalar, f'{mod}.scalar')]
    return tuple(dict.fromkeys(safe))


#: Globals (besides torch's defaults) that mmengine checkpoints may contain.
SAFE_GLOBALS = _build_safe_globals()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint was refused because unpickling it would run code.

    Args:
        filename (str): The checkpoint's path or URL.
        unsafe_globals (list[str]): The disallowed globals it references.
    """

    def __init__(self, filename, unsafe_globals):
        self.filename = filename
        self.unsafe_globals = list(unsafe_globals)
        note = '' if _CAN_ALLOWLIST else (
            ' (torch < 2.4 cannot allowlist mmengine types at all)')
        super().__init__(
            f'Refused to load checkpoint {filename!r} because loading it '
            'would execute code: it references '
            f'{", ".join(self.unsafe_globals)} (not on lkmm\'s allowlist '
            f'of plain data types{note}). If you trust this file, '
            're-save its weights yourself as a plain state dict, e.g. '
            "torch.save(torch.load(path, weights_only=False)['state_dict'], "
            "'clean.pth'), and load that file instead.")


def _add_safe_globals():
    # Idempotent (torch keeps a set). Deliberately not the safe_globals()
    # context manager: its __exit__ removes the entries again, which would
    # undo register_safe_checkpoint_loading() for plain torch.load.
    if _CAN_ALLOWLIST:
        torch.serialization.add_safe_globals(list(SAFE_GLOBALS))


def _unsafe_globals(err, f=None, start=0):
    """Names of the disallowed globals behind a weights_only refusal."""
    names = []
    if hasattr(torch.serialization, 'get_unsafe_globals_in_checkpoint'):
        try:  # lists *all* of them, torch's message only the first
            if hasattr(f, 'seek'):
                f.seek(start)
            names += torch.serialization.get_unsafe_globals_in_checkpoint(f)
        except Exception:  # legacy (non-zip) format, unreadable stream, ...
            pass
    # torch writes builtins as bare names ('GLOBAL eval was not allowed').
    names += [
        n if '.' in n else f'builtins.{n}'
        for n in re.findall(r'GLOBAL (\S+)', str(err))
    ]
    return list(dict.fromkeys(names))


def _refusing_unsafe(load, source, f=None):
    """Run ``load()``; turn a refused global into UnsafeCheckpointError."""
    try:
        start = f.tell()  # to rewind for get_unsafe_globals_in_checkpoint
    except Exception:  # a path, or an unseekable stream
        start = 0
    try:
        return load()
    except pickle.UnpicklingError as err:
        names = _unsafe_globals(err, f, start)
        if not names:  # corrupt file etc.: torch's own message is best
            raise
    raise UnsafeCheckpointError(source, names) from None


def safe_load(f, map_location=None, source=None):
    """``torch.load`` with ``weights_only=True`` and lkmm's allowlist.

    Args:
        f (str | os.PathLike | file-like): The checkpoint, as for
            :func:`torch.load`.
        map_location (str | torch.device | dict | callable, optional): Same
            as :func:`torch.load`. Defaults to None.
        source (str, optional): Name shown in errors (e.g. the URL ``f`` was
            downloaded from). Defaults to ``f``'s path or name.

    Returns:
        Any: The loaded object, usually a dict or OrderedDict.

    Raises:
        UnsafeCheckpointError: If the checkpoint references a global outside
            torch's defaults and :data:`SAFE_GLOBALS`.
    """
    _add_safe_globals()
    if source is None:
        source = os.fspath(f) if isinstance(f, (str, os.PathLike)) else \
            getattr(f, 'name', repr(f))
    return _refusing_unsafe(
        lambda: torch.load(f, map_location=map_location, weights_only=True),
        source, f)


#: Metadata key under which the checkpoint's ``meta`` dict is stored
#: (JSON-encoded) in a ``.safetensors`` file.
SAFETENSORS_META_KEY = 'lkmm_meta'


def _safetensors_device(map_location):
    """A device for safetensors' ``load_file`` from a ``map_location``."""
    if map_location is None:
        return 'cpu'
    if isinstance(map_location, torch.device):
        return str(map_location)
    if isinstance(map_location, str):
        return map_location
    return 'cpu'  # callable / dict: load on the CPU (torch's default)


def load_safetensors_checkpoint(filename, map_location=None):
    """Read a ``.safetensors`` file as an mmengine checkpoint.

    Args:
        filename (str | os.PathLike): Local path.
        map_location (str | torch.device, optional): Device to load the
            tensors to; None, a dict or a callable load them on the CPU.
            Defaults to None.

    Returns:
        dict: ``{'state_dict': OrderedDict[str, Tensor], 'meta': dict}``;
        ``meta`` is the JSON-decoded ``lkmm_meta`` entry of the file's
        metadata when present, else the metadata's plain string entries.

    Raises:
        ValueError: If the file is not a readable safetensors file.
    """
    try:
        from safetensors import safe_open
    except ImportError:  # pragma: no cover
        raise ImportError('reading .safetensors checkpoints needs the '
                          '"safetensors" package (pip install '
                          'safetensors)') from None
    filename = os.fspath(filename)
    device = _safetensors_device(map_location)
    try:
        with safe_open(filename, framework='pt', device=device) as f:
            metadata = dict(f.metadata() or {})
            state_dict = OrderedDict(
                (key, f.get_tensor(key)) for key in f.keys())
    except Exception as err:  # SafetensorError, OSError, ...
        raise ValueError(f'cannot read {filename} as a safetensors file: '
                         f'{type(err).__name__}: {err}') from None
    meta = metadata
    if SAFETENSORS_META_KEY in metadata:
        try:
            meta = json.loads(metadata[SAFETENSORS_META_KEY])
        except ValueError:
            pass  # keep the raw strings
    return {'state_dict': state_dict, 'meta': meta}


def save_safetensors_checkpoint(state_dict, filepath, meta=None):
    """Write a state dict as ``.safetensors``, atomically.

    The file is written next to ``filepath`` under a temporary name and
    renamed into place (:mod:`lkmm.utils.fileio`), so ``filepath`` is
    either complete or untouched.

    Args:
        state_dict (Mapping[str, Tensor]): The weights; tensors that share
            memory are stored as separate copies.
        filepath (str | os.PathLike): Destination; its folder is created.
        meta (dict, optional): Stored JSON-encoded as the ``lkmm_meta``
            string of the safetensors metadata (values JSON cannot encode
            are stored as their ``str``). Defaults to None.
    """
    from safetensors.torch import save_file

    from .fileio import publish, temp_file_beside
    tensors, seen = OrderedDict(), set()
    for key, value in state_dict.items():
        value = value.detach().cpu().contiguous()
        if value.nbytes:
            storage = value.untyped_storage().data_ptr()
            if storage in seen:
                value = value.clone()  # safetensors refuses shared memory
            seen.add(value.untyped_storage().data_ptr())
        tensors[key] = value
    metadata = {'format': 'pt'}
    if meta is not None:
        metadata[SAFETENSORS_META_KEY] = json.dumps(meta, default=str)
    tmp = temp_file_beside(filepath)
    try:
        save_file(tensors, tmp, metadata=metadata)
        publish(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


# Safe versions of the CheckpointLoader schemes mmengine registers in
# mmengine/runner/checkpoint.py. Named like mmengine's because
# CheckpointLoader logs ``loader.__name__[10:]`` as the backend name.


def load_from_local(filename, map_location=None):
    """Load a local checkpoint safely (scheme ``''``).

    A ``*.safetensors`` file is read by
    :func:`load_safetensors_checkpoint` (no unpickling at all).

    Args:
        filename (str): Local path, ``~`` is expanded.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if filename.endswith('.safetensors'):
        return load_safetensors_checkpoint(filename, map_location)
    # Empty, truncated and foreign files: one clear message each, not
    # torch's EOFError / zip error.
    problem = checkpoint_file_problem(filename)
    if problem:
        raise ValueError(problem)
    return safe_load(filename, map_location)


def load_from_http(filename, map_location=None, model_dir=None,
                   progress=os.isatty(0)):
    """Download (cached by torch.hub) and load a checkpoint safely.

    As in mmengine, rank 0 downloads first and the other ranks wait.

    Args:
        filename (str): ``http://`` or ``https://`` URL.
        map_location (optional): Same as :func:`torch.load`.
        model_dir (str, optional): Download directory. Defaults to
            torch.hub's ``<hub_dir>/checkpoints``.
        progress (bool): Show a download progress bar.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    _add_safe_globals()

    def load():
        # mmengine's load_url is this function, minus weights_only.
        return _refusing_unsafe(
            lambda: torch.hub.load_state_dict_from_url(
                filename, model_dir=model_dir, map_location=map_location,
                progress=progress, weights_only=True), filename)

    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = load()
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def load_from_pavi(filename, map_location=None):
    """Load a ``pavi://`` checkpoint safely.

    Args:
        filename (str): Path prefixed with ``pavi://``.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError(
            'Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[len('pavi://'):])
    with TemporaryDirectory() as tmp_dir:
        downloaded = osp.join(tmp_dir, model.name)
        model.download(downloaded)
        return safe_load(downloaded, map_location, source=filename)


def load_from_ceph(filename, map_location=None, backend='petrel'):
    """Load an ``s3://`` / ``petrel://`` checkpoint safely.

    Args:
        filename (str): Path, optionally ``<cluster>:``-prefixed.
        map_location (optional): Same as :func:`torch.load`.
        backend (str): mmengine file backend. Defaults to 'petrel'.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    file_backend = get_file_backend(
        filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return safe_load(buffer, map_location, source=filename)


def load_from_torchvision(filename, map_location=None):
    """Load a ``torchvision://`` (or deprecated ``modelzoo://``) checkpoint.

    Args:
        filename (str): e.g. ``torchvision://resnet50``.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    prefix, name = filename.split('://', 1)
    if prefix == 'modelzoo':
        print_log('The URL scheme of "modelzoo://" is deprecated, please '
                  'use "torchvision://" instead', logger='current',
                  level=logging.WARNING)
    return load_from_http(mmckpt.get_torchvision_models()[name], map_location)


def load_from_openmmlab(filename, map_location=None):
    """Load an ``open-mmlab://`` / ``openmmlab://`` checkpoint safely.

    Args:
        filename (str): e.g. ``open-mmlab://resnet50_v1c``.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    prefix, name = filename.split('://', 1)
    deprecated = mmckpt.get_deprecated_model_names()
    if name in deprecated:
        print_log(f'{prefix}://{name} is deprecated in favor of '
                  f'{prefix}://{deprecated[name]}', logger='current',
                  level=logging.WARNING)
        name = deprecated[name]
    url = mmckpt.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    # Non-URL entries are relative to the mmengine home (absolute paths stay).
    return load_from_local(osp.join(mmckpt._get_mmengine_home(), url),
                           map_location)


def load_from_mmcls(filename, map_location=None):
    """Load an ``mmcls://`` checkpoint safely and convert its keys.

    Args:
        filename (str): e.g. ``mmcls://resnet50``.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    url = mmckpt.get_mmcls_models()[filename[len('mmcls://'):]]
    return mmckpt._process_mmcls_checkpoint(load_from_http(url, map_location))


# Same prefixes as mmengine/runner/checkpoint.py registers.
_SAFE_SCHEMES = {
    '': load_from_local,
    ('http://', 'https://'): load_from_http,
    'pavi://': load_from_pavi,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_ceph,
    ('modelzoo://', 'torchvision://'): load_from_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    'mmcls://': load_from_mmcls,
}


def register_safe_checkpoint_loading():
    """Make mmengine's checkpoint loading work safely on torch >= 2.6.

    Registers :data:`SAFE_GLOBALS` with torch's ``weights_only`` allowlist
    (so plain ``torch.load(path)`` accepts mmengine checkpoints) and
    overrides every mmengine ``CheckpointLoader`` scheme with a loader that
    uses :func:`safe_load`, so ``weights_only=True`` is enforced on every
    torch version. Calling it again is harmless.

    Returns:
        None
    """
    _add_safe_globals()
    for prefixes, loader in _SAFE_SCHEMES.items():
        mmckpt.CheckpointLoader.register_scheme(
            prefixes, loader=loader, force=True)
