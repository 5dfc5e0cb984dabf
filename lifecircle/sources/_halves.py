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
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np

__all__ = ["alongside", "elementwise", "in_parts", "workers"]

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


def in_parts(fn: Callable[[slice], _T], n: int, *, min_part: int = MIN_PART) -> list[_T]:
    """``fn`` over consecutive slices that cover ``range(n)``, one per thread, in order.

    The calling thread runs the first slice; ``fn`` must release the GIL for the split to
    pay (GEOS, pyproj, numba ``nogil``). An exception in any part is raised here.
    """
    k = max(1, min(workers(), n // max(min_part, 1)))
    if k == 1:
        return [fn(slice(0, n))]
    edges = np.linspace(0, n, k + 1).astype(np.int64).tolist()
    parts = [slice(a, b) for a, b in pairwise(edges)]
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


def elementwise(fn: Callable[..., np.ndarray], *args: Any, **kwargs: Any) -> np.ndarray:
    """``fn(*args, **kwargs)`` for an elementwise ``fn``, its arrays split along the first
    axis over threads (scalars and keywords passed whole); the result as of one call."""
    n = next((a.shape[0] for a in args if isinstance(a, np.ndarray) and a.ndim), 0)

    def part(s: slice) -> np.ndarray:
        sliced = [a[s] if isinstance(a, np.ndarray) and a.ndim else a for a in args]
        return np.asarray(fn(*sliced, **kwargs))

    parts = in_parts(part, n)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


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
