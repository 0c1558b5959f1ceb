"""Inference speed: images/s and ms/batch, training form vs deployed form.

Structural re-parameterization exists to make the *deployed* model faster
than the structure it was trained with (RepLKNet Sec. 3: the small kernel and
the BNs merge into one large conv). :func:`compare_train_vs_deploy` measures
both forms of one model in the same process, interleaving their rounds so
that slow drift of the machine (thermal throttling, other jobs on a shared
CPU) affects both alike.

Works for a bare backbone and for OpenMMLab models (mmpretrain classifiers,
mmseg segmentors, single-stage mmdet detectors), which are called with
``mode='tensor'`` on a random batch.
"""
import copy
import statistics
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import (
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
import torch.nn as nn

from lkmm.ops import depthwise_conv_impl
from lkmm.utils.device import DeviceType, resolve_device
from lkmm.utils.model_outputs import (
    as_tensor_module,
    first_forward,
    flatten_tensors,
    random_batch,
)

from .complexity import to_deploy_form
from .timing import time_callable, time_interleaved

__all__ = [
    'BenchmarkResult', 'TrainDeployComparison', 'benchmark_model',
    'compare_train_vs_deploy', 'format_benchmark_table', 'ModelComparison',
    'compare_models', 'build_timm_model', 'DWConvComparison',
    'compare_dwconv_impls', 'format_dwconv_comparison'
]



@dataclass
class BenchmarkResult:
    """Timings of one model on one input size.

    Args:
        name (str): Label of the measured model (e.g. 'train', 'deploy').
        device (str): Device the model ran on.
        batch_size (int): Images per forward pass.
        input_shape (tuple): ``(C, H, W)`` of one image.
        warmup (int): Untimed forward passes before measuring.
        times_ms (list[float]): Wall time of every timed forward, in ms.
        params (int): Parameters of the timed model.
    """
    name: str
    device: str
    batch_size: int
    input_shape: Tuple[int, int, int]
    warmup: int
    times_ms: List[float] = field(default_factory=list, repr=False)
    params: int = 0

    @property
    def iters(self) -> int:
        """Number of timed forward passes."""
        return len(self.times_ms)

    @property
    def median_ms(self) -> float:
        """Median latency per batch (ms)."""
        return statistics.median(self.times_ms)

    @property
    def mean_ms(self) -> float:
        """Mean latency per batch (ms)."""
        return statistics.fmean(self.times_ms)

    @property
    def min_ms(self) -> float:
        """Fastest batch (ms): on a machine shared with other jobs, the
        pass least slowed down by them."""
        return min(self.times_ms)

    @property
    def images_per_s(self) -> float:
        """Throughput from the median latency.

        The median rather than the mean: on a shared machine a few batches
        hit by another process would otherwise dominate.
        """
        return self.batch_size * 1000. / self.median_ms

    def to_dict(self) -> dict:
        """Plain dict with the derived statistics (e.g. for JSON)."""
        out = asdict(self)
        out.update(iters=self.iters, median_ms=self.median_ms,
                   mean_ms=self.mean_ms, min_ms=self.min_ms,
                   images_per_s=self.images_per_s)
        return out


@dataclass
class TrainDeployComparison:
    """Training-structure model vs its deployed (re-parameterized) form.

    Args:
        train (BenchmarkResult): Eval mode, branches not deployed.
        deploy (BenchmarkResult): Deploy form (see
            :func:`lkmm.analysis.to_deploy_form`).
        max_abs_diff (float): Largest absolute difference between the two
            forms' outputs on the benchmark batch.
    """
    train: BenchmarkResult
    deploy: BenchmarkResult
    max_abs_diff: float

    @property
    def speed_ratio(self) -> float:
        """Deploy images/s over train images/s (> 1: deployed is faster)."""
        return self.deploy.images_per_s / self.train.images_per_s

    def to_dict(self) -> dict:
        return dict(train=self.train.to_dict(), deploy=self.deploy.to_dict(),
                    max_abs_diff=self.max_abs_diff,
                    speed_ratio=self.speed_ratio)


@contextmanager
def _inference_context(device: torch.device) -> Iterator[None]:
    """No autograd; cuDNN autotuning on CUDA (restored afterwards)."""
    old = torch.backends.cudnn.benchmark
    if device.type == 'cuda':
        # Input size is fixed, so let cuDNN pick the fastest algorithms
        # (large depth-wise kernels have several with very different speed).
        torch.backends.cudnn.benchmark = True
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.backends.cudnn.benchmark = old


def _check_counts(batch_size: int, warmup: int, iters: int) -> None:
    if batch_size < 1 or iters < 1 or warmup < 0:
        raise ValueError('batch_size and iters must be >= 1 and warmup >= 0, '
                         f'got {batch_size}, {iters}, {warmup}')


def _time_interleaved(modules: Dict[str, nn.Module],
                      results: Dict[str, BenchmarkResult],
                      inputs: torch.Tensor, device: torch.device,
                      warmup: int, iters: int, rounds: int,
                      verbose: bool = False) -> None:
    """Warm up and time several modules on one batch, interleaved.

    The ``warmup`` and ``iters`` passes of each module are split into
    ``rounds`` rounds; the order of the modules alternates from round to
    round (A B, B A, A B, ...), so that slow drift of the machine's speed
    hits all alike. Call inside :func:`_inference_context`.

    Args:
        modules (dict[str, nn.Module]): Name -> module taking the batch.
        results (dict[str, BenchmarkResult]): Same names; the timed passes
            are appended to their ``times_ms``.
        inputs (Tensor): The batch.
        device (torch.device): Where the modules run.
        warmup (int): Untimed passes per module.
        iters (int): Timed passes per module.
        rounds (int): Number of rounds, at least 1.
        verbose (bool): Print the running medians after each timed round.
    """
    names = list(modules)

    def split(total):
        # ``total`` passes over ``rounds`` rounds, as evenly as possible.
        return [total // rounds + (r < total % rounds) for r in range(rounds)]

    for phase, counts in (('warmup', split(warmup)), ('timed', split(iters))):
        for r, n in enumerate(counts):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                times = time_callable(partial(modules[name], inputs),
                                      repeats=n, device=device)
                if phase == 'timed':
                    results[name].times_ms += times
            if verbose and phase == 'timed' and n:
                medians = ', '.join(
                    f'{name} {statistics.median(results[name].times_ms):.1f}'
                    for name in names)
                print(f'round {r + 1}/{rounds}: {medians} ms/batch '
                      '(median)', flush=True)


def benchmark_model(model: nn.Module,
                    input_shape: Sequence[int] = (3, 224, 224),
                    batch_size: int = 1,
                    warmup: int = 5,
                    iters: int = 30,
                    device: DeviceType = None,
                    name: str = 'model',
                    seed: int = 0) -> BenchmarkResult:
    """Measure inference latency and throughput of ``model``.

    The model is moved to ``device`` and put in eval mode; its previous
    training mode is restored afterwards (the device is not).

    Args:
        model (nn.Module): A backbone (called on the batch), or an OpenMMLab
            model (called with ``mode='tensor'``).
        input_shape (Sequence[int]): ``(C, H, W)`` of one image.
            Defaults to ``(3, 224, 224)``.
        batch_size (int): Images per forward. Defaults to 1.
        warmup (int): Untimed forward passes first (allocator, cuDNN
            autotuning, caches). Defaults to 5.
        iters (int): Timed forward passes. Defaults to 30.
        device (str | torch.device, optional): Where to run; None picks CUDA
            when available, else CPU.
        name (str): Label of the result. Defaults to 'model'.
        seed (int): Seed of the random batch. Defaults to 0.

    Returns:
        BenchmarkResult: Per-iteration times plus median/mean latency and
        images/s.
    """
    _check_counts(batch_size, warmup, iters)
    device = resolve_device(device)
    was_training = model.training
    model.to(device).eval()
    module = as_tensor_module(model)
    inputs = random_batch(input_shape, batch_size, device, seed)
    result = BenchmarkResult(
        name=name, device=str(device), batch_size=batch_size,
        input_shape=tuple(input_shape), warmup=warmup,
        params=sum(p.numel() for p in model.parameters()))
    try:
        with _inference_context(device):
            first_forward(module, model, inputs)
            result.times_ms = time_callable(
                partial(module, inputs), warmup=warmup, repeats=iters,
                device=device)
    finally:
        model.train(was_training)
    return result


def compare_train_vs_deploy(model: nn.Module,
                            input_shape: Sequence[int] = (3, 224, 224),
                            batch_size: int = 1,
                            warmup: int = 5,
                            iters: int = 30,
                            device: DeviceType = None,
                            rounds: Optional[int] = None,
                            deployed_model: Optional[nn.Module] = None,
                            seed: int = 0,
                            verbose: bool = False
                            ) -> TrainDeployComparison:
    """Time the training structure and the deployed form of one model.

    Both forms run on the same batch. Warm-up and timed iterations are split
    into rounds that alternate the order (train, deploy), (deploy, train),
    ... so that drift of the machine's speed hits both forms alike.

    Args:
        model (nn.Module): The model in training structure (a backbone or an
            OpenMMLab model). It is not modified: both forms are copies.
        input_shape (Sequence[int]): ``(C, H, W)`` of one image.
            Defaults to ``(3, 224, 224)``.
        batch_size (int): Images per forward. Defaults to 1.
        warmup (int): Untimed forward passes per form. Defaults to 5.
        iters (int): Timed forward passes per form. Defaults to 30.
        device (str | torch.device, optional): Where to run; None picks CUDA
            when available, else CPU.
        rounds (int, optional): Number of interleaved rounds; defaults to
            ``min(iters, 5)``.
        deployed_model (nn.Module, optional): A deployed model to time
            instead of ``to_deploy_form(model)`` (e.g. one built from a
            deployed config). Not modified.
        seed (int): Seed of the random batch. Defaults to 0.
        verbose (bool): Print a line per round. Defaults to False.

    Returns:
        TrainDeployComparison: Both results, the speed ratio (deploy images/s
        over train images/s) and the largest output difference.
    """
    _check_counts(batch_size, warmup, iters)
    device = resolve_device(device)
    rounds = min(iters, 5) if rounds is None else max(1, min(rounds, iters))
    train_model = copy.deepcopy(model).eval().to(device)
    if deployed_model is None:
        deploy_model = to_deploy_form(model).to(device)
    else:
        deploy_model = copy.deepcopy(deployed_model).eval().to(device)
    forms = {
        'train': (train_model, as_tensor_module(train_model)),
        'deploy': (deploy_model, as_tensor_module(deploy_model)),
    }
    inputs = random_batch(input_shape, batch_size, device, seed)
    results = {
        name: BenchmarkResult(
            name=name, device=str(device), batch_size=batch_size,
            input_shape=tuple(input_shape), warmup=warmup,
            params=sum(p.numel() for p in m.parameters()))
        for name, (m, _) in forms.items()
    }

    with _inference_context(device):
        outs = {name: flatten_tensors(first_forward(module, m, inputs))
                for name, (m, module) in forms.items()}
        max_abs_diff = max(
            ((a.float() - b.float()).abs().max().item()
             for a, b in zip(outs['train'], outs['deploy'])), default=0.)
        del outs
        _time_interleaved({name: module for name, (_, module) in
                           forms.items()}, results, inputs, device, warmup,
                          iters, rounds, verbose)
    return TrainDeployComparison(
        train=results['train'], deploy=results['deploy'],
        max_abs_diff=max_abs_diff)


@dataclass
class ModelComparison:
    """Two models timed side by side, each in its deploy form.

    Args:
        first (BenchmarkResult): The first model.
        second (BenchmarkResult): The second model, the reference of the
            ratio.
        deployed (bool): Whether both ran deployed (deploy form) or as
            built (training structure, eval mode).
    """
    first: BenchmarkResult
    second: BenchmarkResult
    deployed: bool = True

    @property
    def speed_ratio(self) -> float:
        """First images/s over second images/s (> 1: first is faster)."""
        return self.first.images_per_s / self.second.images_per_s

    def to_dict(self) -> dict:
        return dict(first=self.first.to_dict(), second=self.second.to_dict(),
                    deployed=self.deployed, speed_ratio=self.speed_ratio)


def build_timm_model(name: str) -> nn.Module:
    """A timm model with random weights (``pretrained=False``: no network).

    Args:
        name (str): A name ``timm.list_models()`` knows, e.g.
            ``'swin_base_patch4_window7_224'``.

    Returns:
        nn.Module: The model, ImageNet head (timm's default).

    Raises:
        ValueError: for a name timm does not know (with close names).
        ImportError: when timm is not installed.
    """
    import difflib

    import timm
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=4)
        hint = f'; close names: {", ".join(close)}' if close else ''
        raise ValueError(f'timm has no model named {name!r}{hint} (see '
                         'timm.list_models())')
    return timm.create_model(name, pretrained=False)


def compare_models(first: nn.Module,
                   second: nn.Module,
                   input_shape: Sequence[int] = (3, 224, 224),
                   batch_size: int = 1,
                   warmup: int = 5,
                   iters: int = 30,
                   device: DeviceType = None,
                   rounds: Optional[int] = None,
                   names: Sequence[str] = ('first', 'second'),
                   deploy: bool = True,
                   seed: int = 0,
                   verbose: bool = False) -> ModelComparison:
    """Time two models on the same batch, interleaved, each in its
    deploy form (:func:`lkmm.analysis.to_deploy_form`: deployed where
    it can be, no auxiliary head, eval mode) or, with ``deploy=False``, as
    built (eval mode).

    Args:
        first (nn.Module): A backbone, an OpenMMLab model (called with
            ``mode='tensor'``) or any module taking the batch (e.g. a timm
            model). Not modified.
        second (nn.Module): The same kinds; the reference of the ratio.
            Not modified.
        input_shape (Sequence[int]): ``(C, H, W)`` of one image, for both.
            Defaults to ``(3, 224, 224)``.
        batch_size (int): Images per forward, for both. Defaults to 1.
        warmup (int): Untimed forward passes per model. Defaults to 5.
        iters (int): Timed forward passes per model. Defaults to 30.
        device (str | torch.device, optional): None picks CUDA when
            available, else CPU.
        rounds (int, optional): Interleaved rounds; defaults to
            ``min(iters, 5)``.
        names (Sequence[str]): Labels of the two results, different.
        deploy (bool): Deploy re-parameterized branches (and drop auxiliary
            heads) first. False times the training structure in eval mode,
            e.g. SLaK's stripes as its released code runs them, instead of
            the dense KxK kernel they merge into. Defaults to True.
        seed (int): Seed of the random batch. Defaults to 0.
        verbose (bool): Print the running medians after each round.

    Returns:
        ModelComparison: Both results and the speed ratio first/second.
    """
    _check_counts(batch_size, warmup, iters)
    names = tuple(names)
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f'names must be two different labels, got {names}')
    device = resolve_device(device)
    rounds = min(iters, 5) if rounds is None else max(1, min(rounds, iters))
    prepare = to_deploy_form if deploy else \
        (lambda m: copy.deepcopy(m).eval())
    models = {name: prepare(m).to(device)
              for name, m in zip(names, (first, second))}
    modules = {name: as_tensor_module(m) for name, m in models.items()}
    inputs = random_batch(input_shape, batch_size, device, seed)
    results = {
        name: BenchmarkResult(
            name=name, device=str(device), batch_size=batch_size,
            input_shape=tuple(input_shape), warmup=warmup,
            params=sum(p.numel() for p in m.parameters()))
        for name, m in models.items()
    }
    with _inference_context(device):
        for name, module in modules.items():
            first_forward(module, models[name], inputs)
        _time_interleaved(modules, results, inputs, device, warmup, iters,
                          rounds, verbose)
    return ModelComparison(first=results[names[0]],
                           second=results[names[1]], deployed=deploy)


