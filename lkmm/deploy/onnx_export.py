"""Export a (deployed) model to ONNX, checked against PyTorch.

The logic behind ``tools/deploy/export_onnx.py``
(:mod:`lkmm.cli.export_onnx`): load the checkpoint strictly, deploy, export
with the TorchScript exporter on lkmm's plain-convolution path, refuse FFT
nodes, and write the file only once onnxruntime reproduces PyTorch, so a
deployed graph is never silently wrong. The steps, what the graph computes
per model kind and why not the dynamo exporter: ``docs/deployment.md``.
"""
import copy
import os
import os.path as osp
import statistics
import warnings
from dataclasses import dataclass
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log

from lkmm.analysis.complexity import input_shape_from_cfg
from lkmm.analysis.timing import time_callable
from lkmm.engine.runner import build_model_from_cfg, load_config
from lkmm.models.deploy import switch_model_to_deploy
from lkmm.ops.depthwise_conv_plan import depthwise_conv_impl
from lkmm.ops.oversized_conv import oversized_conv_impl
from lkmm.utils.device import resolve_device
from lkmm.utils.fileio import publish as _publish
from lkmm.utils.fileio import temp_file_beside as _temp_path
from lkmm.utils.model_outputs import (
    as_tensor_module,
    first_forward,
    flatten_tensors,
    is_mmdet_detector,
)

from .reparameterize import _compare, _exact_fp32, load_state_dict_strictly

__all__ = [
    'OnnxExportError', 'UnsupportedModelError', 'FFT_OP_TYPES',
    'find_fft_nodes', 'export_model_to_onnx', 'export_onnx'
]

#: ONNX op types that compute Fourier transforms (standard and contrib).
FFT_OP_TYPES = frozenset({'DFT', 'STFT', 'Rfft', 'Irfft', 'FFT', 'IFFT'})
#: Default opset of the export (DFT exists from 17; none is expected).
DEFAULT_OPSET = 17
_INSTALL_HINT = ('pip install -r requirements/deploy.txt (or pip install '
                 '-e .[deploy])')


class OnnxExportError(RuntimeError):
    """torch.onnx failed, or the graph is not the plain-convolution one."""


class UnsupportedModelError(NotImplementedError):
    """The model kind cannot be exported by this tool."""


def _log(msg: str) -> None:
    print_log(msg, logger='current')


def _import_onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError as err:
        raise ImportError(f'ONNX export needs onnx and onnxruntime '
                          f'({err}): {_INSTALL_HINT}') from err
    return onnx, onnxruntime


def find_fft_nodes(model_proto) -> List[str]:
    """Nodes of an ONNX graph (and its subgraphs) that run an FFT.

    Args:
        model_proto (onnx.ModelProto): The loaded model.

    Returns:
        list[str]: ``'name (op_type)'`` of each node whose op type is in
        :data:`FFT_OP_TYPES` or contains ``fft`` / ``dft``, or that is an
        ``ATen`` fallback of an FFT operator.
    """
    from onnx import AttributeProto, helper
    found = []

    def visit(graph):
        for node in graph.node:
            op = node.op_type
            aten = [helper.get_attribute_value(a) for a in node.attribute
                    if op == 'ATen' and a.name == 'operator']
            aten = [a.decode() if isinstance(a, bytes) else str(a)
                    for a in aten]
            if (op in FFT_OP_TYPES or 'fft' in op.lower()
                    or 'dft' in op.lower()
                    or any('fft' in a.lower() for a in aten)):
                found.append(f'{node.name or "<unnamed>"} ({op}'
                             + (f' {aten[0]}' if aten else '') + ')')
            for attr in node.attribute:
                if attr.type == AttributeProto.GRAPH:
                    visit(attr.g)
                elif attr.type == AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        visit(g)

    visit(model_proto.graph)
    return found


