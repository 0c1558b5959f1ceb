"""lkmm: large-kernel convolutional networks for OpenMMLab.

``import lkmm`` registers every lkmm component in the ``lkmm`` registry scope,
makes checkpoint loading safe on torch >= 2.6 (see
:mod:`lkmm.utils.checkpoint`) and local checkpoint writes atomic (see
:mod:`lkmm.utils.fileio`).

Without mmengine installed only the operators are usable: ``import
lkmm.ops`` needs torch alone (a bare GPU machine can time the kernels); the
rest of lkmm then fails to import, naming mmengine.
"""
import importlib.util

from .version import __version__

if importlib.util.find_spec('mmengine') is not None:
    from . import datasets, engine, models, registry  # noqa: F401
    from .utils.checkpoint import register_safe_checkpoint_loading
    from .utils.fileio import register_atomic_local_backend

    register_safe_checkpoint_loading()
    register_atomic_local_backend()

__all__ = ['__version__']