def format_benchmark_table(
        results: Union[TrainDeployComparison, ModelComparison,
                       Sequence[BenchmarkResult]]
) -> str:
    """A text table of benchmark results.

    Args:
        results (TrainDeployComparison | ModelComparison |
            Sequence[BenchmarkResult]): A train/deploy comparison (adds the
            deploy/train ratio column and the output difference), a
            two-model comparison (adds the ratio to the second model) or
            any list of results.

    Returns:
        str: The table, lines joined by newlines.
    """
    comparison = isinstance(results, (TrainDeployComparison,
                                      ModelComparison))
    if isinstance(results, TrainDeployComparison):
        rows, reference = [results.train, results.deploy], results.train
    elif comparison:
        rows, reference = [results.first, results.second], results.second
    else:
        rows, reference = list(results), None
    if not rows:
        return '(no benchmark results)'
    first = rows[0]
    c, h, w = first.input_shape
    head = [f'batch {first.batch_size} x {c}x{h}x{w} on {first.device}, '
            f'{first.iters} timed iters after {first.warmup} warm-up, '
            f'{torch.get_num_threads()} CPU threads']
    cols = ['model' if isinstance(results, ModelComparison) else 'form',
            'params (M)', 'images/s', 'ms/batch (median)', 'ms/batch (mean)',
            'ms/batch (min)']
    if comparison:
        cols.append(f'vs {reference.name}')
    table = []
    for r in rows:
        row = [r.name, f'{r.params / 1e6:.2f}', f'{r.images_per_s:.2f}',
               f'{r.median_ms:.2f}', f'{r.mean_ms:.2f}', f'{r.min_ms:.2f}']
        if comparison:
            row.append(f'{r.images_per_s / reference.images_per_s:.2f}x')
        table.append(row)
    widths = [max(len(x) for x in col) for col in zip(cols, *table)]

    def line(cells):
        return '  '.join(
            cell.ljust(wd) if i == 0 else cell.rjust(wd)
            for i, (cell, wd) in enumerate(zip(cells, widths)))

    rule = '-' * len(line(cols))
    lines = head + [rule, line(cols), rule] + [line(r) for r in table]
    lines.append(rule)
    if isinstance(results, TrainDeployComparison):
        lines.append(f'speed ratio deploy/train: {results.speed_ratio:.2f}x '
                     f'(images/s); max |train - deploy| output difference: '
                     f'{results.max_abs_diff:.3g}')
    elif comparison:
        form = 'in deploy form' if results.deployed else \
            'in training structure, eval'
        best = results.second.min_ms / results.first.min_ms
        lines.append(f'speed ratio {results.first.name} / '
                     f'{results.second.name}: {results.speed_ratio:.2f}x '
                     f'(images/s, both {form}); from the fastest batches: '
                     f'{best:.2f}x')
    return '\n'.join(lines)


