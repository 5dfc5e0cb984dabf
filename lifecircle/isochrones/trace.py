"""One city tile's outlines traced straight from its label grid (the kernel of :mod:`.rings`).

Each ring of each level is followed square by square through the squares it crosses (marching
squares on the labels, as :mod:`.outline` traces a facility's grid), from the crossings a scan
of the tile's words finds; a ring that reaches the tile's rim stops there and is kept as a
chain, named by the grid sides it starts from and ends on, for :func:`.rings._level_rings` to
link with the next tile's chains. The rings are those the pass this replaced would give
(every square's filled-contour segments written out, then linked through a table of side to
segment): crossings in ``1 / SNAP`` of a cell, at the side's midpoint (every level crosses a
side there, see :mod:`.rings`), a saddle's inside corners kept apart (contourpy on
the indicator), a closed ring simplified from its lowest, then leftmost junction or vertex
(:func:`.simplify.simplify_ring`), a chain's vertices whole with their parts of their sides.

A crossing is a junction when the levels that cross its side (``lo .. hi - 1`` between centres
labelled ``lo`` and ``hi``) part ways in one of the side's two squares, that is when a corner
of either square holds a label strictly between ``lo`` and ``hi`` (:func:`square_between`);
its vertex is kept exactly by :mod:`.simplify` (its part is the point itself), so every level
keeps the same vertices along a stretch they share. A side on a tile's seam is tested half in
each tile: a chain records whether its last square makes the side it leaves by a junction, and
:func:`.rings._level_rings` applies it to the next chain's first vertex.

What is gone with the segment table is the work per crossing: on the 268,569-node mosaic that
pass wrote 35 million segments (four int32 and a byte each) and linked them through a
random-access table of 25 MB per thread; here a crossing is read once where the ring passes
it, and only the horizontal crossings are marked (every closed ring passes one).

A closed ring that the levels above pass the same way (every corner of every square it
passes is in at level ``b`` or out up to some level ``top``: most holes of a near band, the
unreached inside the 5-minute band) is traced and simplified once and copied for levels
``b + 1 .. top - 1`` (:func:`same_ring`); on the 268,569-node mosaic that took the five
categories' streamed rings from 5.2-5.8 to 4.8-5.2 s CPU, the same bytes.

A city tile is stamped straight into this module's padded grid (:func:`tile_grid`), and the
kernel writes the tile's rings as they are kept (int32 vertices moved to the grid's corner,
parts for the chains only): on the 268,569-node mosaic that took the tiles' outlining
(:func:`.rings.tile_rings`) from 2.5 s to 1.7 s CPU, with no copy of the labels and none of
the vertices but the one kept.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel
from .simplify import cross2, simplify_ring

__all__ = ["copied_rings", "exit_sides", "follow_ring", "same_ring",
           "square_between", "tile_grid", "trace_tile"]


def square_between(lab: np.ndarray, c0: int, W: int, lo: np.int64,
                   hi: np.int64) -> bool:  # pragma: no cover - compiled
    """Whether a corner of the square whose lower left centre is ``c0`` (rows ``W`` apart)
    holds a label strictly between ``lo`` and ``hi``: then the levels ``lo .. hi - 1`` that
    cross a side of the square (between centres ``lo`` and ``hi``) do not all leave the
    side's midpoint the same way in it."""
    for c in (c0, c0 + 1, c0 + W, c0 + W + 1):
        v = np.int64(lab[c])
        if lo < v < hi:
            return True
    return False


