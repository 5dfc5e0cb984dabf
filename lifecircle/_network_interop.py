"""networkx and GraphML interop of :class:`~lifecircle.network.WalkNetwork`.

Kept apart from the array model: interop builds and reads per-node dictionaries (about 2 KB
per node) and is for exchange and test oracles, not for computation. The ``WalkNetwork``
methods of the same names call these functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj

from ._errors import InputError
from ._geo import GEOD, local_crs

if TYPE_CHECKING:
    import networkx as nx

# The network delegates its networkx methods here; this room never imports it back, so the
# network it is handed (and the class it builds) is typed Any.
WalkNetwork = Any

__all__ = ["from_graphml", "from_networkx", "to_networkx"]


def to_networkx(net: WalkNetwork) -> nx.MultiGraph:
    """An undirected ``networkx.MultiGraph`` with ``x``, ``y``, ``length`` and ``geometry``.

    Node keys are the node ids; edge keys are the network's keys. Use it for interop and
    as a test oracle, not for computation (it costs about 2 KB per node).
    """
    import networkx as nx

    g = nx.MultiGraph(crs=net.crs.to_string())
    for i in range(net.n_nodes):
        g.add_node(int(net.node_id[i]), x=float(net.x[i]), y=float(net.y[i]))
    geoms = net.geometries
    for e in range(net.n_edges):
        g.add_edge(
            int(net.node_id[net.edge_u[e]]),
            int(net.node_id[net.edge_v[e]]),
            key=int(net.edge_key[e]),
            length=float(net.edge_length_m[e]),
            geometry=geoms[e],
        )
    return g


def from_networkx(
    cls: type[WalkNetwork], graph: nx.Graph, *, crs: Any = None, where: str = "graph"
) -> WalkNetwork:
    """Build a network from a networkx graph with node ``x``/``y`` and edge ``length``.

    Directed graphs (osmnx's ``MultiDiGraph``) are made undirected: walking ignores one-way
    tags. A graph in WGS 84 (``crs`` EPSG:4326, as osmnx returns it) is projected to the local
    UTM zone, with geodesic lengths where an edge has no ``length``.
    """
    import shapely

    crs = crs or graph.graph.get("crs")
    if crs is None:
        raise InputError(
            f"{where}: the graph has no 'crs' attribute; give the graph a crs attribute "
            "(e.g. 'EPSG:4326') when exporting it, or pass crs=... to from_networkx"
        )
    try:
        crs = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError:
        raise InputError(
            f"{where}: the graph's crs {crs!r} is not a coordinate system pyproj knows; "
            "give an EPSG code such as 'EPSG:4326'"
        ) from None
    nodes = list(graph.nodes)
    try:
        xs = np.array([float(graph.nodes[n]["x"]) for n in nodes])
        ys = np.array([float(graph.nodes[n]["y"]) for n in nodes])
    except KeyError:
        raise InputError(
            f"{where}: nodes need 'x' and 'y' attributes (node {nodes[0]!r} has "
            f"{sorted(graph.nodes[nodes[0]])}); export the graph with coordinates"
        ) from None
    except (TypeError, ValueError):
        raise InputError(f"{where}: node 'x'/'y' attributes must be numbers") from None
    index = {n: i for i, n in enumerate(nodes)}
    try:
        node_id = np.array([int(n) for n in nodes], dtype=np.int64)
    except (TypeError, ValueError):
        node_id = np.arange(len(nodes), dtype=np.int64)
    seen: set[tuple[Any, ...]] = set()
    us: list[int] = []
    vs: list[int] = []
    lengths: list[float] = []
    geoms: list[Any] = []
    directed = graph.is_directed()
    edge_iter = (
        graph.edges(keys=True, data=True)
        if graph.is_multigraph()
        else ((a, b, 0, d) for a, b, d in graph.edges(data=True))
    )
    highways: list[str] = []
    names: list[str] = []
    way_ids: list[int] = []
    for a, b, k, d in edge_iter:
        length = _graph_length(d.get("length"), where, a, b)
        if directed:
            # a two-way street appears as (a, b) and (b, a): keep one. The pair plus the
            # way id and length identify it (keys need not match across directions).
            osmid = d.get("osmid")
            length_key = round(length, 3) if np.isfinite(length) else 0.0
            ident = (
                min(a, b, key=str),
                max(a, b, key=str),
                str(osmid) if osmid is not None else k,
                length_key,
            )
            if ident in seen and a != b:
                continue
            seen.add(ident)
        us.append(index[a])
        vs.append(index[b])
        geom = d.get("geometry")
        if isinstance(geom, str):
            geom = shapely.from_wkt(geom)
        if geom is None:
            geom = shapely.linestrings(
                [[xs[index[a]], ys[index[a]]], [xs[index[b]], ys[index[b]]]]
            )
        elif not _starts_at(geom, xs[index[a]], ys[index[a]]):
            geom = shapely.reverse(geom)
        geoms.append(geom)
        lengths.append(length)
        highways.append(_first(d.get("highway")))
        names.append(_first(d.get("name")))
        way = _first(d.get("osmid"))
        way_ids.append(int(way) if way.lstrip("-").isdigit() else -1)
    geom_arr = np.asarray(geoms, dtype=object)
    length_arr = np.asarray(lengths)
    if crs.is_geographic:
        lonlat_coords, lonlat_idx = shapely.get_coordinates(geom_arr, return_index=True)
        # lengths from the geometry on the WGS 84 ellipsoid, whatever the graph says:
        # osmnx's own lengths are great-circle distances on a sphere (up to ~0.5 % off)
        missing = np.ones(length_arr.shape[0], dtype=bool)
        if missing.any():
            seg = np.zeros(lonlat_coords.shape[0])
            same = lonlat_idx[1:] == lonlat_idx[:-1]
            _, _, d_ = GEOD.inv(
                lonlat_coords[:-1, 0],
                lonlat_coords[:-1, 1],
                lonlat_coords[1:, 0],
                lonlat_coords[1:, 1],
            )
            seg[:-1] = np.where(same, d_, 0.0)
            per_edge = np.bincount(lonlat_idx, weights=seg, minlength=len(geoms))
            length_arr = np.where(missing, per_edge, length_arr)
        local = local_crs(xs, ys)
        tf = pyproj.Transformer.from_crs(crs, local, always_xy=True)
        xs, ys = tf.transform(xs, ys)
        px, py = tf.transform(lonlat_coords[:, 0], lonlat_coords[:, 1])
        coords = np.column_stack([px, py])
        counts = np.bincount(lonlat_idx, minlength=len(geoms))
        crs = local
    else:
        coords, idx = shapely.get_coordinates(geom_arr, return_index=True)
        counts = np.bincount(idx, minlength=len(geoms))
        missing = ~np.isfinite(length_arr)
        if missing.any():
            length_arr = np.where(missing, shapely.length(geom_arr), length_arr)
    ptr = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    net = cls.from_arrays(
        crs=crs,
        node_id=node_id,
        x=np.asarray(xs),
        y=np.asarray(ys),
        edge_u=np.asarray(us),
        edge_v=np.asarray(vs),
        edge_length_m=length_arr,
        edge_coords=coords,
        edge_ptr=ptr,
    )
    net.edge_highway = np.asarray(highways, dtype=object)
    net.edge_name = np.asarray(names, dtype=object)
    net.edge_way_id = np.asarray(way_ids, dtype=np.int64)
    return net


def from_graphml(cls: type[WalkNetwork], path: str) -> WalkNetwork:
    """Read a GraphML file (osmnx's or another tool's) with node ``x``/``y`` and a crs."""
    import zlib
    from pathlib import Path

    from ._errors import InputFileError
    from .sources.osm import refuse_dtd, xml_prolog

    p = Path(path)
    if not p.is_file():
        raise InputFileError(p, "file not found", "check the path")
    try:
        with p.open("rb") as fh:
            head = fh.read(4)
        prolog = xml_prolog(p, head).lower()
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(
            p, f"cannot be read ({exc})", "check the file and its permissions"
        ) from None
    refuse_dtd(p, prolog, kind="GraphML")
    try:
        import osmnx as ox

        graph = ox.load_graphml(p)
    except Exception as exc:  # osmnx/networkx raise many types on malformed GraphML
        # osmnx expects its own untyped attributes; GraphML from other tools declares
        # types (x, y as double) that osmnx's converter trips on: read it with networkx,
        # whose graph from_networkx then checks for crs and x/y by name
        import networkx as nx

        try:
            graph = nx.read_graphml(p, force_multigraph=True)
        except Exception:  # malformed XML, unknown GraphML types, ...
            raise InputFileError(
                p,
                f"could not be read as GraphML ({type(exc).__name__}: {exc})",
                "export the graph again with osmnx.save_graphml",
            ) from None
    if graph.number_of_nodes() == 0:
        raise InputFileError(p, "the graph has no nodes", "export a non-empty graph")
    return cls.from_networkx(graph, where=str(p))


def _graph_length(value: Any, where: str, a: Any, b: Any) -> float:
    """An edge's ``length`` in metres; NaN when missing (measured from the geometry)."""
    try:
        length = float("nan") if value is None or value == "" else float(_first(value))
    except (TypeError, ValueError):
        length = -1.0
    if length < 0 or length == float("inf"):
        raise InputError(
            f"{where}: edge {a!r}-{b!r} has length {value!r}, not a non-negative number of "
            "metres; fix it, or drop the length attribute to measure edges from their geometry"
        )
    return length


def _first(value: Any) -> str:
    """osmnx merges attributes of simplified edges into lists: keep the first."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _starts_at(geom: Any, x: float, y: float) -> bool:
    import shapely

    first = shapely.get_coordinates(geom)[0]
    last = shapely.get_coordinates(geom)[-1]
    return bool(
        (first[0] - x) ** 2 + (first[1] - y) ** 2 <= (last[0] - x) ** 2 + (last[1] - y) ** 2
    )