@dataclass
class DWConvComparison:
    """One model with ``nn.Conv2d``'s depth-wise kernels vs lkmm's op.

    Args:
        mode (str): ``'train'`` (forward+backward of the training structure
            in train mode) or ``'deploy'`` (forward of the deployed form).
        torch (BenchmarkResult): With the reference path
            (``depthwise_conv_impl('torch')``).
        lkmm (BenchmarkResult): With lkmm's planned op (``'auto'``).
        max_rel_diff (float): Largest difference between the two of any
            output (and, in train mode, any parameter gradient), relative
            to that tensor's largest magnitude (at least 1e-3 of the
            largest magnitude of all of them).
    """
    mode: str
    torch: BenchmarkResult
    lkmm: BenchmarkResult
    max_rel_diff: float

    @property
    def speed_ratio(self) -> float:
        """lkmm images/s over torch images/s (> 1: lkmm is faster)."""
        return self.lkmm.images_per_s / self.torch.images_per_s

    def to_dict(self) -> dict:
        return dict(mode=self.mode, torch=self.torch.to_dict(),
                    lkmm=self.lkmm.to_dict(), max_rel_diff=self.max_rel_diff,
                    speed_ratio=self.speed_ratio)


DWCONV_MODES = ('train', 'deploy')
#: The two sides of :func:`compare_dwconv_impls`: label -> the
#: :func:`lkmm.ops.depthwise_conv_impl` it runs with.
_DWCONV_SIDES = {'nn.Conv2d': 'torch', 'lkmm': 'auto'}