class _OutputsAsTuple(nn.Module):
    """``module``'s outputs as a flat tuple of tensors (ONNX outputs)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return tuple(flatten_tensors(self.module(x)))


def _torch_outputs(module: nn.Module, model: nn.Module,
                   inputs: torch.Tensor) -> List[torch.Tensor]:
    with torch.no_grad():
        return [t.float().cpu() for t in
                flatten_tensors(first_forward(module, model, inputs))]


def _export(module: nn.Module, inputs: torch.Tensor, path: str,
            num_outputs: int, output_ranks: Sequence[int], opset: int,
            spatial: Optional[bool]) -> None:
    """torch.onnx.export (TorchScript exporter) on the plain conv path.

    Args:
        spatial (bool, optional): None: static shapes; False: dynamic
            batch; True: dynamic batch, height and width.
    """
    names = ['output'] if num_outputs == 1 else [
        f'output{i}' for i in range(num_outputs)]
    dynamic_axes = None
    if spatial is not None:
        dynamic_axes = {'input': {0: 'batch'}}
        if spatial:
            dynamic_axes['input'].update({2: 'height', 3: 'width'})
        for i, (name, rank) in enumerate(zip(names, output_ranks)):
            axes = {0: 'batch'}
            if spatial and rank == 4:
                axes.update({2: f'height{i}', 3: f'width{i}'})
            dynamic_axes[name] = axes
    with warnings.catch_warnings(), depthwise_conv_impl('torch'), \
            oversized_conv_impl('torch'), torch.no_grad():
        # TracerWarnings flag shapes baked into the graph: the check on
        # another input size is what decides. The exporter's deprecation
        # notice is not news to the user of this tool.
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.simplefilter('ignore', DeprecationWarning)
        warnings.simplefilter('ignore', FutureWarning)
        torch.onnx.export(
            module, (inputs, ), path, input_names=['input'],
            output_names=names, dynamic_axes=dynamic_axes,
            opset_version=opset, do_constant_folding=True, dynamo=False)


def _run_onnxruntime(session, inputs: torch.Tensor) -> List[torch.Tensor]:
    """The session's outputs on ``inputs`` (as CPU float tensors)."""
    feed = {session.get_inputs()[0].name: inputs.detach().cpu().numpy()}
    return [torch.from_numpy(np.asarray(o)).float()
            for o in session.run(None, feed)]


def _session(path: str, threads: int):
    _, ort = _import_onnx()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options,
                                providers=['CPUExecutionProvider'])


def _verify(session, inputs: torch.Tensor, reference: List[torch.Tensor],
            tolerance: float, what: str) -> dict:
    """Compare onnxruntime's outputs on ``inputs`` with ``reference``."""
    return _compare(reference, _run_onnxruntime(session, inputs), tolerance,
                    what)


@dataclass
class _ExportJob:
    """What every export attempt of one model shares.

    Attributes:
        model (nn.Module): The training-form model, eval mode: the reference.
        module (nn.Module): Its deployed copy with flat tuple outputs: what
            is exported.
        inputs (Tensor): The example batch (CPU).
        reference (list[Tensor]): ``model``'s outputs on ``inputs``.
        device (torch.device): Where ``model`` and ``module`` run.
        gen (torch.Generator): Drew ``inputs``; the check batches of other
            sizes continue its draws, attempt after attempt.
        input_shape (tuple[int, int, int]): ``(C, H, W)`` of ``inputs``.
        batch_size (int): Images in ``inputs``.
        opset (int): ONNX opset.
        tolerance (float): Relative tolerance of every check.
        threads (int): Intra-op threads of the onnxruntime sessions.
        detector (bool): Whether ``model`` is an mmdet detector.
    """
    model: nn.Module
    module: nn.Module
    inputs: torch.Tensor
    reference: List[torch.Tensor]
    device: torch.device
    gen: torch.Generator
    input_shape: Tuple[int, int, int]
    batch_size: int
    opset: int
    tolerance: float
    threads: int
    detector: bool


def _unsupported_detector(model: nn.Module,
                          err: Exception) -> UnsupportedModelError:
    """The error that refuses a detector torch.onnx could not handle.

    Args:
        model (nn.Module): The detector.
        err (Exception): What torch (or the detector) raised.

    Returns:
        UnsupportedModelError: Naming the cause and mmdeploy, the tool for
        detectors (raise it ``from err``).
    """
    return UnsupportedModelError(
        f'detectors are not supported by this tool: torch.onnx cannot '
        f'export the mode="tensor" forward of {type(model).__name__} '
        f'({type(err).__name__}: {str(err)[:300]}). mmdet\'s tensor '
        'mode of two-stage detectors decodes proposals with NMS, whose '
        'ONNX export path in mmcv 2.x imports mmdet 2.x (mmdet.core); '
        'export detectors with mmdeploy. Classifiers, segmentors and '
        'bare backbones are supported')


