"""Per-source bounded shortest-path searches whose cost follows the reached region.

Per-facility isochrones and siting coverage matrices need one bounded search per source: tens
of thousands of small searches, each reaching a few hundred to a few thousand nodes of a graph
that may have millions. :class:`BoundedSearch` keeps one workspace for all of them (a distance
array of size N, heap arrays and a list of touched nodes) and, after each search, restores only
the entries that search touched. A search then costs O(R log R) for R reached nodes plus their
arcs, whatever the size of the graph.

Why a hand-written heap in numba, not a library: ``scipy.sparse.csgraph.dijkstra`` allocates
and fills an N-sized distance row (and scans it on output) for every source, so even with
``limit=`` it pays O(N) per source, milliseconds at a million nodes; Python's ``heapq`` costs
about a microsecond per operation in the interpreter and has no decrease-key; numba offers no
priority queue over typed arrays. The kernel below therefore carries its own indexed binary
heap (with decrease-key, so each node sits in the heap at most once and the heap arrays never
need more than N slots).

Compilation is lazy: importing this module imports neither numba nor compiles anything (the
CLI starts faster); the kernel is compiled, or loaded from numba's on-disk cache, on the first
search.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, cast

import numpy as np

__all__ = ["BoundedSearch", "compile_kernel", "grown", "sorted_by_key"]

_K = TypeVar("_K", bound=Callable[..., Any])


def _bounded_searches(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray,
    seed_ptr: np.ndarray,
    seed_nodes: np.ndarray,
    seed_dist: np.ndarray,
    limit: float,
    dist: np.ndarray,
    heap_pos: np.ndarray,
    heap_key: np.ndarray,
    heap_node: np.ndarray,
    touched: np.ndarray,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Run one bounded multi-seed Dijkstra per source; the kernel compiled by numba.

    Plain Python as written (usable as is, slowly, for debugging); :func:`_compiled` wraps it
    with ``numba.njit``.

    Parameters
    ----------
    indptr, indices, weights
        The CSR graph; ``weights`` must be non-negative.
    seed_ptr, seed_nodes, seed_dist
        Source ``s`` starts from ``seed_nodes[seed_ptr[s]:seed_ptr[s + 1]]`` at the matching
        ``seed_dist`` offsets.
    limit
        Largest distance reported (inclusive).
    dist
        Workspace of size N, all ``inf`` on entry; left all ``inf`` on return.
    heap_pos
        Workspace of size N, all ``-1`` on entry (a node's slot in the heap, or -1 when it is
        not in the heap); left all ``-1`` on return.
    heap_key, heap_node, touched
        Scratch arrays of size N (any content); ``heap_node`` doubles as the sort buffer.
    capacity
        Initial size of the output buffers (they grow by doubling).

    Returns
    -------
    ptr, nodes, dist
        CSR-like results: source ``s`` reached ``nodes[ptr[s]:ptr[s + 1]]`` (ascending) at
        distances ``dist[ptr[s]:ptr[s + 1]]``.
    n_pops
        Heap pops over all sources. With non-negative arc lengths a popped node can never be
        improved again, so this equals ``len(nodes)``; more means the heap is out of order (a
        label-correcting search would still find the right distances, only slower).
    """
    n_sources = seed_ptr.shape[0] - 1
    ptr = np.empty(n_sources + 1, dtype=np.int64)
    ptr[0] = 0
    capacity = max(capacity, 16)
    out_nodes = np.empty(capacity, dtype=indices.dtype)
    out_dist = np.empty(capacity, dtype=np.float64)
    n_out = 0
    n_pops = 0
    counts = np.empty(256, dtype=np.int64)
    n_bits = 0  # node indices fit in n_bits bits
    while (1 << n_bits) < dist.shape[0]:
        n_bits += 1
    for s in range(n_sources):
        n_touched = 0
        size = 0  # heap entries
        # The seeds are the arcs of a virtual start node at distance 0: the first round of the
        # loop relaxes them, every later round pops the nearest node and relaxes its arcs.
        from_seeds = True
        d = 0.0
        u = 0
        lo = seed_ptr[s]
        hi = seed_ptr[s + 1]
        while True:
            if not from_seeds:
                if size == 0:
                    break
                # pop the minimum, then sift the last entry down from the root
                d = heap_key[0]
                u = heap_node[0]
                heap_pos[u] = -1
                size -= 1
                n_pops += 1
                if size > 0:
                    last_key = heap_key[size]
                    last_node = heap_node[size]
                    i = 0
                    while True:
                        c = 2 * i + 1
                        if c >= size:
                            break
                        if c + 1 < size and heap_key[c + 1] < heap_key[c]:
                            c += 1
                        if heap_key[c] >= last_key:
                            break
                        _heap_put(heap_key, heap_node, heap_pos, i, heap_key[c], heap_node[c])
                        i = c
                    _heap_put(heap_key, heap_node, heap_pos, i, last_key, last_node)
                lo = indptr[u]
                hi = indptr[u + 1]
            for a in range(lo, hi):
                if from_seeds:
                    v = seed_nodes[a]
                    nd = seed_dist[a]
                else:
                    v = indices[a]
                    nd = d + weights[a]
                # ``not (nd <= limit)`` also drops NaN offsets
                if not (nd <= limit) or not (nd < dist[v]):
                    continue
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                # insert at the end, or decrease the key in place; then sift up
                i = heap_pos[v]
                if i < 0:
                    i = size
                    size += 1
                while i > 0:
                    parent = (i - 1) >> 1
                    if heap_key[parent] <= nd:
                        break
                    _heap_put(heap_key, heap_node, heap_pos, i, heap_key[parent],
                              heap_node[parent])
                    i = parent
                _heap_put(heap_key, heap_node, heap_pos, i, nd, v)
            from_seeds = False

        # every node the search touched was reached (relaxations stop at the limit)
        if n_out + n_touched > capacity:
            capacity = max(2 * capacity, n_out + n_touched)
            out_nodes = grown(out_nodes, n_out, capacity)
            out_dist = grown(out_dist, n_out, capacity)
        # Sort the reached nodes ascending: an LSD radix sort on bytes, with the (now empty)
        # heap_node array as the second buffer. Numba's quicksort costs ~30 ns a node on
        # these unpredictable orders, about 15% of a whole search; this costs a few.
        keys = touched
        spare = heap_node
        shift = 0
        while shift < n_bits:
            counts[:] = 0
            for j in range(n_touched):
                counts[(keys[j] >> shift) & 255] += 1
            single_bucket = False
            total = 0
            for b in range(256):
                c = counts[b]
                if c == n_touched:
                    single_bucket = True  # every key has this byte: the pass would not move any
                    break
                counts[b] = total
                total += c
            if not single_bucket:
                for j in range(n_touched):
                    b = (keys[j] >> shift) & 255
                    spare[counts[b]] = keys[j]
                    counts[b] += 1
                keys, spare = spare, keys
            shift += 8
        out_nodes[n_out:n_out + n_touched] = keys[:n_touched]
        for j in range(n_out, n_out + n_touched):
            v = out_nodes[j]
            out_dist[j] = dist[v]
            dist[v] = np.inf  # reset only what this search touched
        n_out += n_touched
        ptr[s + 1] = n_out
    if n_out < capacity:
        out_nodes = out_nodes[:n_out].copy()
        out_dist = out_dist[:n_out].copy()
    return ptr, out_nodes, out_dist, n_pops