def _dwconv_step(form: nn.Module, module: nn.Module, inputs: torch.Tensor,
                 mode: str, device: torch.device) -> List[torch.Tensor]:
    """One step of :func:`compare_dwconv_impls`, the thing both sides time.

    Args:
        form (nn.Module): The model (training structure or deployed form).
        module (nn.Module): ``form`` as a module taking the batch
            (:func:`lkmm.utils.model_outputs.as_tensor_module`).
        inputs (Tensor): The batch.
        mode (str): ``'train'``: forward+backward of the mean of squared
            outputs (gradients set anew); ``'deploy'``: inference forward.
        device (torch.device): Where ``form`` runs.

    Returns:
        list[Tensor]: The outputs, and in train mode every parameter
        gradient after them: what the two sides must agree on.
    """
    if mode == 'deploy':
        with _inference_context(device):
            return flatten_tensors(module(inputs))
    form.zero_grad(set_to_none=True)
    outs = flatten_tensors(module(inputs))
    sum(o.float().square().mean() for o in outs).backward()
    grads = [p.grad for p in form.parameters() if p.grad is not None]
    return [o.detach() for o in outs] + grads


def _with_dwconv_impl(impl: str, fn: Callable[[], List[torch.Tensor]]
                      ) -> List[torch.Tensor]:
    """``fn()`` with ``impl`` running the depth-wise convolutions.

    Args:
        impl (str): One of :data:`lkmm.ops.DWCONV_IMPLS`.
        fn (callable): The work, e.g. a :func:`_dwconv_step`.

    Returns:
        list[Tensor]: What ``fn`` returns.
    """
    with depthwise_conv_impl(impl):
        return fn()