def _check_export_args(opset: int,
                       input_shape: Sequence[int]) -> Tuple[int, int, int]:
    """Validate the opset and the image shape before any work.

    Args:
        opset (int): The requested ONNX opset.
        input_shape (Sequence[int]): The requested ``(C, H, W)``.

    Returns:
        tuple[int, int, int]: ``input_shape`` as ints.

    Raises:
        ValueError: an opset below 17 (no DFT to refuse below it) or a
            shape that is not ``(C, H, W)``.
    """
    if opset < 17:
        raise ValueError(f'opset must be >= 17, got {opset}')
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f'input_shape must be (C, H, W), got {input_shape}')
    return input_shape


def _reference_outputs(model: nn.Module, batch: torch.Tensor,
                       device: torch.device) -> List[torch.Tensor]:
    """The training-form model's outputs on ``batch``, TF32 off.

    Args:
        model (nn.Module): The model in eval mode.
        batch (Tensor): Images, on any device (moved to ``device``).
        device (torch.device): Where ``model`` runs.

    Returns:
        list[Tensor]: Its flat outputs as CPU float tensors, what the ONNX
        file must reproduce.
    """
    with _exact_fp32(device):
        return _torch_outputs(as_tensor_module(model), model,
                              batch.to(device))


def _first_reference(model: nn.Module, inputs: torch.Tensor,
                     device: torch.device,
                     detector: bool) -> List[torch.Tensor]:
    """:func:`_reference_outputs` on the example batch, refusing detectors
    whose tensor mode is not implemented.

    Args:
        model (nn.Module): The model in eval mode.
        inputs (Tensor): The example batch.
        device (torch.device): Where ``model`` runs.
        detector (bool): Whether ``model`` is an mmdet detector.

    Returns:
        list[Tensor]: The reference outputs.

    Raises:
        UnsupportedModelError: a detector without a tensor-mode forward.
    """
    try:
        return _reference_outputs(model, inputs, device)
    except NotImplementedError as err:
        if detector:
            raise _unsupported_detector(model, err) from err
        raise


def _dynamic_kind(spatial: Optional[bool]) -> str:
    """How the file's shapes vary, for the log (see :func:`_export`)."""
    if spatial is None:
        return 'static shapes'
    return 'dynamic batch, height and width' if spatial else 'dynamic batch'


def _export_job(job: _ExportJob, path: str,
                spatial: Optional[bool]) -> None:
    """Export ``job.module`` to ``path`` with the dynamic axes of
    ``spatial`` (see :func:`_export`).

    Args:
        job (_ExportJob): The model and its settings.
        path (str): The file to write.
        spatial (bool, optional): None: static; False: dynamic batch;
            True: dynamic batch, height and width.

    Raises:
        UnsupportedModelError: the export of a detector failed.
        OnnxExportError: the export of any other model failed.
    """
    _log(f'exporting ({_dynamic_kind(spatial)}, opset {job.opset}, '
         f'TorchScript exporter) on a {tuple(job.inputs.shape)} batch')
    try:
        _export(job.module, job.inputs.to(job.device), path,
                len(job.reference), [t.dim() for t in job.reference],
                job.opset, spatial)
    except Exception as err:
        if job.detector:
            raise _unsupported_detector(job.model, err) from err
        raise OnnxExportError(
            f'torch.onnx.export failed for {type(job.model).__name__}: '
            f'{type(err).__name__}: {err}') from err


def _check_graph(path: str) -> None:
    """Refuse an invalid graph or one that computes an FFT.

    Args:
        path (str): The exported file.

    Raises:
        onnx.checker.ValidationError: an invalid graph.
        OnnxExportError: FFT nodes, which lkmm's op switches exist to
            keep out of the file.
    """
    onnx, _ = _import_onnx()
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    fft = find_fft_nodes(proto)
    if fft:
        raise OnnxExportError(
            f'the exported graph has {len(fft)} FFT node(s) '
            f'({", ".join(fft[:5])}): lkmm\'s op switches should have '
            'put every large-kernel convolution on the plain Conv path; '
            'a module computes an FFT outside lkmm.ops')


