"""Re-parameterize a trained checkpoint into its deployment form.

The logic behind ``tools/deploy/reparameterize.py``
(:mod:`lkmm.cli.reparameterize`): deploy every re-parameterizable module and
write the deployed checkpoint (``OUT``) and its config (``OUT`` with ``.py``),
both only after checking that they reproduce the trained model's outputs,
so a deployed model cannot drift from the trained one. What is written and
checked: ``docs/deployment.md``.
"""
import copy
import os
import os.path as osp
import time
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log

from lkmm.analysis.benchmark import (
    TrainDeployComparison,
    compare_train_vs_deploy,
    format_benchmark_table,
)
from lkmm.analysis.complexity import input_shape_from_cfg
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.models.deploy import deploy_argument, switch_model_to_deploy
from lkmm.utils.device import resolve_device
from lkmm.utils.fileio import publish as _publish
from lkmm.utils.fileio import temp_file_beside as _temp_path
from lkmm.utils.model_outputs import (
    as_tensor_module,
    first_forward,
    flatten_tensors,
)
from lkmm.utils.state_dict import strip_prefix

__all__ = [
    'CheckpointMismatchError', 'DeployVerificationError',
    'model_class', 'deploy_config', 'switch_model_to_deploy',
    'load_state_dict_strictly', 'reparameterize_checkpoint'
]