@cache
def _compiled() -> Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """The numba-compiled kernel, built (or loaded from the on-disk cache) on first use."""
    return compile_kernel(_bounded_searches)


def _heap_put(
    heap_key: np.ndarray, heap_node: np.ndarray, heap_pos: np.ndarray, i: int, key: float,
    node: int,
) -> None:
    """Put ``node`` with ``key`` into heap slot ``i`` (the sift loops' one move)."""
    heap_key[i] = key
    heap_node[i] = node
    heap_pos[node] = i


def grown(values: np.ndarray, n: int, capacity: int) -> np.ndarray:
    """A new buffer of ``capacity`` slots holding ``values[:n]`` (the rest unset).

    The kernels' output buffers grow by doubling with this (numba has no ``resize``).
    """
    out = np.empty(capacity, dtype=values.dtype)
    out[:n] = values[:n]
    return out


def sorted_by_key(key: np.ndarray, value: np.ndarray,
                  n_keys: int) -> np.ndarray:  # pragma: no cover - compiled
    """The permutation sorting rows by ``key`` (integers in ``[0, n_keys)``), then by
    ``value`` within a key, stable: a counting sort on the key and an insertion sort of each
    key's rows, for keys that hold a handful of rows each (a vertex's half-edges, an edge's
    reached stretches), where it beats ``np.lexsort`` several times. Compile it as a kernel
    or as a helper (:func:`compile_kernel`)."""
    n = key.shape[0]
    first = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(n):
        first[key[i] + 1] += 1
    for k in range(n_keys):
        first[k + 1] += first[k]
    fill = first[:-1].copy()
    perm = np.empty(n, dtype=np.int64)
    for i in range(n):
        perm[fill[key[i]]] = i
        fill[key[i]] += 1
    for k in range(n_keys):
        for i in range(first[k] + 1, first[k + 1]):
            row = perm[i]
            v = value[row]
            j = i - 1
            while j >= first[k] and value[perm[j]] > v:
                perm[j + 1] = perm[j]
                j -= 1
            perm[j + 1] = row
    return perm