def _check_other_sizes(job: _ExportJob, session,
                       spatial: Optional[bool]) -> None:
    """Check the file's dynamic axes on new batches drawn from ``job.gen``:
    one more image (dynamic batch) and, with ``spatial``, 32 more pixels
    of height and width.

    Args:
        job (_ExportJob): The model and its settings.
        session (onnxruntime.InferenceSession): The exported file.
        spatial (bool, optional): As for :func:`_export_job`; None checks
            nothing.

    Raises:
        DeployVerificationError: onnxruntime differs from PyTorch.
    """
    if spatial is not None:
        other = torch.randn(job.batch_size + 1, *job.input_shape,
                            generator=job.gen)
        _verify(session, other,
                _reference_outputs(job.model, other, job.device),
                job.tolerance,
                f'onnxruntime vs PyTorch, batch {job.batch_size + 1}')
    if spatial:
        c, h, w = job.input_shape
        other = torch.randn(job.batch_size, c, h + 32, w + 32,
                            generator=job.gen)
        _verify(session, other,
                _reference_outputs(job.model, other, job.device),
                job.tolerance, f'onnxruntime vs PyTorch, {h + 32}x{w + 32}')


def _attempt(job: _ExportJob, path: str, spatial: Optional[bool]) -> dict:
    """One export to ``path``, its graph checked and its outputs compared.

    Args:
        job (_ExportJob): The model and its settings.
        path (str): The (temporary) file to write.
        spatial (bool, optional): As for :func:`_export_job`.

    Returns:
        dict: ``max_abs_diff``, ``output_scale`` and ``relative_diff`` on
        the example batch.

    Raises:
        UnsupportedModelError, OnnxExportError: see :func:`_export_job`
            and :func:`_check_graph`.
        DeployVerificationError: onnxruntime differs from PyTorch.
    """
    _export_job(job, path, spatial)
    _check_graph(path)
    session = _session(path, job.threads)
    stats = _verify(session, job.inputs, job.reference, job.tolerance,
                    'onnxruntime vs PyTorch')
    _check_other_sizes(job, session, spatial)
    return stats


def _attempt_dynamic(job: _ExportJob, path: str) -> Tuple[dict, List[str]]:
    """Export with dynamic batch, height and width; where that file fails
    in any way, with a dynamic batch alone.

    Args:
        job (_ExportJob): The model and its settings.
        path (str): The (temporary) file to write.

    Returns:
        tuple[dict, list[str]]: :func:`_attempt`'s stats and the dynamic
        axes of the file kept.

    Raises:
        UnsupportedModelError: a detector (no second try).
        OnnxExportError, DeployVerificationError: the dynamic-batch export
            failed too.
    """
    try:
        return _attempt(job, path, True), ['batch', 'height', 'width']
    except UnsupportedModelError:
        raise
    except Exception as err:
        _log(f'height and width stay fixed: with them dynamic the file '
             f'fails ({type(err).__name__}: {str(err)[:300]}); exporting '
             'again with a dynamic batch only')
    return _attempt(job, path, False), ['batch']


def _write_checked_file(job: _ExportJob, out: str,
                        dynamic: bool) -> Tuple[dict, List[str]]:
    """Export to a temporary file beside ``out``; move it to ``out`` only
    when every check passed (the temporary file is removed otherwise).

    Args:
        job (_ExportJob): The model and its settings.
        out (str): The ``.onnx`` file to write.
        dynamic (bool): Try dynamic axes (see :func:`_attempt_dynamic`).

    Returns:
        tuple[dict, list[str]]: The output comparison's stats and the
        file's dynamic axes.

    Raises:
        UnsupportedModelError, OnnxExportError, DeployVerificationError:
            see :func:`_attempt`.
    """
    tmp = _temp_path(out, '.partial.onnx')
    try:
        if dynamic:
            stats, axes = _attempt_dynamic(job, tmp)
        else:
            stats, axes = _attempt(job, tmp, None), []
        _publish(tmp, out)
        tmp = None
    finally:
        if tmp is not None and osp.exists(tmp):
            os.unlink(tmp)
    return stats, axes


def _written_file_summary(out: str, reference: List[torch.Tensor],
                          axes: List[str], deployed: int, stats: dict) -> dict:
    """Log the written file and describe it, latency not yet measured.

    Args:
        out (str): The written file.
        reference (list[Tensor]): PyTorch's outputs (their shapes).
        axes (list[str]): The file's dynamic axes.
        deployed (int): Modules deployed before the export.
        stats (dict): The output comparison's stats.

    Returns:
        dict: What :func:`export_model_to_onnx` returns, with ``torch_ms``,
        ``onnxruntime_ms`` and ``latency_ratio`` None.
    """
    size = osp.getsize(out)
    _log(f'wrote {out}: {size / 2**20:.2f} MiB, outputs '
         f'{[tuple(t.shape) for t in reference]}, dynamic axes '
         f'{axes or "none"}, max relative difference '
         f'{stats["relative_diff"]:.3g}')
    return dict(out=out, file_size=size, dynamic_axes=axes, deployed=deployed,
                output_shapes=[tuple(t.shape) for t in reference],
                torch_ms=None, onnxruntime_ms=None, latency_ratio=None,
                **stats)


