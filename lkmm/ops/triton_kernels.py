"""Triton kernel bodies of :mod:`lkmm.ops.triton_depthwise_conv` (see there
for the method). Undecorated: the launcher wraps them with ``triton.jit`` /
``triton.autotune`` when a Triton part first runs, for the compiler or for
Triton's interpreter (``TRITON_INTERPRET=1``). Imports triton: import this
module only when triton is installed.
"""
import triton.language as tl

__all__ = ['depthwise_forward_kernel', 'depthwise_weight_kernel']


def depthwise_forward_kernel(x_ptr, w_ptr, b_ptr, y_ptr, N, C, H, W,
                             sxn, sxc, sxh, sxw, syn, syc, syh, syw,
                             swc, swh, sww, KH, KW, STEPS,
                             HOST_STEPS: tl.constexpr,
                             HAS_BIAS: tl.constexpr, FLIP: tl.constexpr,
                             UPCAST: tl.constexpr, PRECISION: tl.constexpr,
                             BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr,
                             BLOCK_T: tl.constexpr):
    pid_nc = tl.program_id(0)
    n = pid_nc // C
    c = pid_nc % C
    h0 = tl.program_id(1) * BLOCK_H
    w0 = tl.program_id(2) * BLOCK_W
    rows = h0 + tl.arange(0, BLOCK_H)
    cols = tl.arange(0, BLOCK_W)
    span = tl.arange(0, BLOCK_T)
    x_base = x_ptr + n.to(tl.int64) * sxn + c.to(tl.int64) * sxc
    w_base = w_ptr + c.to(tl.int64) * swc
    acc = tl.full((BLOCK_H, BLOCK_W), 0., tl.float32)
    # One flat loop over (kernel row, column chunk): Triton pipelines a
    # single loop's loads across all KH * chunks steps, where nested loops
    # would restart the pipeline at every kernel row.
    chunks = (BLOCK_W + KW - 1 + BLOCK_T - 1) // BLOCK_T
    # The interpreter cannot range over a bound computed in the kernel
    # (nor one assigned in a branch, under triton 3.6): there the launcher
    # passes it as STEPS, the same value.
    for step in range(STEPS if HOST_STEPS else KH * chunks):
        i = step // chunks
        t0 = (step - i * chunks) * BLOCK_T
        in_rows = rows + (i - KH // 2)
        row_ok = (in_rows >= 0) & (in_rows < H)
        # Input columns t0 + span, relative to w0 - KW // 2.
        in_cols = w0 - KW // 2 + t0 + span
        col_ok = (in_cols >= 0) & (in_cols < W)
        xt = tl.load(
            x_base + in_rows[:, None] * sxh + in_cols[None, :] * sxw,
            mask=row_ok[:, None] & col_ok[None, :], other=0.)
        # Tap j of output column w reads input column w + j.
        tap = t0 + span[:, None] - cols[None, :]
        tap_ok = (tap >= 0) & (tap < KW)
        if FLIP:
            tap = KW - 1 - tap
            tap_row = KH - 1 - i
        else:
            tap_row = i
        taps = tl.load(w_base + tap_row * swh + tap * sww,
                       mask=tap_ok, other=0.)
        if UPCAST:
            xt, taps = xt.to(tl.float32), taps.to(tl.float32)
        acc = tl.dot(xt, taps, acc, input_precision=PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c).to(tl.float32)
    out_cols = w0 + cols
    out_ok = (rows[:, None] < H) & (out_cols[None, :] < W)
    y_base = y_ptr + n.to(tl.int64) * syn + c.to(tl.int64) * syc
    tl.store(y_base + rows[:, None] * syh + out_cols[None, :] * syw,
             acc.to(y_ptr.dtype.element_ty), mask=out_ok)


def depthwise_weight_kernel(x_ptr, g_ptr, dw_ptr, C, H, W, ROWS,
                            ROWS_PER_PROG, sxn, sxc, sxh, sxw, sgn, sgc, sgh,
                            sgw, KH, KW, STEPS, HOST_STEPS: tl.constexpr,
                            UPCAST: tl.constexpr,
                            PRECISION: tl.constexpr, BLOCK_I: tl.constexpr,
                            BLOCK_J: tl.constexpr, BLOCK_U: tl.constexpr):
    c = tl.program_id(0)
    # (No tl.cdiv / tl.minimum: they are @jit helpers, which the
    # interpreter cannot call when triton was imported without it.)
    tiles_j = (KW + BLOCK_J - 1) // BLOCK_J
    i0 = (tl.program_id(1) // tiles_j) * BLOCK_I
    j0 = (tl.program_id(1) % tiles_j) * BLOCK_J
    split = tl.program_id(2)
    ii = i0 + tl.arange(0, BLOCK_I)
    jj = j0 + tl.arange(0, BLOCK_J)
    uu = tl.arange(0, BLOCK_U)
    x_c = x_ptr + c.to(tl.int64) * sxc
    g_c = g_ptr + c.to(tl.int64) * sgc
    acc = tl.full((BLOCK_I, BLOCK_J), 0., tl.float32)
    r_start = split * ROWS_PER_PROG
    # One flat loop over (image row, column chunk), pipelined as a whole.
    # (Counted from zero: a bound computed from program_id is a
    # one-element array, not an int, in triton 3.6's interpreter.)
    chunks = (W + BLOCK_U - 1) // BLOCK_U
    for step in range(STEPS if HOST_STEPS else  # (as in the forward)
                      ROWS_PER_PROG * chunks):
        dr = step // chunks
        u = (step - dr * chunks) * BLOCK_U + uu
        r = r_start + dr
        n = r // H
        h = r % H
        in_rows = h + ii - KH // 2
        # The last program's range may pass the last row: both loads are
        # bounded by it (past it, n reaches N).
        in_range = r < ROWS
        row_ok = (in_rows >= 0) & (in_rows < H) & (ii < KH) & in_range
        x_row = x_c + n.to(tl.int64) * sxn
        g_row = g_c + n.to(tl.int64) * sgn + h * sgh
        u_ok = u < W
        a = tl.load(x_row + in_rows[:, None] * sxh + u[None, :] * sxw,
                    mask=row_ok[:, None] & u_ok[None, :], other=0.)
        # dy[h, u - j + KW // 2]: tap j pairs input column u with
        # output column u - (j - KW // 2).
        out_cols = u[:, None] - jj[None, :] + KW // 2
        b_ok = (out_cols >= 0) & (out_cols < W) & u_ok[:, None] & \
            (jj[None, :] < KW) & in_range
        b = tl.load(g_row + out_cols * sgw, mask=b_ok, other=0.)
        if UPCAST:
            a, b = a.to(tl.float32), b.to(tl.float32)
        acc = tl.dot(a, b, acc, input_precision=PRECISION)
    out = dw_ptr + (split.to(tl.int64) * C + c) * (KH * KW)
    ok = (ii[:, None] < KH) & (jj[None, :] < KW)
    tl.store(out + ii[:, None] * KW + jj[None, :], acc, mask=ok)
