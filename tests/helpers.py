"""Test helpers: the hand-computable grid and an independent networkx oracle.

The oracle never uses lifecircle's routing: it inserts every snapped point into a networkx
graph as a node on its edge (splitting the edge at the point's position) plus an off-network
leg, and runs networkx's multi-source Dijkstra. It reads only what the output contract
publishes: the ``edges`` layer (u, v, key, length_m) and the snap fields.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 3_500_000.0
SPEED_KMH = 4.8  # 80 m/min


@dataclass
class GridCase:
    graphml: Path
    facilities: Path
    blocks: Path
    folder: Path

    def run(self, **kwargs: Any) -> Any:
        """``lifecircle.pipeline.run`` on this grid's network, facilities and blocks."""
        from lifecircle.pipeline import run

        return run(self.graphml, facilities=self.facilities, blocks=self.blocks, **kwargs)


def grid_graph() -> nx.MultiDiGraph:
    """A 4 × 3 lattice with 100 m spacing (x 0..300, y 0..200) plus an island edge.

    Node ids: 10 * col + row + 1 (so 1, 2, 3, 11, ...); island nodes 901, 902 at
    (1000, 1000) and (1100, 1000).
    """
    g = nx.MultiDiGraph(crs=CRS)

    def nid(c: int, r: int) -> int:
        return 10 * c + r + 1

    for c in range(4):
        for r in range(3):
            g.add_node(nid(c, r), x=X0 + 100 * c, y=Y0 + 100 * r)
    edges = []
    for c in range(4):
        for r in range(3):
            if c < 3:
                edges.append((nid(c, r), nid(c + 1, r)))
            if r < 2:
                edges.append((nid(c, r), nid(c, r + 1)))
    g.add_node(901, x=X0 + 1000, y=Y0 + 1000)
    g.add_node(902, x=X0 + 1100, y=Y0 + 1000)
    edges.append((901, 902))
    for a, b in edges:
        for s, t in ((a, b), (b, a)):
            line = shapely.LineString([(g.nodes[s]["x"], g.nodes[s]["y"]),
                                       (g.nodes[t]["x"], g.nodes[t]["y"])])
            g.add_edge(s, t, key=0, length=100.0, geometry=line, osmid=0, oneway=False,
                       reversed=False)
    return g


def _square(cx: float, cy: float, half: float = 10.0) -> shapely.Polygon:
    return shapely.box(X0 + cx - half, Y0 + cy - half, X0 + cx + half, Y0 + cy + half)


def make_grid_case(folder: Path) -> GridCase:
    """Write the grid (GraphML), facilities and blocks (GeoPackage) into ``folder``.

    Facilities (walk15 categories):
      - ``shop1`` retail at (150, 20): on edge (0,0)-(1,0) [x 100..200, y 0] at along 50,
        leg 20.
      - ``clinic_island`` health at (1050, 1010): on the island edge, reachable from no block.
    Blocks (20 m squares; the access point is the centre):
      - ``B1`` at (250, 130): edge x 200..300 at y 100, along 50, leg 30. Retail: 20 + 50
        (to node (200,0)) + 100 (up to (200,100)) + 50 + 30 = 250 m = 3.125 min at 80 m/min.
      - ``B2`` at (150, -200): same edge as shop1, along 50, leg 200. Retail: directly along
        the edge 20 + 0 + 200 = 220 m = 2.75 min.
      - ``B3`` at (50, 180): edge x 0..100 at y 200, along 50, leg 20. Retail: 20 + 50 +
        (100,0)->(100,200) 200 + 50 + 20 = 340 m = 4.25 min.
      - ``B4`` at (2500, 2500): 1.4 km from any street: unreachable.
    """
    folder.mkdir(parents=True, exist_ok=True)
    import osmnx as ox

    graphml = folder / "grid.graphml"
    ox.save_graphml(grid_graph(), graphml)
    fac = gpd.GeoDataFrame(
        {"id": ["shop1", "clinic_island"], "category": ["retail", "health"],
         "name": ["Corner shop", "Island clinic"]},
        geometry=[shapely.Point(X0 + 150, Y0 + 20), shapely.Point(X0 + 1050, Y0 + 1010)],
        crs=CRS,
    )
    fac_path = folder / "facilities.gpkg"
    fac.to_file(fac_path, engine="pyogrio")
    blocks = gpd.GeoDataFrame(
        {"block_id": ["B1", "B2", "B3", "B4"], "population": [100.0, 200.0, 300.0, 50.0]},
        geometry=[_square(250, 130), _square(150, -200), _square(50, 180),
                  _square(2500, 2500)],
        crs=CRS,
    )
    blocks_path = folder / "blocks.gpkg"
    blocks.to_file(blocks_path, engine="pyogrio")
    return GridCase(graphml=graphml, facilities=fac_path, blocks=blocks_path, folder=folder)


