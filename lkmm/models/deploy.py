"""Re-parameterization (deployment) of a whole model, and the declaration that
tells a tool how to build a model directly in its deploy form.

A module that can deploy has ``switch_to_deploy()``. A class built by a config
declares which constructor argument builds it already deployed in the class
attribute ``deploy_arg`` (``'deploy'`` across lkmm; ``None`` for a class
with nothing to deploy). The deploy tool sets that argument in the config it
writes, so the deployed checkpoint loads into a model built from it.
"""
import inspect
from typing import List, Optional

import torch.nn as nn

__all__ = ['DEPLOY_ARG_NAMES', 'deploy_argument',
           'deployable_modules', 'switch_model_to_deploy']

#: Constructor arguments that other OpenMMLab models use for the deploy form
#: (mmpretrain's RepVGG, MobileOne, ... take ``deploy``; its RepLKNet takes
#: ``small_kernel_merged``). Read from the signature of a class that does not
#: declare ``deploy_arg``.
DEPLOY_ARG_NAMES = ('deploy', 'small_kernel_merged')

_UNDECLARED = object()


def deploy_argument(cls: type) -> Optional[str]:
    """The constructor argument that builds ``cls`` in its deploy form.

    Args:
        cls (type): A model class.

    Returns:
        str | None: The class's declared ``deploy_arg``; for a class
        that declares none but has ``switch_to_deploy``, the first of
        :data:`DEPLOY_ARG_NAMES` its constructor takes; None when the
        class has nothing to deploy or no such argument.
    """
    declared = getattr(cls, 'deploy_arg', _UNDECLARED)
    if declared is not _UNDECLARED:
        return declared
    if not hasattr(cls, 'switch_to_deploy'):
        return None
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return None
    return next((n for n in DEPLOY_ARG_NAMES if n in params), None)


def deployable_modules(module: nn.Module,
                     include_self: bool = True) -> List[nn.Module]:
    """The outermost modules with ``switch_to_deploy`` in ``module``.

    A module that deploys is expected to deploy what it holds, so the search
    does not descend below one.

    Args:
        module (nn.Module): The model.
        include_self (bool): Whether ``module`` itself counts.
            Defaults to True.
    """
    if include_self and hasattr(module, 'switch_to_deploy'):
        return [module]
    found = []
    for child in module.children():
        found += deployable_modules(child)
    return found


def switch_model_to_deploy(module: nn.Module,
                           include_self: bool = True) -> int:
    """Call ``switch_to_deploy`` of the outermost deployable modules of
    ``module`` (in place; lkmm's are idempotent).

    Args:
        module (nn.Module): The model, in eval structure.
        include_self (bool): Whether ``module``'s own ``switch_to_deploy``
            may be the one called. Defaults to True.

    Returns:
        int: How many modules' ``switch_to_deploy`` was called.
    """
    modules = deployable_modules(module, include_self)
    for m in modules:
        m.switch_to_deploy()
    return len(modules)