def export_model_to_onnx(model: nn.Module,
                         out: str,
                         input_shape: Sequence[int],
                         batch_size: int = 1,
                         dynamic: bool = False,
                         opset: int = DEFAULT_OPSET,
                         tolerance: float = 1e-4,
                         bench_warmup: int = 2,
                         bench_iters: int = 5,
                         seed: int = 0) -> dict:
    """Deploy ``model`` (a copy), export it to ``out`` and check the file.

    Args:
        model (nn.Module): A bare backbone or an OpenMMLab model, weights
            loaded; put in eval mode (its own device; the reference runs
            there, the ONNX file on onnxruntime's CPU provider).
        out (str): The ``.onnx`` file to write; written only when every
            check passed (an existing file stays untouched otherwise).
        input_shape (Sequence[int]): ``(C, H, W)`` of the example batch.
        batch_size (int): Images in the example batch. Defaults to 1.
        dynamic (bool): Export a dynamic batch dimension, and dynamic height
            and width where the file reproduces PyTorch at another image
            size; checked on a batch of ``batch_size + 1`` images.
            Defaults to False.
        opset (int): ONNX opset, at least 17. Defaults to 17.
        tolerance (float): Largest allowed ``max |ort - torch|`` relative to
            ``max |torch|``. Defaults to 1e-4.
        bench_warmup (int): Warm-up runs of the latency comparison.
            Defaults to 2.
        bench_iters (int): Timed runs (median) of the latency comparison;
            0 skips it. Defaults to 5.
        seed (int): Seed of the random batches. Defaults to 0.

    Returns:
        dict: ``out``, ``file_size`` (bytes), ``max_abs_diff``,
        ``output_scale``, ``relative_diff`` (ONNX vs the training-form model),
        ``output_shapes``, ``dynamic_axes`` (``[]``, ``['batch']`` or
        ``['batch', 'height', 'width']``), ``deployed`` (modules deployed),
        ``torch_ms``, ``onnxruntime_ms`` and ``latency_ratio``
        (onnxruntime / PyTorch; None when not timed).

    Raises:
        ImportError: onnx or onnxruntime is not installed.
        ValueError: an opset below 17 or a shape that is not (C, H, W).
        UnsupportedModelError: a detector torch.onnx cannot export.
        OnnxExportError: the export failed or the graph has FFT nodes.
        DeployVerificationError: onnxruntime's outputs differ; nothing
            written.
    """
    _import_onnx()  # fail before any work
    input_shape = _check_export_args(opset, input_shape)
    model.eval()
    device = next(iter(model.parameters()), torch.empty(0)).device
    detector = is_mmdet_detector(model)
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, *input_shape, generator=gen)
    reference = _first_reference(model, inputs, device, detector)
    deployed = copy.deepcopy(model)
    count = switch_model_to_deploy(deployed)
    _log(f'deployed {count} modules (switch_to_deploy)')
    job = _ExportJob(
        model=model, module=_OutputsAsTuple(as_tensor_module(deployed)).eval(),
        inputs=inputs, reference=reference, device=device, gen=gen,
        input_shape=input_shape, batch_size=batch_size, opset=opset,
        tolerance=tolerance, threads=torch.get_num_threads(),
        detector=detector)
    stats, axes = _write_checked_file(job, out, dynamic)
    result = _written_file_summary(out, reference, axes, count, stats)
    if bench_iters > 0:
        result.update(_latency(job.module, out, inputs, job.threads,
                               bench_warmup, bench_iters))
    return result


def _forward_no_grad(module: nn.Module, inputs: torch.Tensor) -> None:
    """One forward of ``module`` on ``inputs`` without autograd (timed)."""
    with torch.no_grad():
        module(inputs)