def exit_sides() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The side a level's line leaves a cell square by, per pattern of its corners in
    (bit 0 bottom left, 1 bottom right, 2 top right, 3 top left; -1 for the two saddles,
    whose inside corners are kept apart), and the step to the next square per side: a table instead
    of a chain of branches in the tracing loop, whose exits are hard to predict."""
    side = np.empty(16, dtype=np.int64)
    for c in range(16):
        in0 = c & 1 != 0
        in1 = c & 2 != 0
        in2 = c & 4 != 0
        in3 = c & 8 != 0
        if c == 5 or c == 10:
            side[c] = -1
        elif not in0 and in1:
            side[c] = 0
        elif not in1 and in2:
            side[c] = 1
        elif not in2 and in3:
            side[c] = 2
        else:
            side[c] = 3
    return side, np.array([0, 1, 0, -1], dtype=np.int64), np.array([-1, 0, 1, 0], dtype=np.int64)


def follow_ring(lab: np.ndarray, W: int, width: int, height: int, nl: int, b: int, mb: int,
                qi: int, qj: int, edge: int, is_chain: bool, mark: np.ndarray, nbytes: int,
                touched: np.ndarray, nt: int, exit_side: np.ndarray, step_i: np.ndarray,
                step_j: np.ndarray, snap: int,
                qx: np.ndarray, qy: np.ndarray, ilo: np.ndarray, ihi: np.ndarray,
                nq: int) -> tuple[int, int, int, int, int]:  # pragma: no cover - compiled
    """Follow level ``b``'s line from square ``(qi, qj)``, entered by side ``edge`` (0 bottom,
    1 right, 2 top, 3 left), inside on the left, appending each crossed side's vertex and
    part; a closed ring stops at its first marked horizontal crossing (bit ``mb`` of the
    ``nbytes`` bytes of ``mark`` a centre), a chain when it leaves the tile. Also the tracer
    of :mod:`.outline` (closed rings only). Returns (vertices, marks, the last side as
    ``(centre, direction)`` of a chain, the direction plus 2 when the last square makes that
    side a junction, and the lowest label above ``b`` of a corner of a square it passed
    (``nl`` when none is): every level from ``b`` to one below it has the same corners in
    and out in those squares, so the very same line, vertices and junctions."""
    last_c = -1
    last_d = -1
    top = np.int64(nl)
    while True:
        horizontal = edge == 0 or edge == 2
        ci = qi + 1 if edge == 1 else qi
        cj = qj + 1 if edge == 2 else qj
        p0 = cj * W + ci
        if horizontal:
            m = p0 * nbytes + (mb >> 3)
            bit = np.uint8(1 << (mb & 7))
            if mark[m] & bit:
                break
            mark[m] |= bit
            touched[nt] = m
            nt += 1
            p1 = p0 + 1
        else:
            p1 = p0 + W
        l0 = np.int64(lab[p0])
        l1 = np.int64(lab[p1])
        # every level crosses a side at its midpoint (contourpy's crossing of the indicator
        # ``label <= b`` at 0.5) and may cross it anywhere but its ends away from a junction
        # (:func:`.simplify.side_part`): constants, the same for every level
        r = snap >> 1
        if horizontal:
            qx[nq] = ci * snap + r
            qy[nq] = cj * snap
        else:
            qx[nq] = ci * snap
            qy[nq] = cj * snap + r
        # a junction (the levels that cross this side part ways in one of its two squares:
        # this one, and the one before it, unless that is outside the tile) is kept exactly,
        # anywhere else the line may cross the whole side (:mod:`.simplify`)
        lo_l = min(l0, l1)
        hi_l = max(l0, l1)
        pi = qi - 1 if edge == 3 else (qi + 1 if edge == 1 else qi)
        pj = qj - 1 if edge == 0 else (qj + 1 if edge == 2 else qj)
        junction = hi_l - lo_l > 1 and (
            square_between(lab, qj * W + qi, W, lo_l, hi_l)
            or (pi >= 0 and pj >= 0 and pi <= width - 2 and pj <= height - 2
                and square_between(lab, pj * W + pi, W, lo_l, hi_l)))
        if junction:
            ilo[nq] = 0
            ihi[nq] = 0
        else:
            ilo[nq] = 1 - r
            ihi[nq] = snap - 1 - r
        nq += 1
        c0 = qj * W + qi
        la = np.int64(lab[c0])
        lb = np.int64(lab[c0 + 1])
        lc = np.int64(lab[c0 + W + 1])
        ld = np.int64(lab[c0 + W])
        for v in (la, lb, lc, ld):
            if b < v < top:
                top = v
        corners = (int(la <= b) | (int(lb <= b) << 1) | (int(lc <= b) << 2)
                   | (int(ld <= b) << 3))
        # the side the line leaves by (inside on the left; a table: these branches are
        # hard to predict); a saddle keeps its two inside corners apart, as contourpy does
        # on the indicator (the square's mean, 0.5, is not above the level)
        out = exit_side[corners]
        if out < 0:
            out = (edge + 3) % 4
        ni = qi + step_i[out]
        nj = qj + step_j[out]
        if is_chain and (ni < 0 or nj < 0 or ni > width - 2 or nj > height - 2):
            # the side it leaves by, from its lower or left centre
            last_c = (qj + (1 if out == 2 else 0)) * width + qi + (1 if out == 1 else 0)
            last_d = 1 if out == 1 or out == 3 else 0
            # this square's half of the junction test of the side it leaves by (the next
            # tile's chain makes the other half on its first vertex)
            e0 = (qj + (1 if out == 2 else 0)) * W + qi + (1 if out == 1 else 0)
            e1 = e0 + (1 if out == 0 or out == 2 else W)
            m0 = np.int64(lab[e0])
            m1 = np.int64(lab[e1])
            if square_between(lab, c0, W, min(m0, m1), max(m0, m1)):
                last_d += 2
            break
        qi = ni
        qj = nj
        edge = (out + 2) % 4
    return nq, nt, last_c, last_d, int(top)


def same_ring(same_top: np.ndarray, same_at: np.ndarray, same_n: np.ndarray, m: int,
              top: int, b: int, at: int, n: int, mark: np.ndarray, touched: np.ndarray,
              nt0: int, nt: int) -> None:  # pragma: no cover - compiled
    """Record the closed ring of level ``b`` just traced from start ``m`` (its ``n`` kept
    vertices at ``at``) for the levels ``b + 1 .. top - 1``, which pass it the same way, and
    mark its horizontal crossings (``touched[nt0:nt]``, one mark byte a centre) for them, so
    that they copy it at that start and start nowhere else on it."""
    same_top[m] = top
    same_at[m] = at
    same_n[m] = n
    bits = np.uint8(((1 << top) - 1) & ~((1 << (b + 1)) - 1))
    for t in range(nt0, nt):
        mark[touched[t]] |= bits


def _trace_tile(lab: np.ndarray, words: np.ndarray, W: int, width: int, height: int,
                nl: int, snap: int, gi0: int,
                gj0: int, width_g: int, ox: int, oy: int, mark: np.ndarray, nbytes: int,
                exit_side: np.ndarray, step_i: np.ndarray, step_j: np.ndarray,
                starts: np.ndarray, ns: int,
                touched: np.ndarray, qx: np.ndarray, qy: np.ndarray, ilo: np.ndarray,
                ihi: np.ndarray, tx: np.ndarray, ty: np.ndarray, out_q: np.ndarray,
                out_iv: np.ndarray, r_start: np.ndarray, r_size: np.ndarray,
                r_level: np.ndarray, r_chain: np.ndarray, r_head: np.ndarray,
                r_tail: np.ndarray, r_joint: np.ndarray, reuse: bool
                ) -> tuple[int, int, int, int]:  # pragma: no cover - compiled
    """Every level's rings of one tile (``lab`` flat, rows ``W`` bytes apart, ``words`` its
    view; ``width`` x ``height`` centres, the columns beyond ``width`` ignored; ``starts``
    the ``ns`` horizontal crossings :func:`_pad_bound` found, where closed rings start) into the
    ``out_*`` and ``r_*`` buffers (large enough: see :func:`trace_tile`), by level, closed
    rings (simplified) before chains (whole, with their parts and end keys): the vertices
    (int32) moved by ``(ox, oy)``, the parts of the chains' vertices only, in their order.
    ``mark`` holds ``nbytes`` bytes a centre, bit ``b`` for level ``b``'s horizontal crossing
    from that centre (all 0, and left so). Returns (vertices, chain vertices, rings, closed
    rings copied from a lower level: see ``reuse``).

    With ``reuse`` (and at most 8 levels), a closed ring that the levels above pass the same
    way (:func:`follow_ring`'s last value: in a city, most holes of a near band, which the
    levels up to the unreached pass alike) is traced and simplified once: its crossings are
    marked for those levels and they copy its kept vertices at its start, their first start
    of it too (the scan order is the same for all), so the output is the same as without."""
    nt = 0
    nq = 0  # closed rings' and chains' vertices in qx.. before they are ordered
    # a closed ring that higher levels pass the same way, by its start: the levels below
    # ``same_top``, where its kept vertices are and how many
    same_top = np.zeros(ns, dtype=np.int64)
    same_at = np.empty(ns, dtype=np.int64)
    same_size = np.empty(ns, dtype=np.int64)
    nr = 0
    copied = 0  # closed rings copied from a lower level's
    k = 0  # ordered output vertices
    kc = 0  # the chains' among them (their parts in out_iv)
    for b in range(nl):
        r0 = nr
        # chains: from every rim side where the line enters the tile
        for e in range(4):
            n_side = width - 1 if e % 2 == 0 else height - 1
            for t in range(n_side):
                if e == 0:  # bottom rim, entering upwards: the left centre in
                    c0 = t
                    c1 = t + 1
                    qi, qj, edge = t, 0, 0
                elif e == 2:  # top rim, entering downwards: the right centre in
                    c0 = (height - 1) * W + t + 1
                    c1 = (height - 1) * W + t
                    qi, qj, edge = t, height - 2, 2
                elif e == 1:  # right rim, entering westwards: the lower centre in
                    c0 = t * W + width - 1
                    c1 = (t + 1) * W + width - 1
                    qi, qj, edge = width - 2, t, 1
                else:  # left rim, entering eastwards: the upper centre in
                    c0 = (t + 1) * W
                    c1 = t * W
                    qi, qj, edge = 0, t, 3
                if not (lab[c0] <= b and lab[c1] > b):
                    continue
                ci = qi + 1 if edge == 1 else qi
                cj = qj + 1 if edge == 2 else qj
                begin = nq
                nq, nt, last_c, last_d, _ = follow_ring(
                    lab, W, width, height, nl, b, b, qi, qj, edge, True, mark, nbytes, touched,
                    nt, exit_side, step_i, step_j, snap, qx, qy, ilo, ihi, nq)
                d = 0 if edge == 0 or edge == 2 else 1
                r_start[nr] = begin
                r_size[nr] = nq - begin
                r_level[nr] = b
                r_chain[nr] = 1
                r_head[nr] = (2 * ((gj0 + cj) * width_g + gi0 + ci) + d) * nl + b
                r_tail[nr] = (2 * ((gj0 + last_c // width) * width_g + gi0 + last_c % width)
                              + (last_d & 1)) * nl + b
                r_joint[nr] = last_d >> 1
                nr += 1
        n_chains = nr - r0
        # closed rings: from every horizontal crossing of the level no ring passed yet
        for m in range(ns):
            s = starts[m]
            la = lab[s]
            lb = lab[s + 1]
            if not (min(la, lb) <= b < max(la, lb)):
                continue
            if same_top[m] > b:
                # a lower level's ring from this start that this level passes the same way
                # (its first start in scan order for both): its kept vertices again
                src = same_at[m]
                kept = same_size[m]
                for t in range(kept):
                    out_q[k + t, 0] = out_q[src + t, 0]
                    out_q[k + t, 1] = out_q[src + t, 1]
                copied += 1
            else:
                j = s // W
                i = s - j * W
                if mark[s * nbytes + (b >> 3)] & np.uint8(1 << (b & 7)):
                    continue
                if la > b:
                    qi, qj, edge = i, j - 1, 2
                else:
                    qi, qj, edge = i, j, 0
                begin = nq
                nt0 = nt
                nq, nt, _, _, top = follow_ring(lab, W, width, height, nl, b, b, qi, qj, edge,
                                                False, mark, nbytes, touched, nt, exit_side,
                                                step_i, step_j, snap, qx, qy, ilo, ihi, nq)
                kept = simplify_ring(qx, qy, ilo, ihi, begin, nq - begin, snap, tx, ty)
                for t in range(kept):
                    out_q[k + t, 0] = tx[t] + ox
                    out_q[k + t, 1] = ty[t] + oy
                nq = begin  # the closed ring's traced vertices are done with
                if reuse and top > b + 1 and nbytes == 1:
                    # levels b + 1 .. top - 1 have this very ring (:func:`follow_ring`): it
                    # is copied at this start, its crossings marked for them now (holes of
                    # a near band: traced once, not once a level)
                    same_ring(same_top, same_at, same_size, m, top, b, k, kept, mark, touched,
                              nt0, nt)
            r_start[nr] = k
            r_size[nr] = kept
            r_level[nr] = b
            r_chain[nr] = 0
            r_head[nr] = -1
            r_tail[nr] = -1
            r_joint[nr] = 0
            k += kept
            nr += 1
        # the level's chains after its closed rings, whole
        for r in range(r0, r0 + n_chains):
            s = r_start[r]
            for v in range(r_size[r]):
                out_q[k + v, 0] = qx[s + v] + ox
                out_q[k + v, 1] = qy[s + v] + oy
                out_iv[kc + v, 0] = ilo[s + v]
                out_iv[kc + v, 1] = ihi[s + v]
            r_start[r] = k
            k += r_size[r]
            kc += r_size[r]
        nq = 0
        # ring records of the level: closed (r0 + n_chains ..) before chains (r0 ..)
        _rotate(r_start, r_size, r_level, r_chain, r_head, r_tail, r_joint, r0, n_chains, nr)
    for t in range(nt):
        mark[touched[t]] = 0
    return k, kc, nr, copied


def _rotate(r_start: np.ndarray, r_size: np.ndarray, r_level: np.ndarray,
            r_chain: np.ndarray, r_head: np.ndarray, r_tail: np.ndarray, r_joint: np.ndarray,
            r0: int, n_first: int, nr: int) -> None:  # pragma: no cover - compiled
    """Records ``r0 .. r0 + n_first`` moved after ``r0 + n_first .. nr`` (order kept)."""
    if n_first == 0 or n_first == nr - r0:
        return
    for arr in (r_start, r_size, r_head, r_tail):
        tmp = arr[r0:nr].copy()
        n_rest = nr - r0 - n_first
        arr[r0:r0 + n_rest] = tmp[n_first:]
        arr[r0 + n_rest:nr] = tmp[:n_first]
    for arr8 in (r_level, r_chain, r_joint):
        tmp8 = arr8[r0:nr].copy()
        n_rest = nr - r0 - n_first
        arr8[r0:r0 + n_rest] = tmp8[n_first:]
        arr8[r0 + n_rest:nr] = tmp8[:n_first]


def _pad_bound(label: np.ndarray, padded: np.ndarray, words: np.ndarray, width: int,
               W: int, copy: bool, starts: np.ndarray,
               few: bool) -> tuple[int, int]:  # pragma: no cover
    """``label`` copied into ``padded`` (rows ``W`` bytes, the columns beyond ``width``
    repeating the last one; no copy, only the columns beyond, unless ``copy``: ``label`` is
    ``padded``); returns a bound on every level's vertices (the label steps between all
    neighbours, summed as the exclusive-or of their bytes: ``|a - b| <= a ^ b``) and how many
    horizontal crossings of the rows inside the tile it wrote to ``starts`` (closed rings
    start there, :func:`_trace_tile`): one scan of the tile for both. With ``few`` (labels
    below 32) a word's eight steps are summed by one multiplication, and only the horizontal
    ones are walked byte by byte (on the 268,569-node mosaic this scan was 8 % of the
    streamed rings' CPU, walking every byte up to a word's last step)."""
    height = label.shape[0]
    for j in range(height):
        if copy:
            for i in range(width):
                padded[j, i] = label[j, i]
        for i in range(width, W):
            padded[j, i] = label[j, width - 1]
    byte = np.uint64(0xFF)
    s8 = np.uint64(8)
    s56 = np.uint64(56)
    ones = np.uint64(0x0101010101010101)
    per_row = W // 8
    need = 0
    ns = 0
    for j in range(height):
        inner = 0 < j < height - 1
        row_end = j * W + width - 1  # a start's right centre lies in the tile
        for m in range(j * per_row, (j + 1) * per_row):
            word = words[m]
            nxt = words[m + 1] if m + 1 < words.shape[0] else word
            dh = word ^ ((word >> s8) | (nxt << s56))
            dv = word ^ words[m + per_row] if j + 1 < height else np.uint64(0)
            if dh == 0 and dv == 0:
                continue
            if few:  # the bytes summed at once (labels below 32: no byte sum carries)
                need += int((dh * ones) >> s56) + int((dv * ones) >> s56)
            else:
                for t in range(8):
                    sh = np.uint64(8 * t)
                    need += int((dh >> sh) & byte) + int((dv >> sh) & byte)
            if not inner:
                continue
            p = 8 * m
            while dh != 0:
                if dh & byte and p < row_end:
                    starts[ns] = p
                    ns += 1
                dh >>= s8
                p += 1
    return need, ns


@cache
def _kernel() -> Any:
    return compile_kernel(_trace_tile, follow_ring, square_between, same_ring, _rotate,
                          simplify_ring, cross2)


@cache
def _pad_kernel() -> Any:
    return compile_kernel(_pad_bound)


_SPACE = threading.local()


def _space(name: str, n: int, dtype: Any, shape: tuple[int, ...] = ()) -> np.ndarray:
    """This thread's workspace ``name`` of at least ``n`` rows (kept and grown: fresh arrays
    of a tile's size cost a page fault every 4 KiB)."""
    arr = getattr(_SPACE, name, None)
    if arr is None or arr.shape[0] < n:
        arr = np.empty((max(n, 1 << 14), *shape), dtype=dtype)
        setattr(_SPACE, name, arr)
    return arr


