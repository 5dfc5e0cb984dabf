"""The marching-squares kernel of :mod:`.rings`: one tile's filled-contour segments.

Kept apart from the ring linking so that it can be compiled by
:func:`lifecircle._kernels.compile_kernel` (cached on disk, no closure) and fed reusable
buffers. Its segments, and their order, are those the kernel it replaced emitted (square by
square, row by row, level by level), so the rings traced from them are the same; what
changed is the work per segment (measured on the 268,569-node mosaic's 252 tiles, 35 million
segments: 3.2 s CPU before):

- the crossing on a square's side is looked up in a table of ``round((za - b - 0.5) /
  (za - zb) * SNAP)`` per label pair and level, built once by the same float operations
  (no division per segment);
- the (from, to) sides of each of the 14 cases (and of the two saddles' joined variants) are
  a table, not a loop over the four corners;
- the outputs are int32 (sides of a tile of at most ~1000 x 1000 centres, vertices in
  ``1 / SNAP`` cells of the tile) and live in per-thread buffers that only grow, so a tile
  neither writes int64 nor touches freshly mapped pages.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel

__all__ = ["segments"]

# (from, to) sides of each case's pieces, sides 0 bottom, 1 right, 2 top, 3 left; case
# = in(a) + 2 in(b) + 4 in(c) + 8 in(d) for corners a (i, j), b (i+1, j), c (i+1, j+1),
# d (i, j+1); entry ``case + 16`` is a saddle's joined variant (mean of the corners in).


def _piece_table() -> np.ndarray:
    table = np.full((32, 4), -1, dtype=np.int64)
    for case in range(1, 15):
        ins = [(case >> s) & 1 for s in range(4)]
        f = t = -1
        for s in range(4):
            if ins[s] and not ins[(s + 1) % 4]:
                f = s
            elif ins[(s + 1) % 4] and not ins[s]:
                t = s
        table[case, :2] = f, t
    table[5] = 0, 3, 2, 1
    table[5 + 16] = 0, 1, 2, 3
    table[10] = 1, 0, 3, 2
    table[10 + 16] = 3, 0, 1, 2
    return table


_PIECES = _piece_table()


@cache
def _crossings(n_levels: int, snap: int) -> np.ndarray:
    """``round((za - b - 0.5) / (za - zb) * snap)`` at ``[(za * 256 + zb) * n_levels + b]``
    for labels ``za != zb`` (uint8) and levels ``b``: where level ``b`` crosses the side
    between centres labelled ``za`` and ``zb``, in ``1 / snap`` of the side from ``za``."""
    za = np.arange(256, dtype=np.float64)[:, None, None]
    zb = np.arange(256, dtype=np.float64)[None, :, None]
    b = np.arange(n_levels, dtype=np.float64)[None, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (za - b - 0.5) / (za - zb)
        r = np.round(frac * snap)
    r[~np.isfinite(r)] = 0
    return np.clip(r, -2**31, 2**31 - 1).astype(np.int32).reshape(-1)


def _squares(label: np.ndarray, words: np.ndarray, width: int, n_levels: int,
             pieces: np.ndarray, cross: np.ndarray, snap: int, seg_level: np.ndarray,
             seg_from: np.ndarray, seg_to: np.ndarray,
             seg_q: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray,
                                         np.ndarray]:  # pragma: no cover - compiled
    """Filled marching squares of ``{label <= b}`` for every level ``b < n_levels`` over the
    squares between ``label``'s centres, into the buffers (grown by doubling when full, and
    returned with the number of segments).

    Each boundary piece in a square is a directed segment with the region on its left, from
    the crossing on one side of the square to the crossing on another; a crossing is named
    by its side (``2 * centre + 0`` horizontal, ``+ 1`` vertical, centres ``width`` a row)
    and is the start of one segment and the end of the next. ``label`` is ``width`` centres
    wide, padded to whole 8-byte ``words`` (its view) and at least one more byte: eight
    squares whose two rows of nine corners all hold one label are skipped with two word
    compares.
    """
    height = label.shape[0]
    ones = np.uint64(0x0101010101010101)
    byte = np.uint64(0xFF)
    cap = seg_level.shape[0]
    k = 0
    for j in range(height - 1):
        for m in range((width - 2) // 8 + 1):
            w0 = words[j, m]
            if (w0 == words[j + 1, m] and w0 == (w0 & byte) * ones
                    and label[j, 8 * m + 8] == label[j, 8 * m]
                    and label[j + 1, 8 * m + 8] == label[j, 8 * m]):
                continue
            for i in range(8 * m, min(8 * m + 8, width - 1)):
                la = int(label[j, i])
                lb = int(label[j, i + 1])
                lc = int(label[j + 1, i + 1])
                ld = int(label[j + 1, i])
                lo = min(min(la, lb), min(lc, ld))
                hi = max(max(la, lb), max(lc, ld))
                if lo == hi:
                    continue
                bottom = 2 * (j * width + i)
                top = bottom + 2 * width
                left = bottom + 1
                right = bottom + 3
                total = la + lb + lc + ld
                for b in range(lo, min(hi, n_levels)):
                    case = (la <= b) + 2 * (lb <= b) + 4 * (lc <= b) + 8 * (ld <= b)
                    if (case == 5 or case == 10) and total < 4 * b + 2:
                        case += 16
                    for p in range(2):
                        f = pieces[case, 2 * p]
                        if f < 0:
                            break
                        t = pieces[case, 2 * p + 1]
                        if k == cap:  # grow the buffers (one pass, no count)
                            cap *= 2
                            n_level = np.empty(cap, dtype=seg_level.dtype)
                            n_from = np.empty(cap, dtype=seg_from.dtype)
                            n_to = np.empty(cap, dtype=seg_to.dtype)
                            n_q = np.empty((cap, 2), dtype=seg_q.dtype)
                            n_level[:k] = seg_level[:k]
                            n_from[:k] = seg_from[:k]
                            n_to[:k] = seg_to[:k]
                            n_q[:k] = seg_q[:k]
                            seg_level, seg_from, seg_to, seg_q = n_level, n_from, n_to, n_q
                        seg_level[k] = b
                        # the start crossing, in 1 / snap cells: z = n - label is
                        # interpolated linearly between the side's two centres
                        if f == 0:
                            seg_from[k] = bottom
                            r = cross[(la * 256 + lb) * n_levels + b]
                            seg_q[k, 0] = i * snap + r
                            seg_q[k, 1] = j * snap
                        elif f == 1:
                            seg_from[k] = right
                            r = cross[(lb * 256 + lc) * n_levels + b]
                            seg_q[k, 0] = (i + 1) * snap
                            seg_q[k, 1] = j * snap + r
                        elif f == 2:
                            seg_from[k] = top
                            r = cross[(ld * 256 + lc) * n_levels + b]
                            seg_q[k, 0] = i * snap + r
                            seg_q[k, 1] = (j + 1) * snap
                        else:
                            seg_from[k] = left
                            r = cross[(la * 256 + ld) * n_levels + b]
                            seg_q[k, 0] = i * snap
                            seg_q[k, 1] = j * snap + r
                        if t == 0:
                            seg_to[k] = bottom
                        elif t == 1:
                            seg_to[k] = right
                        elif t == 2:
                            seg_to[k] = top
                        else:
                            seg_to[k] = left
                        k += 1
    return k, seg_level, seg_from, seg_to, seg_q


@cache
def _kernel() -> Any:
    return compile_kernel(_squares)


_BUFFERS = threading.local()


def segments(label: np.ndarray, n_levels: int,
             snap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One tile's segments (level, from side, to side, start crossing ``(x, y)`` in
    ``1 / snap`` cells), views of this thread's buffers, valid until its next call."""
    height, width = label.shape
    # whole words, and a ninth byte after each word of squares (a square's corners all lie
    # within the first ``width`` columns, so the padding's value never decides anything)
    padded = np.zeros((height, (width // 8 + 2) * 8), dtype=np.uint8)
    padded[:, :width] = label
    bufs = getattr(_BUFFERS, "segments", None)
    if bufs is None:
        cap = 1 << 16
        bufs = (np.empty(cap, np.uint8), np.empty(cap, np.int32), np.empty(cap, np.int32),
                np.empty((cap, 2), np.int32))
    k, *grown_bufs = _kernel()(padded, padded.view(np.uint64), width, n_levels, _PIECES,
                               _crossings(n_levels, snap), snap, *bufs)
    _BUFFERS.segments = tuple(grown_bufs)
    level, seg_from, seg_to, seg_q = grown_bufs
    return level[:k], seg_from[:k], seg_to[:k], seg_q[:k]
