"""The per-reference part of building a :class:`~lifecircle.network.WalkNetwork` from OSM
ways: cut at missing nodes into runs, the local CRS, the geodesic steps, the projection and
the node numbering (:class:`References`). It reads only the walkable ways' references and
locations, so it can start before the read is over."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyproj

from ._errors import InputError
from ._geo import GEOD, local_crs

__all__ = ["References", "dense_unique", "index_dtype", "segment_lengths"]

#: segments whose geodesic lengths are computed at a time (bounds pyproj's three outputs)
_GEOD_CHUNK = 1 << 18


def index_dtype(n: int) -> type[np.signedinteger[Any]]:
    """int32 for indices below ``n`` where they fit, else int64."""
    return np.int32 if n < 2**31 - 1 else np.int64


def segment_lengths(lon: np.ndarray, lat: np.ndarray, last: np.ndarray, *,
                     split: bool = True) -> np.ndarray:
    """The geodesic length of each step from point ``i`` to ``i + 1`` (WGS 84), 0 where
    ``last[i]`` (a run's last point: no step follows it), in chunks split over the cores
    when ``split`` (pyproj's geodesic releases the GIL; every length is computed alone, so
    neither the split nor leaving out the steps across runs, a fifth of a city's, changes a
    value)."""
    from .sources._halves import in_parts

    out = np.zeros(lon.shape[0], dtype=np.float64)
    steps = np.flatnonzero(~last)  # (a run's last point is no step's start)

    def part(s: slice) -> None:
        for lo in range(s.start, s.stop, _GEOD_CHUNK):
            at = steps[lo:min(s.stop, lo + _GEOD_CHUNK)]
            out[at] = GEOD.inv(lon[at], lat[at], lon[at + 1], lat[at + 1])[2]

    if steps.size:
        if split:
            in_parts(part, steps.shape[0])
        else:
            part(slice(0, steps.shape[0]))
    return out


def dense_unique(ids: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """``np.unique(ids, return_inverse=True, return_counts=True)`` where each id comes with a
    dense rank (``rank``: >= 0, equal for equal ids and increasing with the id): a table of
    the ranks seen and its running count instead of a sort (at a million nodes the sort of
    the walkable ways' references took ~1 s of the build's path; this ~0.1 s). The inverse
    is int32 where the ranks fit. The table has a row per rank, so where the ranks run far
    beyond the ids (a file of many more nodes than the walkable ways use) the sort is used."""
    top = int(rank.max()) if ids.shape[0] else 0
    if not ids.shape[0] or top > 16 * ids.shape[0]:
        return np.unique(ids, return_inverse=True, return_counts=True)
    seen = np.zeros(top + 1, dtype=bool)
    seen[rank] = True
    new = np.cumsum(seen, dtype=index_dtype(seen.shape[0]))
    del seen
    inverse = new[rank]
    del new
    inverse -= 1
    counts = np.bincount(inverse)
    uniq = np.empty(counts.shape[0], dtype=ids.dtype)
    uniq[inverse] = ids
    return uniq, inverse, counts


class References:
    """The per-reference part of ``WalkNetwork.from_osm``: it reads only the walkable ways'
    references and locations, so it can start as soon as the read has them
    (``WalkNetwork.from_osm_file``), while the read lays out the areas.

    Ways are cut at references with no location (a clipped extract) into runs; runs of one
    reference are dropped. Holds the kept references and, per kept reference, its way, whether
    it starts or ends a run, the geodesic length of the step to the next one (0 at a run's
    end), its node among the distinct nodes ``uniq`` (``inverse``) and the references to that
    node (``counts``), the local CRS and the projection (in a thread: :meth:`projected`).
    """

    def __init__(self, refs: np.ndarray, way_ptr: np.ndarray, lon: np.ndarray,
                 lat: np.ndarray, path: str, *, split: bool = True,
                 rank: np.ndarray | None = None) -> None:
        """``rank``: per reference, a number >= 0 that increases with its node id wherever
        the reference has a location (the node's position in the file's id-sorted node
        arrays), or None; with it the distinct nodes are counted through a table instead of
        sorted (:func:`dense_unique`)."""
        from .sources._halves import alongside

        n_ways = way_ptr.shape[0] - 1
        way_of_ref = np.repeat(np.arange(n_ways, dtype=index_dtype(n_ways)),
                               np.diff(way_ptr))
        valid = np.isfinite(lon) & np.isfinite(lat)
        # Runs: maximal stretches of valid references within one way. A way that references
        # nodes missing from a clipped extract is cut there, never dropped whole.
        prev_same = np.zeros(refs.shape[0], dtype=bool)
        prev_same[1:] = (way_of_ref[1:] == way_of_ref[:-1]) & valid[:-1]
        starts_run = valid & ~prev_same
        # a run with a single reference has no segment: its start has no valid successor in
        # the same way
        run_ok = np.zeros(refs.shape[0], dtype=bool)
        run_ok[:-1] = prev_same[1:]
        del prev_same
        run_ok = run_ok[starts_run]  # per run, in order
        if run_ok.size:
            run_id = np.cumsum(starts_run, dtype=index_dtype(refs.shape[0])) - 1
            keep = valid & run_ok[np.maximum(run_id, 0)]
            del run_id
        else:
            keep = valid
        del run_ok, valid
        if not keep.all():  # (a whole extract keeps every reference: no copies then)
            refs, lon, lat = refs[keep], lon[keep], lat[keep]
            way_of_ref, starts_run = way_of_ref[keep], starts_run[keep]
            if rank is not None:
                rank = rank[keep]
        del keep
        if refs.size == 0:
            raise InputError(f"{path}: no walkable way has two nodes inside the extract")
        n = refs.shape[0]
        self.refs = refs
        self.way_of_ref = way_of_ref
        self.first_of_run = starts_run  # every kept run is whole: its first reference starts it
        self.last_of_run = np.ones(n, dtype=bool)
        self.last_of_run[:-1] = self.first_of_run[1:]
        self.crs = crs = local_crs(lon, lat)

        def project() -> tuple[np.ndarray, np.ndarray]:
            return pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)

        if split:
            self.projected = alongside(project)
        self.seg = segment_lengths(lon, lat, self.last_of_run, split=split)
        if not split:
            xy = project()
            self.projected = lambda: xy
        if rank is None:
            self.uniq, self.inverse, self.counts = np.unique(refs, return_inverse=True,
                                                             return_counts=True)
        else:
            self.uniq, self.inverse, self.counts = dense_unique(refs, rank)

    def release(self) -> None:
        """Let go of everything but the projection (the build holds what it still uses)."""
        for name in ("refs", "way_of_ref", "first_of_run", "last_of_run", "seg", "uniq",
                     "inverse", "counts"):
            setattr(self, name, None)
