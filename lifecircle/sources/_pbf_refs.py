"""Ways' node references as positions into the node arrays (int32), resolved as they are read.

A way's references are node ids (int64). The PBF read resolves them to the positions of those
nodes in the file's node arrays as each block of ways arrives: in a sorted file every node
comes before the ways, so the nodes are all known by then. Holding int32 positions instead of
int64 ids halves the largest array of the read and leaves the scan nothing to look up.
A reference to a node the file does not hold is ``-(k + 1)``, ``k`` indexing the ids of such
references (:func:`ref_ids` gives every reference's id back).

Hand-written (numba): a galloping search from the previous answer, since a way's nodes mostly
have nearby ids (several times faster than ``np.searchsorted``'s binary search from scratch
per reference), with no temporary per reference but the answer.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

__all__ = ["ref_ids", "resolve", "resolve_all"]

#: the most nodes a position can index (int32)
MAX_NODES = np.iinfo(np.int32).max


def resolve(
    ids: np.ndarray, order: np.ndarray | None, refs: np.ndarray, missing_before: int
) -> tuple[np.ndarray, np.ndarray]:
    """The positions (int32) of node ids ``refs`` among the nodes ``ids``, and the ids of the
    references not found.

    Parameters
    ----------
    ids
        Node ids, increasing (sorted by ``order`` when the file's are not).
    order
        The file positions of ``ids`` when they were sorted; None when ``ids`` is the file's.
    refs
        Node ids to look up.
    missing_before
        References already found missing (a missing reference is ``-(k + 1)``, ``k`` counted
        from this).
    """
    if not refs.shape[0]:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
    if not ids.shape[0]:
        return (-(missing_before + 1 + np.arange(refs.shape[0]))).astype(np.int32), \
            refs.astype(np.int64)
    return _lookup()(ids, np.zeros(0, dtype=np.int64) if order is None else order, refs,
                     missing_before)


def resolve_all(
    node_id: np.ndarray, nodes_sorted: bool, refs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`resolve` of ``refs`` among every node ``node_id`` (in file order, sorted here
    when ``nodes_sorted`` is False)."""
    if nodes_sorted:
        return resolve(node_id, None, refs, 0)
    order = np.argsort(node_id, kind="stable")
    return resolve(node_id[order], order, refs, 0)


def ref_ids(node_id: np.ndarray, pos: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """The node ids of references ``pos`` (positions as :func:`resolve` makes them)."""
    found = pos >= 0
    out = node_id[np.where(found, pos, 0)] if node_id.shape[0] else \
        np.zeros(pos.shape[0], dtype=np.int64)
    out[~found] = missing[-pos[~found].astype(np.int64) - 1]
    return out


@cache
def _lookup() -> Any:
    """The compiled look-up (see the module's note)."""
    from numba import njit

    @njit(cache=True, nogil=True)
    def lookup(ids: np.ndarray, order: np.ndarray, refs: np.ndarray,
               missing_before: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        n = ids.shape[0]
        out = np.empty(refs.shape[0], dtype=np.int32)
        missing = np.empty(refs.shape[0], dtype=np.int64)
        n_missing = 0
        prev = 0
        for k in range(refs.shape[0]):
            r = refs[k]
            # the first position whose id is >= r lies in (lo, hi]
            if ids[prev] < r:
                lo = prev
                step = 1
                hi = prev + 1
                while hi < n and ids[hi] < r:
                    lo = hi
                    step *= 2
                    hi = lo + step
                if hi > n:
                    hi = n
            else:
                hi = prev
                step = 1
                lo = prev - 1
                while lo >= 0 and ids[lo] >= r:
                    hi = lo
                    step *= 2
                    lo = hi - step
                if lo < -1:
                    lo = -1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if ids[mid] < r:
                    lo = mid
                else:
                    hi = mid
            if hi < n and ids[hi] == r:
                out[k] = order[hi] if order.shape[0] else hi
            else:
                missing[n_missing] = r
                n_missing += 1
                out[k] = -(missing_before + n_missing)
            prev = hi if hi < n else n - 1
        return out, missing[:n_missing].copy()

    return lookup
