"""lkmm's registries.

Each is a child of the matching mmengine root registry with scope ``lkmm``, so
``dict(type='lkmm.RepLKNet')`` resolves from configs whose default scope is
mmpretrain, mmseg or mmdet, and nothing registered here can shadow their names
(mmpretrain's own ``RepLKNet`` stays reachable as ``RepLKNet`` /
``mmpretrain.RepLKNet``).
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import (
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
)
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import (
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS,
)
from mmengine.registry import Registry

MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='lkmm', locations=['lkmm'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope='lkmm',
    locations=['lkmm'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope='lkmm',
    locations=['lkmm'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope='lkmm', locations=['lkmm'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope='lkmm',
    locations=['lkmm'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='lkmm',
    locations=['lkmm'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    scope='lkmm',
    locations=['lkmm'])