#: the plain-Python helpers the kernels call, made callable from numba code on first compile
_HELPERS = (_heap_put, grown)


@cache
def _jitable(helper: Callable[..., Any]) -> None:
    """Let compiled code call ``helper`` (numba compiles it inline with its caller)."""
    from numba.extending import register_jitable

    register_jitable(helper)


def compile_kernel(kernel: _K, *helpers: Callable[..., Any]) -> _K:
    """``kernel`` compiled by numba (``nogil``, cached on disk), on first use.

    ``helpers`` are further plain-Python functions it calls (besides :data:`_HELPERS`).
    Kernels and helpers stay plain Python as written, so they run (slowly) without numba for
    debugging. ``nogil``: searches on separate objects may run in threads.

    numba's disk cache is keyed on the kernel's own file: a helper from another module
    (``_edge_grid.seg_dist`` in ``_cell_snap``'s and ``_block_kernels``' kernels) is compiled
    into it, and editing only the helper leaves those kernels on the old code until their
    cache goes (delete the ``__pycache__/*.nbi``/``*.nbc`` files after such an edit).
    """
    from numba import njit

    # one dispatcher per kernel: two threads first asking for a kernel at once (the ``@cache``
    # factories of its callers do not lock) would otherwise each load it from the disk cache
    with _COMPILING:
        dispatcher = _COMPILED.get(kernel)
        if dispatcher is None:
            for helper in (*_HELPERS, *helpers):
                _jitable(helper)
            dispatcher = _COMPILED[kernel] = njit(cache=True, nogil=True)(kernel)
    return cast(_K, dispatcher)


#: :func:`compile_kernel`'s dispatchers, by kernel, and the lock that makes them
_COMPILED: dict[Callable[..., Any], Any] = {}
_COMPILING = threading.Lock()