def _padded_width(width: int) -> int:
    """Row length of a tile ``width`` centres wide in the tracer's workspace: whole words and
    at least one more column (never read)."""
    return (width // 8 + 1) * 8


def tile_grid(height: int, width: int, fill: int) -> np.ndarray:
    """This thread's tile workspace as a ``height x W`` grid (rows of
    :func:`_padded_width` bytes) filled with ``fill``: a label grid stamped here (its first
    ``width`` columns) is traced by :func:`trace_tile` without a copy, until this thread's next
    call of either."""
    W = _padded_width(width)
    padded = _space("padded", height * W, np.uint8)[:height * W].reshape(height, W)
    padded.fill(fill)
    return padded


def trace_tile(label: np.ndarray, n_levels: int, snap: int,
               grid_offset: tuple[int, int], width_g: int,
               offset: tuple[int, int] = (0, 0),
               width: int | None = None, reuse: bool = True) -> tuple[np.ndarray, ...]:
    """The outlines of ``{label <= b}`` of every level ``b`` over one tile's squares:
    (vertices, the parts of the chains' vertices, sizes, level, chain, head, tail), rings by
    level, closed rings (simplified) before chains; the vertices int32, in ``1 / snap`` of a
    cell from the tile's centre ``-offset`` (which the caller keeps within int32); views of
    this thread's buffers, valid until its next call. With ``width``, ``label`` is
    :func:`tile_grid`'s grid, of which the first ``width`` columns are the tile's. With
    ``reuse`` (the default), a closed ring that the levels above pass the same way is traced
    and simplified once and copied for them, the output the same as without (``False``
    traces it for each level: a check for the tests); :func:`copied_rings` counts the copies.
    """
    stamped = width is not None
    height = label.shape[0]
    if width is None:
        width = label.shape[1]
    if height < 2 or width < 2:
        _SPACE.copied = 0
        z = np.zeros(0, np.int64)
        return (np.zeros((0, 2), np.int32), np.zeros((0, 2), np.int16), z, z.astype(np.uint8),
                z.astype(np.uint8), z, z, z.astype(np.uint8))
    W = _padded_width(width)
    padded = _space("padded", height * W, np.uint8)[:height * W].reshape(height, W)
    if stamped and not np.shares_memory(label, padded):
        raise ValueError("a stamped tile must be tile_grid's grid")
    flat = padded.reshape(-1)
    starts = _space("starts", height * W, np.int64)
    need, ns = _pad_kernel()(label, padded, flat.view(np.uint64), width, W, not stamped,
                             starts, n_levels < 32)
    n_rings = need // 2 + 4 * (width + height) * n_levels + 1
    nbytes = (n_levels + 7) // 8
    mark = getattr(_SPACE, "mark", None)
    if mark is None or mark.shape[0] < height * W * nbytes:
        mark = np.zeros(height * W * nbytes, np.uint8)  # the kernel leaves it all 0
        _SPACE.mark = mark
    out = _kernel()(
        flat, flat.view(np.uint64), W, width, height, n_levels,
        snap, grid_offset[0], grid_offset[1],
        width_g, offset[0] * snap, offset[1] * snap, mark, nbytes, *exit_sides(),
        starts, ns,
        _space("touched", need, np.int64), _space("qx", need, np.int64),
        _space("qy", need, np.int64), _space("ilo", need, np.int16),
        _space("ihi", need, np.int16), _space("tx", need, np.int64),
        _space("ty", need, np.int64), _space("out_q", need, np.int32, (2,)),
        _space("out_iv", need, np.int16, (2,)), _space("r_start", n_rings, np.int64),
        _space("r_size", n_rings, np.int64), _space("r_level", n_rings, np.uint8),
        _space("r_chain", n_rings, np.uint8), _space("r_head", n_rings, np.int64),
        _space("r_tail", n_rings, np.int64), _space("r_joint", n_rings, np.uint8), reuse)
    k, kc, nr, _SPACE.copied = out
    return (_SPACE.out_q[:k], _SPACE.out_iv[:kc], _SPACE.r_size[:nr], _SPACE.r_level[:nr],
            _SPACE.r_chain[:nr], _SPACE.r_head[:nr], _SPACE.r_tail[:nr],
            _SPACE.r_joint[:nr])


def copied_rings() -> int:
    """How many closed rings this thread's last :func:`trace_tile` copied from a lower level
    (``reuse``) instead of tracing them again: a check for the tests that the reuse runs."""
    return int(getattr(_SPACE, "copied", 0))