def _max_rel_diff(first: Sequence[torch.Tensor],
                  second: Sequence[torch.Tensor]) -> float:
    """Largest difference of paired tensors, relative to the second's scale.

    Tensors that are zero up to rounding (e.g. gradients of a conv that
    feeds a train-mode BN through a constant) are measured against a floor,
    1e-3 of the largest magnitude of all of ``second``, not against their
    own noise.

    Args:
        first (Sequence[Tensor]): One side's outputs (and gradients).
        second (Sequence[Tensor]): The reference side's, same shapes.

    Returns:
        float: ``max |a - b| / max(max |b|, floor)`` over the pairs; 0. for
        none.
    """
    pairs = [(a.float(), b.float()) for a, b in zip(first, second)]
    floor = 1e-3 * max((b.abs().max().item() for _, b in pairs),
                       default=1.)
    return max(((a - b).abs().max().item() /
                max(b.abs().max().item(), floor, 1e-12)
                for a, b in pairs), default=0.)


def compare_dwconv_impls(model: nn.Module,
                         input_shape: Sequence[int] = (3, 224, 224),
                         batch_size: int = 1,
                         warmup: int = 1,
                         iters: int = 5,
                         device: DeviceType = None,
                         mode: str = 'train',
                         seed: int = 0) -> DWConvComparison:
    """Time a model with the reference depth-wise convolution
    (``nn.Conv2d``) and with lkmm's op, interleaved in the same run.

    Args:
        model (nn.Module): A backbone or OpenMMLab model in training
            structure; not modified (a copy runs).
        input_shape (Sequence[int]): ``(C, H, W)`` of one image.
        batch_size (int): Images per step. Defaults to 1.
        warmup (int): Untimed steps per implementation. Defaults to 1.
        iters (int): Timed steps per implementation. Defaults to 5.
        device (str | torch.device, optional): None picks CUDA when
            available, else CPU.
        mode (str): ``'train'``: a training step's forward+backward (train
            mode, loss = mean of squared outputs; no optimizer step), or
            ``'deploy'``: inference forward of the deployed form.
        seed (int): Seed of the random batch (and of drop path).

    Returns:
        DWConvComparison: Both results and the speed ratio lkmm/torch.

    Raises:
        ValueError: an unknown ``mode`` or a bad count.
    """
    if mode not in DWCONV_MODES:
        raise ValueError(f'mode must be one of {DWCONV_MODES}, got {mode!r}')
    _check_counts(batch_size, warmup, iters)
    device = resolve_device(device)
    if mode == 'train':
        form = copy.deepcopy(model).to(device).train()
    else:
        form = to_deploy_form(model).to(device)
    step = partial(_dwconv_step, form, as_tensor_module(form),
                   random_batch(input_shape, batch_size, device, seed), mode,
                   device)
    firsts = {}
    for name, impl in _DWCONV_SIDES.items():
        torch.manual_seed(seed)  # same drop-path draws for both
        firsts[name] = [t.clone() for t in _with_dwconv_impl(impl, step)]
    max_rel_diff = _max_rel_diff(*firsts.values())
    del firsts
    # Alternate who goes first from one step to the next.
    times = time_interleaved(
        {name: partial(_with_dwconv_impl, impl, step)
         for name, impl in _DWCONV_SIDES.items()},
        repeats=iters, warmup=warmup, device=device, alternate=True)
    results = {
        name: BenchmarkResult(
            name=name, device=str(device), batch_size=batch_size,
            input_shape=tuple(input_shape), warmup=warmup,
            times_ms=times[name],
            params=sum(p.numel() for p in form.parameters()))
        for name in _DWCONV_SIDES
    }
    return DWConvComparison(mode=mode, torch=results['nn.Conv2d'],
                            lkmm=results['lkmm'], max_rel_diff=max_rel_diff)


def format_dwconv_comparison(result: DWConvComparison) -> str:
    """A text table of :func:`compare_dwconv_impls`' result."""
    what = ('training step (forward+backward, train mode)'
            if result.mode == 'train' else 'deployed inference forward')
    table = format_benchmark_table([result.torch, result.lkmm])
    return (f'{what}, depth-wise convolutions by nn.Conv2d vs lkmm\n'
            f'{table}\nspeed ratio lkmm/nn.Conv2d: {result.speed_ratio:.2f}x '
            f'(images/s); max relative output/gradient difference: '
            f'{result.max_rel_diff:.3g}')