def _index_array(a: Any, name: str) -> np.ndarray:
    """``a`` as a contiguous 1-D int32 or int64 array (no copy when it already is one)."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype not in (np.int32, np.int64):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
    return np.ascontiguousarray(arr)


class BoundedSearch:
    """Bounded Dijkstra searches from many sources over one graph, reusing one workspace.

    Parameters
    ----------
    indptr, indices, weights
        A CSR adjacency (for example ``WalkNetwork.csr.indptr`` etc.): the arcs out of node
        ``u`` go to ``indices[indptr[u]:indptr[u + 1]]`` with lengths ``weights[...]``.
        ``indptr`` and ``indices`` may be int32 or int64 (other integer types are converted);
        weights must be finite or ``inf``, and non-negative. Explicit zeros are arcs of length
        zero. The arrays are kept by reference, not copied: do not modify them afterwards.
    n_nodes
        N, the number of nodes (``len(indptr) - 1``).

    Notes
    -----
    The object holds about ``N * (16 + 3 * itemsize(indices))`` bytes of workspace (the heap
    and touched-node arrays are only written, and so paged in, as far as searches reach).
    Calls on one object are serialised by a lock; for parallel searches give each thread its
    own object (the kernel releases the GIL).

    Examples
    --------
    >>> search = BoundedSearch.from_csr(net.csr)  # doctest: +SKIP
    >>> nodes, dist = search.run(np.array([u, v]), np.array([12.0, 30.5]), 1200.0)  # doctest: +SKIP
    """

    def __init__(
        self, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, n_nodes: int
    ) -> None:
        n = int(n_nodes)
        if n < 0:
            raise ValueError(f"n_nodes must be >= 0, got {n_nodes}")
        indptr = _index_array(indptr, "indptr")
        indices = _index_array(indices, "indices")
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        if indptr.shape[0] != n + 1:
            raise ValueError(f"indptr has {indptr.shape[0]} entries; n_nodes={n} needs {n + 1}")
        n_arcs = int(indptr[-1])
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr must start at 0 and never decrease")
        if indices.shape[0] != n_arcs or weights.shape != (n_arcs,):
            raise ValueError(
                f"indptr[-1] = {n_arcs} arcs, but indices has {indices.shape[0]} entries and "
                f"weights {weights.shape[0] if weights.ndim == 1 else weights.shape}"
            )
        # the kernel does no bounds checks: refuse anything that would make it read out of range
        if n_arcs and (indices.min() < 0 or indices.max() >= n):
            raise ValueError(f"indices must lie in [0, {n})")
        if n_arcs and not weights.min() >= 0:  # also catches NaN
            raise ValueError("weights must be non-negative numbers (no NaN)")
        self.n_nodes = n
        self.indptr = indptr
        self.indices = indices
        self.weights = weights
        ws_int = indices.dtype
        self._dist = np.full(n, np.inf)
        self._heap_pos = np.full(n, -1, dtype=ws_int)
        self._heap_key = np.empty(n, dtype=np.float64)
        self._heap_node = np.empty(n, dtype=ws_int)
        self._touched = np.empty(n, dtype=ws_int)
        self._clean = True
        self._last_pops = 0  # heap pops in the last call (a self-check for the tests)
        self._lock = threading.Lock()

    @classmethod
    def from_csr(cls, csr: Any) -> BoundedSearch:
        """Build from a ``scipy.sparse`` CSR matrix (``WalkNetwork.csr``), explicit zeros kept.

        Parameters
        ----------
        csr
            A square CSR matrix or array whose stored entries are arc lengths.

        Returns
        -------
        BoundedSearch
        """
        n_rows, n_cols = csr.shape
        if n_rows != n_cols:
            raise ValueError(f"the adjacency must be square, got shape {csr.shape}")
        return cls(csr.indptr, csr.indices, csr.data, n_rows)

    # -- searches ---------------------------------------------------------------------------
    def run(
        self, seed_nodes: np.ndarray, seed_dist: np.ndarray, limit: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every node within ``limit`` of a virtual start with arcs to the seeds.

        Parameters
        ----------
        seed_nodes
            Node indices the search starts from (a point snapped onto edge ``e`` gives
            ``edge_u[e]`` and ``edge_v[e]``). Repeated nodes keep their smallest offset.
        seed_dist
            Distance already travelled at each seed (``snap_dist + along`` and
            ``snap_dist + length - along``). Seeds farther than ``limit``, or NaN, are ignored.
        limit
            Largest distance reported; a node at exactly ``limit`` is included. ``inf`` reaches
            the whole component(s) of the seeds.

        Returns
        -------
        nodes : numpy.ndarray
            Reached node indices, ascending, in the dtype of ``indices``.
        dist : numpy.ndarray
            Their shortest distances (float64), the same as
            ``scipy.sparse.csgraph.dijkstra`` from a virtual source gives.
        """
        seed_nodes = np.atleast_1d(np.asarray(seed_nodes))
        seed_dist = np.atleast_1d(np.asarray(seed_dist, dtype=np.float64))
        ptr = np.array([0, seed_nodes.shape[0]], dtype=np.int64)
        _, nodes, dist = self.run_many(ptr, seed_nodes, seed_dist, limit)
        return nodes, dist

    def run_many(
        self,
        seed_ptr: np.ndarray,
        seed_nodes: np.ndarray,
        seed_dist: np.ndarray,
        limit: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Many independent bounded searches in one compiled call.

        Parameters
        ----------
        seed_ptr
            S + 1 non-decreasing offsets, ``seed_ptr[0] == 0`` and
            ``seed_ptr[-1] == len(seed_nodes)``: source ``s`` starts from
            ``seed_nodes[seed_ptr[s]:seed_ptr[s + 1]]``. An empty range reaches nothing.
        seed_nodes, seed_dist
            All sources' seeds and their offsets, concatenated (see :meth:`run`).
        limit
            Largest distance reported, inclusive, the same for every source.

        Returns
        -------
        ptr : numpy.ndarray
            S + 1 int64 offsets into ``nodes`` and ``dist``.
        nodes : numpy.ndarray
            Source ``s`` reached ``nodes[ptr[s]:ptr[s + 1]]``, ascending within each source.
        dist : numpy.ndarray
            The matching shortest distances (float64).
        """
        seed_ptr = _index_array(seed_ptr, "seed_ptr").astype(np.int64, copy=False)
        seed_nodes = _index_array(seed_nodes, "seed_nodes").astype(np.int64, copy=False)
        seed_dist = np.ascontiguousarray(seed_dist, dtype=np.float64)
        if seed_dist.shape != seed_nodes.shape:
            raise ValueError(
                f"seed_dist has shape {seed_dist.shape}, seed_nodes {seed_nodes.shape}")
        if seed_ptr.shape[0] < 1 or seed_ptr[0] != 0 or seed_ptr[-1] != seed_nodes.shape[0]:
            raise ValueError(
                f"seed_ptr must run from 0 to len(seed_nodes) = {seed_nodes.shape[0]}")
        if np.any(np.diff(seed_ptr) < 0):
            raise ValueError("seed_ptr must never decrease")
        if seed_nodes.size and (seed_nodes.min() < 0 or seed_nodes.max() >= self.n_nodes):
            raise ValueError(f"seed_nodes must lie in [0, {self.n_nodes})")
        limit = float(limit)
        if np.isnan(limit):
            raise ValueError("limit must be a number, got NaN")
        kernel = _compiled()
        n_sources = seed_ptr.shape[0] - 1
        with self._lock:
            if not self._clean:
                # a previous call died half-way (e.g. MemoryError): start from scratch
                self._dist.fill(np.inf)
                self._heap_pos.fill(-1)
            self._clean = False
            ptr, nodes, dist, self._last_pops = kernel(
                self.indptr, self.indices, self.weights, seed_ptr, seed_nodes, seed_dist,
                limit, self._dist, self._heap_pos, self._heap_key, self._heap_node,
                self._touched, 64 * n_sources,
            )
            self._clean = True
        return ptr, nodes, dist
