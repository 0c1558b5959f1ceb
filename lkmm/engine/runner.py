"""Configs to runners and models, for mmpretrain, mmseg and mmdet configs
alike: the config's ``default_scope`` decides which library's registries
build the model, data and metrics. ``tools/train.py`` and ``tools/test.py``
(:mod:`lkmm.cli.launch`) and the analysis tools build through here.
"""
import copy
import os
import os.path as osp
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import is_distributed
from mmengine.runner import Runner

from lkmm.utils.model_checks import check_backbone_channels

__all__ = [
    'resolve_config_path', 'load_config', 'init_cpu_distributed',
    'finish_distributed', 'build_runner', 'build_model_from_cfg',
    'enable_amp', 'apply_tta'
]


def resolve_config_path(path: str) -> str:
    """The file behind a config path.

    Accepts a file path or a stock config of an installed OpenMMLab package
    written as in ``_base_`` lists, e.g.
    ``mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py``.

    Raises:
        FileNotFoundError: naming the path (and package) that was tried.
    """
    if '::' in path:
        # Resolved by hand: mmengine.hub.get_config would pip-install a
        # missing package as a side effect.
        from mmengine.config.utils import MODULE2PACKAGE
        from mmengine.utils import get_installed_path, is_installed
        scope, rel_path = path.split('::', 1)
        if scope not in MODULE2PACKAGE:
            raise FileNotFoundError(
                f'unknown package "{scope}" in config path {path}; known: '
                f'{sorted(MODULE2PACKAGE)}')
        package = MODULE2PACKAGE[scope]
        if not is_installed(package):
            raise FileNotFoundError(
                f'config {path} needs the package {package}, which is not '
                'installed')
        full = osp.join(get_installed_path(package), '.mim', 'configs',
                        rel_path)
        if not osp.isfile(full):
            raise FileNotFoundError(
                f'config file not found: {path} (looked for {full})')
        return full
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    return path


def load_config(path: str, cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None) -> Config:
    """Read a config, apply ``--cfg-options`` and pick the work dir.

    Args:
        path (str): Config file, or ``package::rel/path.py`` of an installed
            OpenMMLab package.
        cfg_options (dict, optional): Overrides from the command line.
        work_dir (str, optional): Work dir; the config's own, else
            ``work_dirs/<config name>``, when None.

    Returns:
        Config: The config, ready for :func:`build_runner`.
    """
    cfg = Config.fromfile(resolve_config_path(path))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def init_cpu_distributed(launcher: str, cfg: Config) -> None:
    """Start a gloo process group when launched distributed without a GPU.

    mmengine's launcher path calls ``torch.cuda.set_device`` and uses NCCL,
    which fail on CPU-only machines. Initializing the group here first makes
    mmengine skip its own initialization; DDP then wraps a CPU module, which
    needs ``device_ids=None``.

    Args:
        launcher (str): One of ``LAUNCHERS``.
        cfg (Config): Config; its ``model_wrapper_cfg`` is set for CPU DDP.
    """
    if launcher == 'none' or torch.cuda.is_available() or is_distributed():
        return
    if launcher != 'pytorch':
        raise ValueError(
            f'launcher "{launcher}" needs GPUs; on a CPU-only machine use '
            '--launcher pytorch (tools/dist_train.sh does)')
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Wait for every rank, then tear the process group down.

    Exiting with a live gloo group lets a fast rank close its sockets while a
    slower one is still talking to it, which aborts that rank.
    """
    if is_distributed():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def build_runner(cfg: Config, launcher: str = 'none') -> Runner:
    """Build the mmengine Runner (or the config's ``runner_type``).

    Args:
        cfg (Config): Config from :func:`load_config`.
        launcher (str): Job launcher. Defaults to 'none'.
    """
    cfg.launcher = launcher
    if cfg.get('load_from') and not cfg.get('resume'):
        # A load_from that fills too few tensors stops the run.
        hooks = list(cfg.get('custom_hooks') or [])
        if not any(str(h.get('type', '')).endswith('PretrainedMatchHook')
                   for h in hooks):
            cfg.custom_hooks = hooks + [dict(type='lkmm.PretrainedMatchHook')]
    init_cpu_distributed(launcher, cfg)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    check_backbone_channels(runner.model)
    return runner


def build_model_from_cfg(cfg: Config):
    """Build ``cfg.model`` with the registry of the config's default scope.

    Args:
        cfg (Config): A classification, segmentation or detection config
            (``default_scope`` mmpretrain, mmseg or mmdet); its
            ``custom_imports`` are honoured.

    Returns:
        nn.Module: The model, weights not initialized.

    Raises:
        ChannelMismatchError: when a neck or head does not take the channels
            an lkmm backbone gives (see
            :func:`lkmm.utils.model_checks.check_backbone_channels`).
    """
    import importlib

    from mmengine.registry import MODELS, DefaultScope, init_default_scope
    from mmengine.utils import import_modules_from_strings
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    model_cfg = copy.deepcopy(cfg.model)
    # As mmengine's Runner does: a top-level data_preprocessor (mmpretrain
    # configs) is the model's unless the model sets its own.
    if isinstance(model_cfg, dict) and cfg.get('data_preprocessor'):
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    scope = cfg.get('default_scope')
    if scope is None:
        model = MODELS.build(model_cfg)
        check_backbone_channels(model)
        return model
    init_default_scope(scope)
    # Every OpenMMLab library exposes its registries as <scope>.registry.
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(model_cfg)
    check_backbone_channels(model)
    return model


def enable_amp(cfg: Config) -> None:
    """Switch ``cfg.optim_wrapper`` to ``AmpOptimWrapper`` (``--amp``)."""
    wrapper = cfg.optim_wrapper
    if wrapper.get('type', 'OptimWrapper') == 'AmpOptimWrapper':
        return
    if wrapper.get('type', 'OptimWrapper') != 'OptimWrapper':
        raise ValueError('--amp works with optim_wrapper.type "OptimWrapper" '
                         f'or "AmpOptimWrapper", got "{wrapper.type}"')
    wrapper.type = 'AmpOptimWrapper'
    wrapper.setdefault('loss_scale', 'dynamic')


def apply_tta(cfg: Config) -> None:
    """Switch a config to its test-time augmentation form in place.

    Uses the config's ``tta_pipeline`` and ``tta_model`` as mmseg and mmdet
    define them (mmpretrain names the model wrapper the same way).
    """
    for key in ('tta_pipeline', 'tta_model'):
        if key not in cfg:
            raise ValueError(f'--tta needs "{key}" in the config')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