# ---------------------------------------------------------------------------------------------
# independent oracle


def expand_snaps(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per snap: each row's own snap fields, then one row per entry of its
    ``snap_alt`` (JSON, same field names); returns the rows and the row each came from."""
    fields = ["snap_u", "snap_v", "snap_key", "snap_along_m", "snap_dist_m"]
    base = frame[fields].reset_index(drop=True)
    extra: list[dict] = []
    owner = list(range(len(base)))
    alts = frame["snap_alt"] if "snap_alt" in frame.columns else pd.Series([None] * len(frame))
    for i, text in enumerate(alts):
        if isinstance(text, str) and text:
            for item in json.loads(text):
                extra.append({k: item[k] for k in fields})
                owner.append(i)
    rows = pd.concat([base, pd.DataFrame(extra, columns=fields)], ignore_index=True)
    return rows, np.array(owner, dtype=np.int64)


def oracle_distances(
    edges: pd.DataFrame,
    sources: pd.DataFrame,
    targets: pd.DataFrame,
) -> np.ndarray:
    """Shortest walking metres from the nearest source to each target, by networkx.

    ``edges`` has ``u``, ``v``, ``key``, ``length_m``; ``sources`` and ``targets`` have the
    snap fields ``snap_u``, ``snap_v``, ``snap_key``, ``snap_along_m``, ``snap_dist_m`` (NaN or
    NA for unsnapped points) and optionally ``snap_alt`` (a JSON list of further snaps with
    the same field names). Returns ``inf`` for unreachable targets.

    A point is an off-network node joined by its leg to each of its snapped positions; legs
    are one-way (out of a source, into a target) so that no walk passes through another
    point's off-network position from one street to another.
    """
    g = nx.DiGraph()
    points: dict[tuple[int, int, int], list[tuple[float, str]]] = {}

    def add_points(frame: pd.DataFrame, prefix: str, *, out: bool) -> list[str | None]:
        rows, owner = expand_snaps(frame)
        for j, (i, row) in enumerate(zip(owner, rows.itertuples(index=False), strict=True)):
            if pd.isna(row.snap_u):
                continue
            on, off = f"{prefix}{i}:on{j}", f"{prefix}{i}:off"
            key = (int(row.snap_u), int(row.snap_v), int(row.snap_key))
            points.setdefault(key, []).append((float(row.snap_along_m), on))
            if out:
                g.add_edge(off, on, weight=float(row.snap_dist_m))
            else:
                g.add_edge(on, off, weight=float(row.snap_dist_m))
        return [None if pd.isna(u) else f"{prefix}{i}:off" for i, u in enumerate(frame["snap_u"])]

    def join(a: object, b: object, w: float) -> None:
        if g.has_edge(a, b):
            w = min(w, g[a][b]["weight"])
        g.add_edge(a, b, weight=w)
        g.add_edge(b, a, weight=w)

    src = add_points(sources, "s", out=True)
    tgt = add_points(targets, "t", out=False)
    for row in edges.itertuples(index=False):
        key = (int(row.u), int(row.v), int(row.key))
        chain = [(0.0, ("n", int(row.u)))]
        chain += sorted(points.get(key, []))
        chain.append((float(row.length_m), ("n", int(row.v))))
        # parallel edges: a chain through intermediate nodes is unique per edge
        if len(chain) == 2:
            a, b = chain[0][1], chain[1][1]
            w = float(row.length_m)
            if a == b:
                continue
            join(a, b, w)
            continue
        for (pa, na), (pb, nb) in itertools.pairwise(chain):
            if na == nb:
                continue
            join(na, nb, max(pb - pa, 0.0))
    sources_ok = [s for s in src if s is not None]
    out = np.full(len(tgt), np.inf)
    if not sources_ok:
        return out
    dist = nx.multi_source_dijkstra_path_length(g, sources_ok, weight="weight")
    for i, t in enumerate(tgt):
        if t is not None and t in dist:
            out[i] = dist[t]
    return out


def rederive_from_gpkg(gpkg: Path, category: str) -> tuple[np.ndarray, np.ndarray]:
    """(reported metres, oracle metres) per access point for one category of a run.

    A category whose group is restricted (step-free) walks only the edges its group may use:
    the ``edges`` layer's ``usable_<group>`` column, the group named in the run's effective
    profile.
    """
    from lifecircle.outputs.geopackage import read_metadata

    edges = gpd.read_file(gpkg, layer="edges", engine="pyogrio")
    cats = read_metadata(gpkg).get("effective_profile", {}).get("categories", {})
    usable = f"usable_{cats.get(category, {}).get('group')}"
    if usable in edges.columns:
        edges = edges[edges[usable].astype(bool)]
    fac = gpd.read_file(gpkg, layer="facilities", engine="pyogrio")
    aps = gpd.read_file(gpkg, layer="access_points", engine="pyogrio")
    fac = fac[fac["category"] == category]
    oracle = oracle_distances(edges, fac, aps)
    reported = aps[f"walk_m_{category}"].to_numpy(dtype=np.float64)
    return reported, oracle


def write_geotiff(path: Path, data: np.ndarray, transform: object, *, crs: object = None,
                  nodata: float | None = None) -> Path:
    """A one-band GeoTIFF of ``data`` (its own dtype) for the raster tests; no CRS if None."""
    import rasterio

    profile: dict[str, object] = {"driver": "GTiff", "height": data.shape[0],
                                  "width": data.shape[1], "count": 1, "dtype": data.dtype,
                                  "transform": transform}
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def monaco_sources(n: int, *, seed: int, offset_m: float, limit_m: float) -> tuple[Any, ...]:
    """The Monaco network with ``n`` random sources ``offset_m`` beside edge starts, snapped,
    and the node distances of one search from them: ``(net, xy, snap, nodes)``."""
    from lifecircle.network import WalkNetwork
    from lifecircle.routing import multi_source
    from lifecircle.snapping import snap_points
    from lifecircle.sources.osm import read_osm
    from tests.conftest import shared_osm

    net = WalkNetwork.from_osm(read_osm(shared_osm("monaco.osm.pbf")))
    e = np.random.default_rng(seed).choice(net.n_edges, n, replace=False)
    xy = net.edge_coords[net.edge_ptr[e]] + offset_m
    src = snap_points(net, xy[:, 0], xy[:, 1], max_snap_m=300.0)
    return net, xy, src, multi_source(net, src, limit_m=limit_m)


#: a figures' writer that fails: with an OutputError ("output") or a bug ("bug"), and the
#: message a run must then fail with (see :func:`broken_figures`)
BROKEN_FIGURES = [("output", "figures/x.png: cannot write the figure (disk full)"),
                  ("bug", "figures: ZeroDivisionError: division by zero")]


def broken_figures(raised: str) -> Callable[..., Any]:
    """A stand-in for ``plots.write_figures`` failing as :data:`BROKEN_FIGURES` says."""
    from lifecircle._errors import OutputError

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        if raised == "output":
            raise OutputError(BROKEN_FIGURES[0][1])
        return 1 / 0

    return broken


def break_the_run(monkeypatch: Any, where: str, before: Callable[[], Any] = lambda: None) -> None:
    """Make a run fail with ``InputError("a broken input")`` in its blocks step
    (``where="blocks"``) or in its outputs (the reports); ``before`` is called first."""
    from lifecircle import pipeline, result
    from lifecircle._errors import InputError

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        before()
        raise InputError("a broken input")

    if where == "blocks":
        monkeypatch.setattr(pipeline, "_blocks", fail)
    else:
        monkeypatch.setattr(result.Result, "_write_reports", fail)


def left_behind(out: Path) -> list[str]:
    """The output folder or its staging folder and lock, where they remain."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.lstrip(".").startswith(out.name))


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def ctrl_c_in_the_blocks(monkeypatch: Any, worker_pid: Callable[[], int]) -> None:
    """Have a run's blocks step send SIGINT to the worker ``worker_pid()`` and to the run, as
    a terminal's Ctrl-C reaches both processes."""
    import signal

    from lifecircle import pipeline

    real = pipeline._blocks

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        os.kill(worker_pid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_blocks", interrupted)
