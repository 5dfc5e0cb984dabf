"""Elementwise array calls split over the machine's cores, in threads.

Shapely 2.2 releases the GIL inside its GEOS loops (``point_on_surface``, ``make_valid``,
``clip_by_rect``, ``intersection``, ``contains_xy``, ...), as do pyproj's ``transform`` and the
package's numba kernels (``nogil``), so the halves of one such call run on two cores at once.
The results are those of one call: each element is computed alone, and the parts are put
back in order. Threads are started per call and joined before it returns (a pool kept
alive would stop :mod:`lifecircle.outputs._background` from forking its writers).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import suppress
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np
import shapely

__all__ = ["alongside", "elementwise", "in_parts", "wait_quietly", "workers"]

_T = TypeVar("_T")
#: below this many elements a call is not split (a thread costs ~0.1 ms to start)
MIN_PART = 20_000
#: at most this many threads per call
MAX_WORKERS = 4


def workers() -> int:
    """Threads a split call uses: the cores this process may run on, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def in_parts(fn: Callable[[slice], _T], n: int, *, min_part: int | None = None,
             bounds: np.ndarray | None = None) -> list[_T]:
    """``fn`` over consecutive slices that cover ``range(n)``, one per thread, in order.

    The calling thread runs the first slice; ``fn`` must release the GIL for the split to
    pay (GEOS, pyproj, numba ``nogil``). An exception in any part is raised here.
    ``bounds``: sorted labels, one per element; a slice never splits a run of equal labels.
    """
    k = max(1, min(workers(), n // max(MIN_PART if min_part is None else min_part, 1)))
    if k == 1:
        return [fn(slice(0, n))]
    cuts = np.linspace(0, n, k + 1).astype(np.int64)
    if bounds is not None:
        # each inner cut moves forward to the start of the next run of equal labels
        starts = np.flatnonzero(np.r_[True, bounds[1:] != bounds[:-1]])
        at = np.searchsorted(starts, cuts[1:-1], side="left")
        cuts[1:-1] = np.where(at < starts.size, starts[np.minimum(at, starts.size - 1)], n)
    edges = np.unique(cuts).tolist()
    if len(edges) <= 2:
        return [fn(slice(0, n))]
    parts = [slice(a, b) for a, b in pairwise(edges)]
    k = len(parts)
    out: list[Any] = [None] * k
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            out[i] = fn(parts[i])
        except BaseException as exc:  # raised again in the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, k)]
    for t in threads:
        t.start()
    run(0)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def elementwise(fn: Callable[..., np.ndarray], *args: Any, groups: np.ndarray | None = None,
                **kwargs: Any) -> np.ndarray:
    """``fn(*args, **kwargs)`` for an elementwise ``fn``, its arrays split along the first
    axis over threads (scalars and keywords passed whole); the result as of one call.

    GEOS's prepared geometries are not thread-safe (libgeos/geos#825: their indexes are built
    lazily and some predicates keep state while they run), so no geometry object is used by
    two threads at once: a geometry passed whole is copied for each extra thread (prepared
    again if it was), and an array that repeats geometry objects comes with ``groups``, one
    label per element, equal labels for elements that share an object; the split then keeps
    each group in one thread.
    """
    n = next((a.shape[0] for a in args if isinstance(a, np.ndarray) and a.ndim), 0)
    order = None
    if groups is not None and n:
        order = np.argsort(groups, kind="stable")
        args = tuple(a[order] if isinstance(a, np.ndarray) and a.ndim else a for a in args)
        groups = np.asarray(groups)[order]

    def part(s: slice) -> np.ndarray:
        sliced = [a[s] if isinstance(a, np.ndarray) and a.ndim else
                  _own_copy(a) if s.start and isinstance(a, shapely.Geometry) else a
                  for a in args]
        return np.asarray(fn(*sliced, **kwargs))

    parts = in_parts(part, n, bounds=groups)
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    if order is not None:
        back = np.empty_like(out)
        back[order] = out
        out = back
    return out


def _own_copy(geom: Any) -> Any:
    """A copy of ``geom`` no other thread holds (prepared if ``geom`` was)."""
    copy = shapely.from_wkb(shapely.to_wkb(geom, include_srid=True))
    if shapely.is_prepared(geom):
        shapely.prepare(copy)
    return copy


def alongside(fn: Callable[[], _T]) -> Callable[[], _T]:
    """Start ``fn()`` in a thread now; the returned function waits for its result (an
    exception in ``fn`` is raised there). For work that releases the GIL while the caller
    does something else."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # raised again in the caller
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result() -> _T:
        thread.join()
        if errors:
            raise errors[0]
        return out[0]

    return result


def wait_quietly(*waits: Callable[[], object] | None) -> None:
    """Wait for each of ``waits`` (those of :func:`alongside`; ``None`` skipped), their own
    errors dropped: on the way out of a failed step, so that no thread it started is left
    working once its error is raised (a Ctrl-C still stops the wait)."""
    for wait in waits:
        if wait is not None:
            with suppress(Exception):
                wait()