def _latency(module: nn.Module, path: str, inputs: torch.Tensor,
             threads: int, warmup: int, iters: int) -> Dict[str, float]:
    """Median latency of onnxruntime and of the deployed PyTorch model.

    Both run on the CPU with the same thread count (lkmm's default op
    plan), so the ratio compares the runtimes, not the machines.

    Args:
        module (nn.Module): The deployed model (copied to the CPU).
        path (str): The exported file.
        inputs (Tensor): The example batch.
        threads (int): Intra-op threads of the onnxruntime session.
        warmup (int): Untimed runs of each first (none when < 1).
        iters (int): Timed runs of each, >= 1.

    Returns:
        dict: ``torch_ms``, ``onnxruntime_ms`` (medians) and
        ``latency_ratio`` (onnxruntime / PyTorch).
    """
    cpu_module = copy.deepcopy(module).cpu().eval()
    session = _session(path, threads)
    warmup = max(warmup, 0)
    torch_ms = statistics.median(time_callable(
        partial(_forward_no_grad, cpu_module, inputs), warmup=warmup,
        repeats=iters))
    ort_ms = statistics.median(time_callable(
        partial(_run_onnxruntime, session, inputs), warmup=warmup,
        repeats=iters))
    ratio = ort_ms / torch_ms
    print(f'latency, batch {tuple(inputs.shape)}, CPU, {threads} '
          f'thread(s), median of {iters}: PyTorch {torch_ms:.2f} ms, '
          f'onnxruntime {ort_ms:.2f} ms, ratio onnxruntime/PyTorch '
          f'{ratio:.2f}', flush=True)
    return dict(torch_ms=torch_ms, onnxruntime_ms=ort_ms,
                latency_ratio=ratio)


def export_onnx(config: str,
                checkpoint: str,
                out: str,
                input_shape: Optional[Sequence[int]] = None,
                batch_size: int = 1,
                dynamic: bool = False,
                device=None,
                cfg_options: Optional[dict] = None,
                opset: int = DEFAULT_OPSET,
                tolerance: float = 1e-4,
                bench_warmup: int = 2,
                bench_iters: int = 5,
                seed: int = 0) -> dict:
    """Export a trained checkpoint to a checked ONNX file.

    Args:
        config (str): Training (or deployed) config.
        checkpoint (str): Its checkpoint (path or URL), loaded strictly.
        out (str): The ``.onnx`` file to write.
        input_shape (Sequence[int], optional): ``(H, W)`` or ``(C, H, W)``
            of the example batch; from the config (test pipeline or data
            preprocessor size, else 224x224) when None.
        batch_size (int): Images in the example batch. Defaults to 1.
        dynamic (bool): Dynamic batch (and image size where the model
            allows). Defaults to False.
        device (str | torch.device, optional): Where the PyTorch model runs
            for the reference and the export; CUDA when available, else
            CPU, when None. onnxruntime always runs on the CPU.
        cfg_options (dict, optional): Config overrides.
        opset (int): ONNX opset (>= 17). Defaults to 17.
        tolerance (float): Relative tolerance of the check. Defaults to
            1e-4.
        bench_warmup (int): Warm-up runs of the latency comparison.
        bench_iters (int): Timed runs; 0 skips the comparison.
        seed (int): Seed of the random batches. Defaults to 0.

    Returns:
        dict: What :func:`export_model_to_onnx` returns.

    Raises:
        CheckpointMismatchError: ``checkpoint`` does not fit the config.
        UnsupportedModelError: a detector torch.onnx cannot export.
        OnnxExportError: the export failed or the graph has FFT nodes.
        DeployVerificationError: onnxruntime disagrees with PyTorch;
            nothing written.
    """
    _import_onnx()  # fail before building anything
    device = resolve_device(device)
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    if len({osp.abspath(p) for p in (config, checkpoint, out)}) != 3:
        raise ValueError('config, checkpoint and OUT must be three '
                         'different files')
    cfg = load_config(config, cfg_options)
    if input_shape is None or len(input_shape) == 2:
        input_shape = input_shape_from_cfg(cfg, input_shape)
    _log(f'building the model from {config}')
    model = build_model_from_cfg(cfg)
    _log(f'loading {checkpoint} (strict)')
    load_state_dict_strictly(model, checkpoint)
    model.eval().to(device)
    return export_model_to_onnx(
        model, out, input_shape, batch_size=batch_size, dynamic=dynamic,
        opset=opset, tolerance=tolerance, bench_warmup=bench_warmup,
        bench_iters=bench_iters, seed=seed)