_PRETRAINED_INIT_TYPES = ('Pretrained', 'PretrainedInit')


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys or shapes do not match the model."""


class DeployVerificationError(RuntimeError):
    """The deployed model does not reproduce the trained model."""


def _log(msg: str) -> None:
    print_log(msg, logger='current')


def model_class(obj_type, scope: Optional[str] = None) -> Optional[type]:
    """The class a config ``type`` names, looked up as the runner would
    (in the registry of the config's default scope), or None.

    Args:
        obj_type (str | type): The ``type`` of a config dict, e.g.
            ``'lkmm.RepLKNet'`` or ``'RepVGG'``.
        scope (str, optional): The config's ``default_scope``.
    """
    if isinstance(obj_type, type):
        return obj_type
    if not isinstance(obj_type, str):
        return None
    import importlib

    from mmengine.registry import MODELS, DefaultScope
    registry = MODELS
    if scope is not None:
        registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        obj = registry.get(obj_type)
    return obj if isinstance(obj, type) else None


def deploy_config(cfg: Config) -> Tuple[Config, List[str]]:
    """The deployment version of a config.

    Every dict under ``cfg.model`` whose ``type`` names a class with a
    deploy-form argument (:func:`lkmm.models.deploy.deploy_argument`:
    the class's declared ``deploy_arg``, e.g. ``deploy`` for lkmm's
    backbones) gets that argument set to True; pretrained
    ``init_cfg`` entries and ``pretrained`` paths are removed (the deployed
    checkpoint holds all weights, and the pretrained file, made for the
    training-form structure, would no longer fit).

    Args:
        cfg (Config): The training config.

    Returns:
        tuple[Config, list[str]]: The new config and a description of each
        change (e.g. ``'model.backbone.deploy=True'``).
    """
    cfg = copy.deepcopy(cfg)
    changes = []
    scope = cfg.get('default_scope')

    def visit(node, path):
        if isinstance(node, dict):
            cls = model_class(node.get('type'), scope)
            key = None if cls is None else deploy_argument(cls)
            if key is not None:
                node[key] = True
                changes.append(f'{path}.{key}=True')
            init_cfg = node.get('init_cfg')
            if init_cfg is not None:
                entries = init_cfg if isinstance(init_cfg, list) else \
                    [init_cfg]
                kept = [e for e in entries if not (
                    isinstance(e, dict)
                    and e.get('type') in _PRETRAINED_INIT_TYPES)]
                if len(kept) != len(entries):
                    node['init_cfg'] = (kept if isinstance(init_cfg, list)
                                        else None) or None
                    changes.append(f'{path}.init_cfg: removed Pretrained')
            if isinstance(node.get('pretrained'), str):
                node['pretrained'] = None
                changes.append(f'{path}.pretrained=None')
            for k, v in node.items():
                visit(v, f'{path}.{k}')
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{path}[{i}]')

    visit(cfg.model, 'model')
    return cfg, changes


def _name_list(keys: Sequence[str], limit: int = 20) -> str:
    keys = sorted(keys)
    text = ', '.join(keys[:limit])
    if len(keys) > limit:
        text += f', ... ({len(keys) - limit} more)'
    return text


def load_state_dict_strictly(model: nn.Module, checkpoint: str) -> dict:
    """Load a checkpoint (safely) into ``model``; every key must match.

    Args:
        model (nn.Module): The model.
        checkpoint (str): Path or URL (any mmengine ``CheckpointLoader``
            scheme; lkmm makes them refuse pickled code).

    Returns:
        dict: The checkpoint's ``meta`` (empty when it has none).

    Raises:
        CheckpointMismatchError: naming the missing keys, unexpected keys
            and shape mismatches.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise CheckpointMismatchError(
            f'{checkpoint} holds a {type(ckpt).__name__}, not a state dict')
    state_dict = ckpt.get('state_dict', ckpt)
    # Saved from a DDP-wrapped model: strip "module." like mmengine does.
    state_dict = strip_prefix(state_dict, 'module.')
    own = model.state_dict()
    missing = set(own) - set(state_dict)
    unexpected = set(state_dict) - set(own)
    shapes = [
        f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in sorted(set(own) & set(state_dict))
        if isinstance(state_dict[k], torch.Tensor)
        and state_dict[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        lines = [f'checkpoint {checkpoint} does not match the model:']
        if missing:
            lines.append(f'  missing keys ({len(missing)}): '
                         f'{_name_list(missing)}')
        if unexpected:
            lines.append(f'  unexpected keys ({len(unexpected)}): '
                         f'{_name_list(unexpected)}')
        if shapes:
            lines.append(f'  shape mismatches ({len(shapes)}): ' +
                         '; '.join(shapes[:10]))
        if any('fused_conv' in k for k in unexpected):
            lines.append('  (the checkpoint looks re-parameterized already: '
                         'use it with its deployed config)')
        raise CheckpointMismatchError('\n'.join(lines))
    model.load_state_dict(state_dict, strict=True)
    meta = ckpt.get('meta') if 'state_dict' in ckpt else None
    return meta if isinstance(meta, dict) else {}


@contextmanager
def _exact_fp32(device: torch.device) -> Iterator[None]:
    """Disable TF32 on CUDA while outputs are compared.

    TF32 convolutions (on by default in cuDNN) round to ~1e-3, which would
    hide (or fake) deployment errors of the size checked here.
    """
    if device.type != 'cuda':
        yield
        return
    old = (torch.backends.cudnn.allow_tf32,
           torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        (torch.backends.cudnn.allow_tf32,
         torch.backends.cuda.matmul.allow_tf32) = old


def _outputs(model: nn.Module, inputs: torch.Tensor) -> List[torch.Tensor]:
    """Plain output tensors of a backbone or an OpenMMLab model."""
    module = as_tensor_module(model)
    with torch.no_grad():
        return [t.float() for t in
                flatten_tensors(first_forward(module, model, inputs))]


def _compare(reference: List[torch.Tensor], outputs: List[torch.Tensor],
             tolerance: float, what: str) -> dict:
    """Max abs difference; raises when above ``tolerance`` x output scale."""
    if len(reference) != len(outputs) or any(
            a.shape != b.shape for a, b in zip(reference, outputs)):
        raise DeployVerificationError(
            f'{what}: output structure differs: '
            f'{[tuple(t.shape) for t in reference]} vs '
            f'{[tuple(t.shape) for t in outputs]}')
    diff = max((a - b).abs().max().item()
               for a, b in zip(reference, outputs))
    scale = max(t.abs().max().item() for t in reference)
    allowed = tolerance * (scale if scale > 0 else 1.)
    stats = dict(max_abs_diff=diff, output_scale=scale,
                 relative_diff=diff / scale if scale > 0 else diff)
    _log(f'{what}: max abs diff {diff:.3g} (output scale {scale:.3g}, '
         f'relative {stats["relative_diff"]:.3g}; tolerance {tolerance:g} '
         f'relative = {allowed:.3g})')
    if not diff <= allowed:  # also catches NaN
        raise DeployVerificationError(
            f'{what}: outputs differ by {diff:.3g}, more than the tolerance '
            f'{tolerance:g} x output scale {scale:.3g} = {allowed:.3g}')
    return stats


def _deployed_meta(source_meta: dict, config: str, checkpoint: str,
                   cfg_text: str, stats: dict) -> dict:
    import mmengine

    import lkmm
    meta = dict(
        deployed=True,
        source_config=osp.abspath(config),
        source_checkpoint=checkpoint if '://' in checkpoint else
        osp.abspath(checkpoint),
        max_abs_diff=stats['max_abs_diff'],
        cfg=cfg_text,
        lkmm_version=lkmm.__version__,
        mmengine_version=mmengine.__version__,
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()))
    # Class names and palette: inferencers read them from the checkpoint.
    for key in ('dataset_meta', 'experiment_name', 'epoch', 'iter'):
        if key in source_meta:
            meta.setdefault(key, source_meta[key])
    return meta


def _resolve_output_paths(config: str, checkpoint: str, out: str,
                          out_config: Optional[str]) -> str:
    """Check the four files before any work; returns the output config.

    Args:
        config (str): Training config.
        checkpoint (str): Trained checkpoint (path or URL).
        out (str): Deployed checkpoint to write.
        out_config (str, optional): Deployed config to write; ``out`` with a
            ``.py`` suffix when None.

    Returns:
        str: The deployed config's path.

    Raises:
        FileNotFoundError: a local ``checkpoint`` that does not exist.
        ValueError: an output config without ``.py`` (mmengine reads the
            suffix), or two of the four paths naming the same file.
    """
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    if out_config is None:
        out_config = osp.splitext(out)[0] + '.py'
    if not out_config.endswith('.py'):
        raise ValueError(f'the deployed config must end with .py, got '
                         f'{out_config}')
    paths = {osp.abspath(p) for p in (config, checkpoint, out, out_config)}
    if len(paths) != 4:
        raise ValueError('config, checkpoint, OUT and the output config must '
                         'be four different files')
    return out_config


def _load_training_config(config: str, cfg_options: Optional[dict],
                          input_shape: Optional[Sequence[int]]
                          ) -> Tuple[Config, Tuple[int, ...]]:
    """The training config and the check batch's image shape.

    Args:
        config (str): Training config.
        cfg_options (dict, optional): Config overrides.
        input_shape (Sequence[int], optional): ``(C, H, W)``, ``(H, W)`` or
            None (see :func:`reparameterize_checkpoint`).

    Returns:
        tuple[Config, tuple[int, ...]]: The config, without the
        ``work_dir`` :func:`lkmm.engine.runner.load_config` derived from
        its file name (so the deployed config gets its own), and
        ``(C, H, W)``.
    """
    cfg = load_config(config, cfg_options)
    name = osp.splitext(osp.basename(config))[0]
    if cfg.get('work_dir') == osp.join('work_dirs', name):
        cfg.pop('work_dir')
    if input_shape is None or len(input_shape) == 2:
        input_shape = input_shape_from_cfg(cfg, input_shape)
    return cfg, tuple(int(s) for s in input_shape)


def _build_trained_model(cfg: Config, config: str, checkpoint: str,
                         device: torch.device) -> Tuple[nn.Module, dict]:
    """The trained model, checkpoint loaded strictly, eval mode.

    Args:
        cfg (Config): The training config.
        config (str): Its path (logged).
        checkpoint (str): Trained checkpoint (path or URL).
        device (torch.device): Where the model goes.

    Returns:
        tuple[nn.Module, dict]: The model and the checkpoint's ``meta``.

    Raises:
        CheckpointMismatchError: ``checkpoint`` does not fit the model.
    """
    _log(f'building the model from {config}')
    model = build_model_from_cfg(cfg)
    _log(f'loading {checkpoint} (strict)')
    source_meta = load_state_dict_strictly(model, checkpoint)
    model.eval().to(device)
    return model, source_meta


def _deploy_and_compare(model: nn.Module, inputs: torch.Tensor,
                      device: torch.device, tolerance: float
                      ) -> Tuple[List[torch.Tensor], nn.Module, dict]:
    """Deploy a copy of ``model`` and check that it reproduces ``model``.

    Args:
        model (nn.Module): The trained model, eval mode, on ``device``.
        inputs (Tensor): The check batch, on ``device``.
        device (torch.device): Where both run (TF32 off on CUDA).
        tolerance (float): Relative tolerance (see :func:`_compare`).

    Returns:
        tuple[list[Tensor], nn.Module, dict]: ``model``'s outputs (the
        reference of every later check), the deployed copy and the
        comparison's stats.

    Raises:
        DeployVerificationError: the deployed copy's outputs differ.
    """
    _log(f'reference outputs on a random batch {tuple(inputs.shape)} '
         f'on {device}')
    with _exact_fp32(device):
        reference = _outputs(model, inputs)
        deployed = copy.deepcopy(model)
        count = switch_model_to_deploy(deployed)
        if count == 0:
            _log('warning: no module has switch_to_deploy; the deployed '
                 'model equals the trained one')
        _log(f'switch_to_deploy called on {count} modules')
        stats = _compare(reference, _outputs(deployed, inputs), tolerance,
                         'deployed vs trained')
    return reference, deployed, stats


def _deployed_config_text(cfg: Config, config: str,
                          out: str) -> Tuple[str, List[str]]:
    """The deployed config's file text, headed by where it comes from.

    Args:
        cfg (Config): The training config.
        config (str): Its path (named in the header).
        out (str): The deployed checkpoint (named in the header).

    Returns:
        tuple[str, list[str]]: The text and the changes of
        :func:`deploy_config` (each also logged).
    """
    deploy_cfg, changes = deploy_config(cfg)
    for change in changes:
        _log(f'config: {change}')
    cfg_text = (f'# Deployed (re-parameterized) form of {config}, written '
                'by tools/deploy/reparameterize.py\n'
                f'# with weights {osp.basename(out)}; build it as usual and '
                'load that checkpoint.\n' + deploy_cfg.pretty_text)
    return cfg_text, changes


def _write_deployed_files(deployed: nn.Module, meta: dict, cfg_text: str,
                          ckpt_path: str, cfg_path: str) -> None:
    """Write the deployed weights (mmengine checkpoint format) and config.

    Args:
        deployed (nn.Module): The deployed model (weights saved on the CPU).
        meta (dict): The checkpoint's ``meta``.
        cfg_text (str): The deployed config.
        ckpt_path (str): Where the checkpoint goes.
        cfg_path (str): Where the config goes.
    """
    state_dict = {k: v.detach().cpu()
                  for k, v in deployed.state_dict().items()}
    torch.save(dict(meta=meta, state_dict=state_dict), ckpt_path)
    with open(cfg_path, 'w', encoding='utf-8') as f:
        f.write(cfg_text)


def _load_written_model(cfg_path: str, ckpt_path: str,
                        deployed: nn.Module) -> nn.Module:
    """Build the model the written config describes, load the written
    checkpoint into it strictly: what a user of the files will do.

    Args:
        cfg_path (str): The written config.
        ckpt_path (str): The written checkpoint.
        deployed (nn.Module): The deployed model (named in the error).

    Returns:
        nn.Module: The model, weights loaded (on the CPU, train mode).

    Raises:
        DeployVerificationError: the config does not build the deployed
            structure, naming each deployable type's deploy-form argument.
    """
    _log('verifying: building from the written config, loading the '
         'written checkpoint (strict)')
    written = build_model_from_cfg(Config.fromfile(cfg_path))
    try:
        load_state_dict_strictly(written, ckpt_path)
    except CheckpointMismatchError as err:
        kinds = sorted({f'{type(m).__name__} '
                        f'({deploy_argument(type(m))})'
                        for m in deployed.modules()
                        if hasattr(m, 'switch_to_deploy')})
        raise DeployVerificationError(
            'the written config does not build the deployed structure '
            f'({err}); the deployable types and the deploy-form argument '
            f'each declares (deploy_arg) are {kinds}: is the '
            'argument missing or not set by the config?') from err
    return written


def _publish_checked_files(deployed: nn.Module, meta: dict, cfg_text: str,
                           out: str, out_config: str, *,
                           reference: List[torch.Tensor],
                           inputs: torch.Tensor, device: torch.device,
                           tolerance: float) -> Tuple[nn.Module, dict]:
    """Write the deployed files beside their targets, check that they
    reproduce the trained model, then move them into place.

    The temporary files are removed whatever fails, so ``out`` and
    ``out_config`` are either both new and checked or untouched.

    Args:
        deployed (nn.Module): The deployed model.
        meta (dict): The checkpoint's ``meta``.
        cfg_text (str): The deployed config.
        out (str): Deployed checkpoint to write.
        out_config (str): Deployed config to write.
        reference (list[Tensor]): The trained model's outputs on
            ``inputs``.
        inputs (Tensor): The check batch, on ``device``.
        device (torch.device): Where the rebuilt model runs.
        tolerance (float): Relative tolerance (see :func:`_compare`).

    Returns:
        tuple[nn.Module, dict]: The model built from the written files
        (eval mode, on ``device``) and the comparison's stats.

    Raises:
        DeployVerificationError: the files do not rebuild the deployed model
            or its outputs differ.
    """
    tmp_ckpt = tmp_cfg = None
    try:
        tmp_ckpt = _temp_path(out, '.partial')
        tmp_cfg = _temp_path(out_config, '.partial.py')
        _write_deployed_files(deployed, meta, cfg_text, tmp_ckpt, tmp_cfg)
        written = _load_written_model(tmp_cfg, tmp_ckpt, deployed)
        written.eval().to(device)
        with _exact_fp32(device):
            verify = _compare(reference, _outputs(written, inputs),
                              tolerance, 'written files vs trained')
        # Config first: once OUT exists, its config does too.
        _publish(tmp_cfg, out_config)
        tmp_cfg = None
        _publish(tmp_ckpt, out)
        tmp_ckpt = None
    finally:
        for tmp in (tmp_ckpt, tmp_cfg):
            if tmp is not None and osp.exists(tmp):
                os.unlink(tmp)
    _log(f'wrote {out} and {out_config}')
    return written, verify


def _time_train_vs_deploy(model: nn.Module, written: nn.Module,
                          input_shape: Sequence[int], batch_size: int,
                          warmup: int, iters: int, device: torch.device
                          ) -> TrainDeployComparison:
    """Time the trained model against the one built from the written files
    and print the table.

    Args:
        model (nn.Module): The trained model.
        written (nn.Module): The model built from the written files.
        input_shape (Sequence[int]): ``(C, H, W)``.
        batch_size (int): Images per forward.
        warmup (int): Untimed forwards per form.
        iters (int): Timed forwards per form.
        device (torch.device): Where both run.

    Returns:
        TrainDeployComparison: Both timings.
    """
    _log(f'timing train form vs deployed form ({warmup} warm-up + '
         f'{iters} timed iterations each)')
    speed = compare_train_vs_deploy(
        model, input_shape=input_shape, batch_size=batch_size,
        warmup=warmup, iters=iters, device=device, deployed_model=written)
    print(format_benchmark_table(speed), flush=True)
    return speed


def reparameterize_checkpoint(config: str,
                              checkpoint: str,
                              out: str,
                              out_config: Optional[str] = None,
                              input_shape: Optional[Sequence[int]] = None,
                              batch_size: int = 2,
                              device=None,
                              cfg_options: Optional[dict] = None,
                              tolerance: float = 1e-4,
                              bench_warmup: int = 2,
                              bench_iters: int = 5,
                              seed: int = 0) -> dict:
    """Write the deployed (deployment) checkpoint and config of a model.

    Steps: build the model from ``config``, load ``checkpoint`` strictly,
    compute its outputs on a random batch (eval mode), deploy every
    re-parameterizable module, compare outputs, write checkpoint and config
    to temporary files, rebuild the model from the written config, load the
    written checkpoint strictly and compare again, then move both files into
    place. Finally time the training form against the deployed one.

    Args:
        config (str): Training config.
        checkpoint (str): Trained checkpoint (path or URL).
        out (str): Deployed checkpoint to write.
        out_config (str, optional): Deployed config to write; ``out`` with a
            ``.py`` suffix when None.
        input_shape (Sequence[int], optional): ``(C, H, W)`` of the check
            batch, or ``(H, W)`` with C from the config; from the config
            (data preprocessor size, else 224x224) when None.
        batch_size (int): Images in the check batch. Defaults to 2.
        device (str | torch.device, optional): Where to run; CUDA when
            available, else CPU, when None.
        cfg_options (dict, optional): Config overrides (also written to the
            deployed config).
        tolerance (float): Largest allowed output difference relative to
            the largest absolute output value. Defaults to 1e-4.
        bench_warmup (int): Warm-up iterations of the speed comparison.
            Defaults to 2.
        bench_iters (int): Timed iterations of the speed comparison; 0 skips
            it. Defaults to 5.
        seed (int): Seed of the random batch. Defaults to 0.

    Returns:
        dict: ``out``, ``out_config``, ``changes`` (config edits),
        ``max_abs_diff``, ``output_scale``, ``relative_diff`` (deployment),
        ``verify_max_abs_diff`` (written files) and ``speed``
        (:class:`~lkmm.analysis.TrainDeployComparison` or None).

    Raises:
        FileNotFoundError, ValueError: see :func:`_resolve_output_paths`.
        CheckpointMismatchError: ``checkpoint`` does not fit the config.
        DeployVerificationError: an output check failed; nothing written.
    """
    device = resolve_device(device)
    out_config = _resolve_output_paths(config, checkpoint, out, out_config)
    cfg, input_shape = _load_training_config(config, cfg_options,
                                             input_shape)
    model, source_meta = _build_trained_model(cfg, config, checkpoint,
                                              device)
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, *input_shape, generator=gen).to(device)
    reference, deployed, stats = _deploy_and_compare(model, inputs, device,
                                                   tolerance)
    cfg_text, changes = _deployed_config_text(cfg, config, out)
    meta = _deployed_meta(source_meta, config, checkpoint, cfg_text, stats)
    written, verify = _publish_checked_files(
        deployed, meta, cfg_text, out, out_config, reference=reference,
        inputs=inputs, device=device, tolerance=tolerance)

    speed = None
    if bench_iters > 0:
        speed = _time_train_vs_deploy(model, written, input_shape,
                                      batch_size, bench_warmup, bench_iters,
                                      device)
    return dict(out=out, out_config=out_config, changes=changes,
                verify_max_abs_diff=verify['max_abs_diff'], speed=speed,
                **stats)
