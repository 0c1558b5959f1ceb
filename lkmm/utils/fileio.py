"""Atomic writes for mmengine's local file backend.

mmengine writes checkpoints with ``open(path, 'wb').write(...)``: a run
killed (or a disk filling up) mid-write leaves a truncated ``iter_N.pth``
under the final name. lkmm replaces the ``local`` backend with one that
writes to a temporary file in the same folder and renames it into place, so
a checkpoint (or ``last_checkpoint``) is either complete or absent.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import io as mmengine_io
from mmengine.fileio.backends import LocalBackend, register_backend

# Files from mkstemp are 0600; give renamed files the usual umask-based mode.
_UMASK = os.umask(0)
os.umask(_UMASK)


def temp_file_beside(final: Union[str, Path],
                     suffix: str = '.partial') -> str:
    """Create an empty temporary file in the folder of ``final``.

    Same folder, hence same file system: :func:`publish` can rename it.

    Args:
        final (str | Path): The path the content is meant for; its folder is
            created if needed.
        suffix (str): Suffix of the temporary name. Defaults to
            ``'.partial'``.

    Returns:
        str: The temporary file's path.
    """
    final = os.fspath(final)
    folder = osp.dirname(osp.abspath(final))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(final)}.', suffix=suffix, dir=folder)
    os.close(fd)
    return tmp


def publish(tmp: str, final: Union[str, Path]) -> None:
    """Move a finished temporary file into place (atomic rename).

    Args:
        tmp (str): From :func:`temp_file_beside`, completely written.
        final (str | Path): Destination.
    """
    with open(tmp, 'rb+') as f:
        os.fsync(f.fileno())  # on disk before the name points at it
    os.chmod(tmp, 0o666 & ~_UMASK)
    os.replace(tmp, os.fspath(final))


def _write_atomically(write, filepath: Union[str, Path]) -> None:
    tmp = temp_file_beside(filepath)
    try:
        with open(tmp, 'wb') as f:
            write(f)
        publish(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so readers never see a partial file.

    Args:
        data (bytes): Content.
        filepath (str | Path): Destination; its folder is created if needed.
    """
    _write_atomically(lambda f: f.write(data), filepath)


def atomic_torch_save(obj, filepath: Union[str, Path]) -> None:
    """``torch.save`` that leaves ``filepath`` complete or untouched.

    Streams to the temporary file, so a multi-GB checkpoint is not held in
    memory twice (as serializing to bytes first would).

    Args:
        obj: What to save.
        filepath (str | Path): Destination; its folder is created if needed.
    """
    import torch
    _write_atomically(lambda f: torch.save(obj, f), filepath)


class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose writes are atomic (rename)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


def register_atomic_local_backend() -> None:
    """Make ``AtomicLocalBackend`` mmengine's backend for local paths.

    Idempotent. Cached plain ``LocalBackend`` instances are dropped so that
    every later ``get_file_backend`` returns the atomic one.
    """
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    cache = mmengine_io.backend_instances
    for key in [k for k, v in cache.items() if type(v) is LocalBackend]:
        del cache[key]
