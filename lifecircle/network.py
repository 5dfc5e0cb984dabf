"""The walking network as compact arrays: a symmetric CSR graph plus an edge table.

Nodes are the junctions and ends of walkable ways; an edge is the stretch of one way between two
of them, with its full geometry, so the graph is exactly as long as the streets (the same
topology an osmnx-simplified graph has, without its per-node dictionaries). Walking ignores
one-way tags, so the CSR holds both directions of every edge.

Edge lengths are geodesic (WGS 84 ellipsoid) sums over the way's segments; geometry is kept in a
local UTM projection for snapping and output. A position along an edge is measured as a share of
the projected geometry and scaled to the geodesic length, so lengths stay exact to the
millimetre wherever the projection distorts.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import scipy.sparse as sp

from ._errors import InputError
from ._geo import local_crs
from ._network_refs import References
from ._network_refs import index_dtype as _index_dtype

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import geopandas as gpd
    import networkx as nx

    from .sources.osm import OSMData

__all__ = ["WalkNetwork", "local_crs"]

log = logging.getLogger(__name__)


#: above this many arcs out of one node, the insertion sort of :func:`_arc_order` (quadratic
#: in a node's arcs) gives way to np.lexsort
_MAX_INSERTION_DEGREE = 64
#: below this many arcs np.lexsort is quick, and no compiled kernel is loaded
_MIN_KERNEL_ARCS = 1 << 15


@cache
def _arc_order() -> Any:
    """The compiled :func:`~lifecircle._kernels.sorted_by_key` (arcs by source, then
    target), made once per process (a new dispatcher would load it from disk again)."""
    from ._kernels import compile_kernel, sorted_by_key

    return compile_kernel(sorted_by_key)


@dataclass(eq=False)
class WalkNetwork:
    """A walking network: nodes, undirected edges with geometry, and a symmetric CSR.

    Attributes
    ----------
    crs
        Projected CRS (metres) of ``x``, ``y`` and the edge coordinates.
    node_id
        OSM (or caller-given) id per node, ``int64``.
    x, y
        Projected node coordinates.
    edge_u, edge_v
        Node indices of each edge's ends (the geometry runs from ``u`` to ``v``).
    edge_key
        0, 1, ... for parallel edges between the same pair of nodes.
    edge_length_m
        Walking length of each edge in metres.
    edge_coords, edge_ptr
        All edge vertices (projected), and each edge's slice of them.
    """

    crs: pyproj.CRS
    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_key: np.ndarray
    edge_length_m: np.ndarray
    edge_coords: np.ndarray
    edge_ptr: np.ndarray
    edge_way_id: np.ndarray | None = None
    edge_highway: np.ndarray | None = None
    edge_name: np.ndarray | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    #: per-direction weights in equivalent flat metres (slope; see
    #: :func:`lifecircle.elevation.apply_dem`); ``None`` on a flat, symmetric network
    edge_weight_uv: np.ndarray | None = None
    edge_weight_vu: np.ndarray | None = None
    #: step-free facts per edge (bits of :mod:`lifecircle.edge_access`), tagged incline (%),
    #: steepest DEM grade (%); ``None`` where the source does not say
    edge_flags: np.ndarray | None = None
    edge_incline_pct: np.ndarray | None = None
    edge_max_grade_pct: np.ndarray | None = None
    #: the edges a restricted group may use (a view from ``edge_access.network_for_group``);
    #: ``None``: every edge
    edge_usable: np.ndarray | None = None
    #: ``usable_<group>`` masks recorded for the ``edges`` layer
    group_masks: dict[str, np.ndarray] = field(default_factory=dict)

    # -- sizes ------------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.node_id.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    def __repr__(self) -> str:
        return (
            f"WalkNetwork({self.n_nodes} nodes, {self.n_edges} edges, "
            f"{self.edge_length_m.sum() / 1000:.1f} km, {self.crs.to_string()})"
        )

    # -- graph arrays -------------------------------------------------------------------------
    @property
    def directed(self) -> bool:
        """Whether the two directions of an edge weigh differently (slope from a DEM)."""
        return self.edge_weight_uv is not None

    @cached_property
    def csr(self) -> sp.csr_matrix:
        """Adjacency in metres; parallel edges collapse to the shortest.

        Symmetric on a flat network; with per-direction weights (slope), arc u -> v weighs
        ``edge_weight_uv`` and v -> u ``edge_weight_vu`` (equivalent flat metres). Self-loops
        are left out (they never shorten a path). Explicit zeros are kept: a zero-length edge
        is a real connection.
        """
        keep = self.edge_u != self.edge_v
        if self.edge_usable is not None:
            keep &= self.edge_usable  # a restricted group's view: barred arcs left out
        u = self.edge_u[keep]
        v = self.edge_v[keep]
        w = self.edge_length_m[keep]
        src = np.concatenate([u, v])
        dst = np.concatenate([v, u])
        if self.edge_weight_uv is not None and self.edge_weight_vu is not None:
            wt = np.concatenate([self.edge_weight_uv[keep], self.edge_weight_vu[keep]])
        else:
            wt = np.concatenate([w, w])
        n = self.n_nodes
        # arcs by (src, dst), and the shortest of each (src, dst): a counting sort on src
        # and an insertion sort of each node's few arcs by dst (several times faster than
        # np.lexsort), then the least weight of each run of parallel arcs; a small graph, or
        # one with a hub (a caller's, not a street network), is sorted by np.lexsort instead
        if src.size < _MIN_KERNEL_ARCS or np.bincount(src).max(initial=0) > _MAX_INSERTION_DEGREE:
            order = np.lexsort((dst, src))
        else:
            order = _arc_order()(src, dst, n)
        src, dst, wt = src[order], dst[order], wt[order]
        del order
        first = np.ones(src.shape[0], dtype=bool)
        first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
        starts = np.flatnonzero(first)
        if starts.size < src.shape[0]:  # (np.fmin: a NaN only where every arc is NaN)
            wt = np.fmin.reduceat(wt, starts)
            src, dst = src[starts], dst[starts]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        index_dtype = _index_dtype(n)
        return sp.csr_matrix(
            (wt.astype(np.float64), dst.astype(index_dtype), indptr.astype(index_dtype)),
            shape=(n, n),
        )

    @cached_property
    def search_csr(self) -> sp.csr_matrix:
        """The graph searches *from facilities* run on: ``csr`` with every arc reversed.

        Residents walk to facilities, so the distance of node x to a facility f is the path
        x -> f; a search from f finds it on the reversed arcs. On a flat network that is
        ``csr`` itself (the same object).
        """
        if not self.directed:
            return self.csr
        return self.csr.transpose().tocsr()

    @cached_property
    def geometries(self) -> np.ndarray:
        """Edge geometries as a shapely array (projected), built on first use.

        Built over the cores in consecutive parts (shapely releases the GIL while GEOS makes
        them; each linestring is made from its own coordinates alone)."""
        import shapely

        from .sources._halves import in_parts

        ptr = self.edge_ptr
        counts = np.diff(ptr)

        def part(s: slice) -> np.ndarray:
            return shapely.linestrings(
                self.edge_coords[ptr[s.start] : ptr[s.stop]],
                indices=np.repeat(np.arange(s.stop - s.start), counts[s]))

        parts = in_parts(part, self.n_edges)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    @cached_property
    def components(self) -> np.ndarray:
        """Connected-component label per node (largest component first is not implied)."""
        from scipy.sparse.csgraph import connected_components

        _, labels = connected_components(self.csr, directed=False)
        return labels

    # -- tables -----------------------------------------------------------------------------
    def edges_gdf(self) -> gpd.GeoDataFrame:
        """The edge table (``u``, ``v``, ``key``, ``length_m``, ...) as a GeoDataFrame."""
        import geopandas as gpd

        data: dict[str, Any] = {
            "edge_id": np.arange(self.n_edges, dtype=np.int64),
            "u": self.node_id[self.edge_u],
            "v": self.node_id[self.edge_v],
            "key": self.edge_key.astype(np.int64),
            "length_m": self.edge_length_m,
        }
        if self.edge_way_id is not None:
            data["osm_way_id"] = self.edge_way_id
        if self.edge_highway is not None:
            data["highway"] = self.edge_highway
        if self.edge_name is not None:
            data["name"] = self.edge_name
        if self.edge_weight_uv is not None and self.edge_weight_vu is not None:
            # walking u -> v costs length_m / slope_factor_uv equivalent flat metres
            with np.errstate(divide="ignore", invalid="ignore"):
                data["slope_factor_uv"] = np.where(
                    self.edge_weight_uv > 0, self.edge_length_m / self.edge_weight_uv, 1.0
                )
                data["slope_factor_vu"] = np.where(
                    self.edge_weight_vu > 0, self.edge_length_m / self.edge_weight_vu, 1.0
                )
        for group, usable in self.group_masks.items():
            data[f"usable_{group}"] = usable
        return gpd.GeoDataFrame(data, geometry=self.geometries, crs=self.crs)

    def nodes_gdf(self) -> gpd.GeoDataFrame:
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"node_id": self.node_id},
            geometry=gpd.points_from_xy(self.x, self.y),
            crs=self.crs,
        )

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_osm_file(cls, path: str | Path) -> tuple[WalkNetwork, OSMData]:
        """Read a local OSM file (``read_osm``) and build its network (:meth:`from_osm`).

        The build starts in a thread as soon as the read has the walkable ways' references
        and locations (:class:`References`: the geodesic lengths, the projection and the
        node numbering, mostly pyproj and numpy, which release the GIL; in that one thread: the
        read's own threads keep the other core busy), while the read lays
        out the areas, relations and their tags, which is Python work: both cores work. The
        rest of the build follows in that thread once the walkable ways are read, while the
        read makes the building and POI tables, then waits for it. Measured at a million
        nodes on a quiet machine (5 runs alternating): 11.2-11.7 s against 11.6-12.2 s when
        the whole build waited for the ways; on a loaded machine the thread is starved and
        gains nothing. The result is that of ``from_osm(read_osm(path))``; an error of the
        read comes first.
        """
        from ._memory import release_freed, small_pages
        from .sources._halves import alongside, wait_quietly
        from .sources.osm import read_osm

        head: list[Callable[[], References]] = []
        started: list[Callable[[], WalkNetwork]] = []

        def early(refs: np.ndarray, way_ptr: np.ndarray, lon: np.ndarray,
                  lat: np.ndarray, rank: np.ndarray | None) -> None:
            head.append(alongside(lambda: References(refs, way_ptr, lon, lat, str(path),
                                                      split=False, rank=rank)))

        def built(ways: OSMData) -> WalkNetwork:
            net = cls._from_references(ways, head.pop()()) if head else cls.from_osm(ways)
            release_freed()  # this thread's heap: its free pages go back before the tables
            return net

        def build(ways: OSMData) -> Callable[[], object]:
            started.append(alongside(lambda: built(ways)))

            def settle() -> None:
                # (an error is raised again once the read is over, unless the read fails)
                with suppress(Exception):
                    started[0]()

            return settle

        with small_pages():  # (the build's arrays too: see small_pages)
            try:
                data = read_osm(path, on_ways=build, on_walkable=early)
            except BaseException:
                # no thread left building a network after a failed or stopped read
                wait_quietly(*started, *head)
                raise
            net = started[0]() if started else built(data)
        net.stats = dict(data.stats)  # (counted once the read was over)
        return net, data

    @classmethod
    def from_osm(cls, data: OSMData) -> WalkNetwork:
        """Build the network from the walkable ways of one pass over an OSM file.

        Each temporary array goes as soon as its last use is made (a city's references are
        millions: the temporaries, not the network, set this step's peak memory); the
        projection runs in a thread (pyproj releases the GIL) while the geodesic lengths and
        the node numbering run here (:class:`References`).
        """
        return cls._from_references(data, References(data.refs, data.way_ptr, data.ref_lon,
                                                      data.ref_lat, data.path))

    @classmethod
    def _from_references(cls, data: OSMData, part: References) -> WalkNetwork:
        """:meth:`from_osm` from the per-reference part of the build (:class:`References` of
        ``data``'s walkable ways, maybe made while the read was still going)."""
        from .sources.access_tags import edge_flags_from_ways

        refs, seg, inverse, way_of_ref = part.refs, part.seg, part.inverse, part.way_of_ref
        first_of_run, last_of_run, counts, crs = part.first_of_run, part.last_of_run, \
            part.counts, part.crs
        uniq, n = part.uniq, refs.shape[0]
        part.release()
        # split points: run ends and every node used more than once (junctions, loops)
        split = first_of_run | last_of_run | (counts > 1)[inverse]
        del counts, last_of_run
        split_pos = np.flatnonzero(split)
        del split
        # two consecutive split points bound an edge unless the second starts a new run
        same_run = ~first_of_run[split_pos[1:]]
        del first_of_run
        e_start = split_pos[:-1][same_run]
        e_end = split_pos[1:][same_run]
        del split_pos, same_run

        # geodesic segment lengths, summed per edge through a cumulative sum
        cum = np.empty(n + 1, dtype=np.float64)
        cum[0] = 0.0
        np.cumsum(seg, out=cum[1:])
        del seg
        length = cum[e_end] - cum[e_start]
        del cum

        node_osm = uniq
        u = inverse[e_start]
        v = inverse[e_end]
        used = np.zeros(node_osm.shape[0], dtype=bool)
        used[u] = True
        used[v] = True
        new_index = np.cumsum(used) - 1
        node_pos = np.zeros(node_osm.shape[0], dtype=np.int64)
        # a representative reference position for each node, for its coordinates
        node_pos[inverse[::-1]] = np.arange(n - 1, -1, -1, dtype=_index_dtype(n))
        del inverse
        nodes = np.flatnonzero(used)
        del used
        node_at = node_pos[nodes]
        del node_pos

        # edge vertices: refs[e_start .. e_end] inclusive for each edge
        counts_e = e_end - e_start + 1
        ptr = np.zeros(counts_e.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts_e, out=ptr[1:])
        # (int32 where the references fit: the largest temporary of the build's last part)
        ref_dtype = _index_dtype(max(n, int(ptr[-1])))
        vertex = np.repeat((e_start - ptr[:-1]).astype(ref_dtype), counts_e)
        vertex += np.arange(ptr[-1], dtype=ref_dtype)
        del counts_e, e_end
        px, py = part.projected()
        del part
        coords = np.empty((vertex.shape[0], 2), dtype=np.float64)
        coords[:, 0] = px[vertex]
        coords[:, 1] = py[vertex]
        x, y = px[node_at], py[node_at]
        del px, py, node_at
        way_idx = way_of_ref[e_start]
        del way_of_ref, e_start
        index_dtype = _index_dtype(nodes.size)
        net = cls(
            crs=crs,
            node_id=node_osm[nodes],
            x=x,
            y=y,
            edge_u=new_index[u].astype(index_dtype),
            edge_v=new_index[v].astype(index_dtype),
            edge_key=np.zeros(u.shape[0], dtype=np.int32),
            edge_length_m=length,
            edge_coords=coords,
            edge_ptr=ptr,
            edge_way_id=data.way_ids[way_idx],
            edge_highway=np.asarray(data.way_highway, dtype=object)[way_idx],
            edge_name=np.asarray(data.way_name, dtype=object)[way_idx],
            stats=dict(data.stats),
        )
        del u, v, new_index, nodes, node_osm
        # (the OSM ids of the edges' vertices are read only where barrier nodes exist)
        vertex_ref = refs[vertex] if data.barrier_nodes.size else np.zeros(0, dtype=np.int64)
        del vertex
        net.edge_flags, net.edge_incline_pct = edge_flags_from_ways(
            data.way_highway, data.way_access, way_idx, vertex_ref, ptr, data.barrier_nodes
        )
        net._assign_keys()
        return net

    def _assign_keys(self) -> None:
        """Number parallel edges between the same unordered node pair 0, 1, 2, ..."""
        a = np.minimum(self.edge_u, self.edge_v)
        b = np.maximum(self.edge_u, self.edge_v)
        order = np.lexsort((b, a))  # (stable: equal pairs stay in edge order)
        a_s, b_s = a[order], b[order]
        new_group = np.ones(order.shape[0], dtype=bool)
        new_group[1:] = (a_s[1:] != a_s[:-1]) | (b_s[1:] != b_s[:-1])
        group_start = np.maximum.accumulate(np.where(new_group, np.arange(order.shape[0]), 0))
        keys = np.empty(order.shape[0], dtype=np.int32)
        keys[order] = np.arange(order.shape[0]) - group_start
        self.edge_key = keys

    @classmethod
    def from_arrays(
        cls,
        *,
        crs: Any,
        node_id: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        edge_u: np.ndarray,
        edge_v: np.ndarray,
        edge_length_m: np.ndarray | None = None,
        edge_coords: np.ndarray | None = None,
        edge_ptr: np.ndarray | None = None,
    ) -> WalkNetwork:
        """Build a network from plain arrays (straight edges unless coordinates are given).

        ``edge_u``/``edge_v`` are node indices. Lengths default to the straight-line length
        of the geometry in the projected CRS.
        """
        import shapely

        node_id = np.asarray(node_id, dtype=np.int64)
        edge_u = np.asarray(edge_u, dtype=np.int32)
        edge_v = np.asarray(edge_v, dtype=np.int32)
        if edge_coords is None:
            edge_coords = np.empty((2 * edge_u.shape[0], 2), dtype=np.float64)
            edge_coords[0::2, 0] = x[edge_u]
            edge_coords[0::2, 1] = y[edge_u]
            edge_coords[1::2, 0] = x[edge_v]
            edge_coords[1::2, 1] = y[edge_v]
            edge_ptr = np.arange(0, 2 * edge_u.shape[0] + 1, 2, dtype=np.int64)
        assert edge_ptr is not None
        net = cls(
            crs=pyproj.CRS.from_user_input(crs),
            node_id=node_id,
            x=np.asarray(x, dtype=np.float64),
            y=np.asarray(y, dtype=np.float64),
            edge_u=edge_u,
            edge_v=edge_v,
            edge_key=np.zeros(edge_u.shape[0], dtype=np.int32),
            edge_length_m=np.zeros(edge_u.shape[0]),
            edge_coords=np.asarray(edge_coords, dtype=np.float64),
            edge_ptr=np.asarray(edge_ptr, dtype=np.int64),
        )
        if edge_length_m is None:
            edge_length_m = shapely.length(net.geometries)
        net.edge_length_m = np.asarray(edge_length_m, dtype=np.float64)
        net._assign_keys()
        return net

    @classmethod
    def from_edges(cls, edges: gpd.GeoDataFrame, *, where: str = "edges") -> WalkNetwork:
        """Rebuild a network from its published ``edges`` layer (``u``, ``v``, ``key``,
        ``length_m``, line geometry in a projected CRS), e.g. a finished run's GeoPackage.

        Node coordinates are the geometry's end points; lengths, keys and the edge order are
        kept, so snap fields that name edges by (u, v, key) match again.
        """
        import shapely

        need = ["u", "v", "key", "length_m"]
        missing = [c for c in need if c not in edges.columns]
        if missing:
            raise InputError(
                f"{where}: the edges layer lacks {missing} (columns: "
                f"{', '.join(map(str, edges.columns))}); rerun `lifecircle run`"
            )
        if edges.crs is None or not edges.crs.is_projected:
            raise InputError(
                f"{where}: the edges layer needs a projected CRS in metres, got "
                f"{edges.crs.to_string() if edges.crs is not None else 'none'}"
            )
        geoms = edges.geometry.to_numpy()
        coords, idx = shapely.get_coordinates(geoms, return_index=True)
        counts = np.bincount(idx, minlength=len(edges))
        if len(edges) == 0 or (counts < 2).any():
            raise InputError(f"{where}: every edge needs a line geometry of two or more points")
        ptr = np.zeros(len(edges) + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        u_id = edges["u"].to_numpy(dtype=np.int64)
        v_id = edges["v"].to_numpy(dtype=np.int64)
        node_id, inverse = np.unique(np.concatenate([u_id, v_id]), return_inverse=True)
        n_e = len(edges)
        ends = np.concatenate([coords[ptr[:-1]], coords[ptr[1:] - 1]])
        x = np.empty(node_id.shape[0])
        y = np.empty(node_id.shape[0])
        x[inverse] = ends[:, 0]
        y[inverse] = ends[:, 1]
        net = cls.from_arrays(
            crs=edges.crs, node_id=node_id, x=x, y=y, edge_u=inverse[:n_e],
            edge_v=inverse[n_e:], edge_length_m=edges["length_m"].to_numpy(dtype=np.float64),
            edge_coords=coords, edge_ptr=ptr,
        )
        net.edge_key = edges["key"].to_numpy(dtype=np.int32)
        return net

    # -- networkx interop (lifecircle._network_interop) --------------------------------------
    def to_networkx(self) -> nx.MultiGraph:
        """An undirected ``networkx.MultiGraph`` with ``x``, ``y``, ``length`` and ``geometry``.

        Node keys are the node ids; edge keys are the network's keys. Use it for interop and
        as a test oracle, not for computation (it costs about 2 KB per node).
        """
        from ._network_interop import to_networkx

        return to_networkx(self)

    @classmethod
    def from_networkx(
        cls, graph: nx.Graph, *, crs: Any = None, where: str = "graph"
    ) -> WalkNetwork:
        """Build a network from a networkx graph with node ``x``/``y`` and edge ``length``.

        Directed graphs (osmnx's ``MultiDiGraph``) are made undirected: walking ignores one-way
        tags. A graph in WGS 84 (``crs`` EPSG:4326, as osmnx returns it) is projected to the
        local UTM zone, with geodesic lengths where an edge has no ``length``.
        """
        from ._network_interop import from_networkx

        return from_networkx(cls, graph, crs=crs, where=where)

    @classmethod
    def from_graphml(cls, path: str) -> WalkNetwork:
        """Read a GraphML file (osmnx's or another tool's) with node ``x``/``y`` and a crs."""
        from ._network_interop import from_graphml

        return from_graphml(cls, path)
