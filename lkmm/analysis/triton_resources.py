"""What each tile config of lkmm's Triton depth-wise kernels costs on a
Hopper GPU, read from the compiled kernels on any machine (no GPU needed):
registers, spills and shared memory (``ptxas -v`` on Triton's PTX), and
the useful fraction of the multiply-adds each tile issues on a given layer.

Useful work follows the papers' FLOP convention: a direct ``K x K``
convolution, every tap of every output counted (padding included). The
kernels issue more: the forward multiplies a Toeplitz band of
``BLOCK_W + KW - 1`` input columns (rounded up to ``BLOCK_T`` chunks) for
``KW`` useful taps per output, and every kernel pads the map or the kernel
to whole tiles. For fp32 (exact fp32 FMAs, ``input_precision='ieee'``) the
useful fraction bounds the fraction of the GPU's fp32 FMA peak the kernel
can reach; fp16/bf16 dots run on tensor cores, where that peak does not
apply.
"""
import math
import os
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence, Tuple

__all__ = ['TileResources', 'useful_fraction', 'compile_for_hopper',
           'tile_resources', 'format_resources']

#: RepLKNet Table 1's headline layer: (N, C, H, W) and K.
HEADLINE_LAYER = ((64, 384, 32, 32), 31)


@dataclass
class TileResources:
    """One kernel, tile config and dtype compiled for sm_90.

    Args:
        kernel (str): ``'forward'`` (also the input gradient) or
            ``'weight'``.
        tile (str): Blocks, warps and stages.
        dtype (str): ``'fp32'``, ``'fp16'`` or ``'bf16'``.
        registers (int): Registers per thread.
        spill_bytes (int): Spill stores per thread.
        shared_bytes (int): Shared memory per program.
        useful (float): Useful fraction of the issued multiply-adds on
            :data:`HEADLINE_LAYER`.
        fp32_peak_bound (float, optional): Highest fraction of the fp32 FMA
            peak the tile can reach there (fp32 only).
    """
    kernel: str
    tile: str
    dtype: str
    registers: int
    spill_bytes: int
    shared_bytes: int
    useful: float
    fp32_peak_bound: Optional[float]

    def to_dict(self) -> dict:
        return asdict(self)


def _padded(n: int, block: int) -> int:
    return math.ceil(n / block) * block


def useful_fraction(kernel: str, blocks: Sequence[int],
                    shape: Tuple[int, int, int, int], k: int) -> float:
    """Useful over issued multiply-adds of one kernel on one layer.

    Args:
        kernel (str): ``'forward'`` or ``'weight'``.
        blocks (Sequence[int]): The tile's three blocks (``BLOCK_H, BLOCK_W,
            BLOCK_T`` or ``BLOCK_I, BLOCK_J, BLOCK_U``).
        shape (tuple): The layer's input ``(N, C, H, W)``.
        k (int): Square kernel size (odd).
    """
    _, _, h, w = shape
    b0, b1, b2 = blocks
    if kernel == 'forward':
        # Per kernel row and output: ceil((BW + K - 1) / BT) * BT issued
        # for K useful; rows and columns padded to whole tiles.
        issued = _padded(b1 + k - 1, b2)
        return (k / issued) * (h / _padded(h, b0)) * (w / _padded(w, b1))
    if kernel == 'weight':
        # Per image row: the (KH, KW) tile padded, the row's W columns
        # padded to BLOCK_U.
        return (k * k / (_padded(k, b0) * _padded(k, b1))) * (
            w / _padded(w, b2))
    raise ValueError(f"kernel must be 'forward' or 'weight', got {kernel!r}")


def compile_for_hopper(kernel: str, dtype: str, config, flip: bool = False,
                       precision: str = 'ieee'):
    """Compile one kernel with one ``triton.Config`` for sm_90 (on any
    machine) and return triton's compiled kernel.

    Args:
        kernel (str): ``'forward'`` or ``'weight'``.
        dtype (str): ``'fp32'``, ``'fp16'`` or ``'bf16'`` (the tensors').
        config (triton.Config): Blocks, warps and stages.
        flip (bool): The forward's ``FLIP`` (input gradient).
        precision (str): The dots' ``input_precision`` (``'ieee'`` or, for
            fp32, ``'tf32x3'``).
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from lkmm.ops import triton_kernels
    fn = triton.jit(dict(
        forward=triton_kernels.depthwise_forward_kernel,
        weight=triton_kernels.depthwise_weight_kernel)[kernel])
    constexprs = dict(UPCAST=False, PRECISION=precision, HOST_STEPS=False,
                      **config.kwargs)
    if kernel == 'forward':
        constexprs.update(HAS_BIAS=True, FLIP=flip)
    signature = {}
    for name in fn.arg_names:
        if name in constexprs:
            signature[name] = 'constexpr'
        elif name == 'dw_ptr':  # fp32 partial sums
            signature[name] = '*fp32'
        elif name.endswith('_ptr'):
            signature[name] = f'*{dtype}'
        else:
            signature[name] = 'i32'
    src = ASTSource(fn=fn, signature=signature, constexprs=constexprs)
    return triton.compile(src, target=GPUTarget('cuda', 90, 32), options=dict(
        num_warps=config.num_warps, num_stages=config.num_stages))


def _ptxas_usage(ptx: str) -> Tuple[int, int]:
    """``(registers, spill store bytes)`` from ``ptxas -v`` for sm_90a."""
    from triton.backends.nvidia.compiler import get_ptxas
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'kernel.ptx')
        with open(path, 'w') as f:
            f.write(ptx)
        proc = subprocess.run(
            [get_ptxas(90).path, '-v', '--gpu-name=sm_90a', path, '-o',
             os.devnull], capture_output=True, text=True, check=True)
    text = proc.stdout + proc.stderr
    registers = re.search(r'Used (\d+) registers', text)
    spills = re.search(r'(\d+) bytes spill stores', text)
    if registers is None:
        raise RuntimeError(f'ptxas -v printed no register count:\n{text}')
    return int(registers.group(1)), int(spills.group(1)) if spills else 0


def tile_resources(dtypes: Sequence[str] = ('fp32', 'bf16'),
                   log=None) -> List[TileResources]:
    """One row per kernel, GPU tile config and dtype (the autotuner's
    table in :mod:`lkmm.ops.triton_depthwise_conv`)."""
    import triton

    from lkmm.ops import triton_depthwise_conv as tdc
    shape, k = HEADLINE_LAYER
    rows = []
    for kernel in ('forward', 'weight'):
        for config in tdc._configs(triton, kernel, interpret=False):
            blocks = list(config.kwargs.values())
            tile = (f'{"x".join(map(str, blocks))}, {config.num_warps} '
                    f'warps, {config.num_stages} stages')
            useful = useful_fraction(kernel, blocks, shape, k)
            for dtype in dtypes:
                out = compile_for_hopper(kernel, dtype, config)
                registers, spills = _ptxas_usage(out.asm['ptx'])
                rows.append(TileResources(
                    kernel, tile, dtype, registers, spills,
                    out.metadata.shared, useful,
                    useful if dtype == 'fp32' else None))
                if log is not None:
                    log(f'[tiles] {kernel} {tile} {dtype}: {registers} '
                        f'registers, {spills} B spilled, '
                        f'{out.metadata.shared} B shared')
    return rows


def format_resources(rows: Sequence[TileResources]) -> str:
    """The rows as a markdown table."""
    (n, c, h, w), k = HEADLINE_LAYER
    lines = [f'| kernel | tile (blocks, warps, stages) | dtype | registers '
             f'| spill stores (B) | shared (B) | useful at ({n}, {c}, {h}, '
             f'{w}) K={k} | fp32 FMA peak, at most |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        bound = '-' if r.fp32_peak_bound is None else \
            f'{r.fp32_peak_bound:.0%}'
        lines.append(f'| {r.kernel} | {r.tile} | {r.dtype} | {r.registers} '
                     f'| {r.spill_bytes} | {r.shared_bytes} | {r.useful:.0%} '
                     f'| {bound} |')
    return '\n'.join(lines) + '\n'
