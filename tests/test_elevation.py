"""Slope from a DEM: Tobler factors by hand, flat DEMs change nothing, the direction residents
walk (to facilities) against a networkx directed oracle, and bad DEMs as clear errors."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin

from lifecircle._errors import InputFileError
from lifecircle.elevation import apply_dem, sample_dem, tobler_factor, tobler_kmh
from lifecircle.network import WalkNetwork
from lifecircle.routing import multi_source, point_distances
from lifecircle.snapping import snap_points
from tests.helpers import CRS, SPEED_KMH, X0, Y0, expand_snaps

UP10 = math.exp(-3.5 * (0.15 - 0.05))  # factor up a 10 % ramp: W(0.1) / W(0) = 0.7047


def write_dem(
    path: Path,
    func,
    *,
    x0: float,
    y0: float,
    nx_: int,
    ny: int,
    res: float,
    crs: str = CRS,
    nodata: float | None = None,
) -> Path:
    """A DEM whose pixel centres hold ``func(x, y)``; top-left corner at (x0, y0)."""
    xs = x0 + (np.arange(nx_) + 0.5) * res
    ys = y0 - (np.arange(ny) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    data = func(gx, gy).astype("float64")
    profile = {
        "driver": "GTiff",
        "height": ny,
        "width": nx_,
        "count": 1,
        "dtype": "float64",
        "crs": crs,
        "transform": from_origin(x0, y0, res, res),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def ramp_dem(path: Path, func, *, nodata: float | None = None) -> Path:
    """10 m DEM around the straight 1000 m edge of :func:`_ramp_net` (x -100..1100)."""
    return write_dem(path, func, x0=X0 - 100, y0=Y0 + 100, nx_=120, ny=20, res=10, nodata=nodata)


def grid_dem(folder: Path, func, name: str = "dem.tif") -> Path:
    """10 m DEM over the grid fixture (x -500..1600, y -500..1500 around X0, Y0)."""
    return write_dem(folder / name, func, x0=X0 - 500, y0=Y0 + 1500, nx_=210, ny=200, res=10)


def test_tobler_by_hand():
    assert tobler_factor(0.0) == 1.0  # exactly
    assert tobler_kmh(0.0) == pytest.approx(6 * math.exp(-0.175))  # 5.036 km/h
    assert tobler_kmh(-0.05) == pytest.approx(6.0)  # the fastest slope
    assert tobler_factor(0.1) == pytest.approx(UP10)
    assert tobler_factor(-0.1) == pytest.approx(1.0)  # |−0.1 + 0.05| = 0.05
    assert tobler_factor(-0.05) == pytest.approx(math.exp(0.175))
    s = np.linspace(-0.5, 0.5, 101)
    assert tobler_factor(s) == pytest.approx(tobler_kmh(s) / tobler_kmh(0.0))


def test_bilinear_sampling_in_another_crs(tmp_path):
    # a DEM in EPSG:4326 holding z = 1000 * lon + 100 * lat; bilinear is exact on a plane
    path = write_dem(
        tmp_path / "wgs.tif",
        lambda x, y: 1000 * x + 100 * y,
        x0=116.0,
        y0=40.0,
        nx_=50,
        ny=50,
        res=0.001,
        crs="EPSG:4326",
    )
    import pyproj

    tf = pyproj.Transformer.from_crs(4326, CRS, always_xy=True)
    lon = np.array([116.0105, 116.0333, 116.0217])
    lat = np.array([39.9877, 39.9701, 39.9555])
    x, y = tf.transform(lon, lat)
    z = sample_dem(path, np.asarray(x), np.asarray(y), CRS)
    assert z == pytest.approx(1000 * lon + 100 * lat, abs=1e-6)


def _ramp_net():
    # one straight 1000 m edge A (0, 0) -> B (1000, 0)
    return WalkNetwork.from_arrays(
        crs=CRS,
        node_id=np.array([1, 2]),
        x=np.array([X0, X0 + 1000.0]),
        y=np.array([Y0, Y0]),
        edge_u=np.array([0]),
        edge_v=np.array([1]),
    )


def _metres(net, src_xy, dst_xy):
    """Walking metres from the point ``dst_xy`` to the facility at ``src_xy``."""
    fs = snap_points(net, np.array([src_xy[0]]), np.array([src_xy[1]]), max_snap_m=50)
    ps = snap_points(net, np.array([dst_xy[0]]), np.array([dst_xy[1]]), max_snap_m=50)
    nodes = multi_source(net, fs, limit_m=10_000)
    d, _ = point_distances(net, nodes, fs, ps)
    return float(d[0])


def test_straight_ramp_uphill_and_downhill_by_hand(tmp_path):
    # 10 % ramp rising eastwards: z = 0.1 * (x - X0)
    dem = ramp_dem(tmp_path / "ramp.tif", lambda x, y: 0.1 * (x - X0))
    net = apply_dem(_ramp_net(), dem)
    assert net.directed
    edges = net.edges_gdf()
    assert edges["slope_factor_uv"].iloc[0] == pytest.approx(UP10)
    assert edges["slope_factor_vu"].iloc[0] == pytest.approx(1.0)
    # a resident at A walks uphill to a facility at B: 1000 / 0.7047 = 1419.07 equivalent m
    up = _metres(net, (X0 + 1000, Y0 + 10), (X0, Y0 + 10))
    assert up == pytest.approx(10 + 1000 / UP10 + 10)
    assert (up - 20) / (SPEED_KMH * 1000 / 60) == pytest.approx(17.738, abs=1e-3)  # minutes
    # a facility halfway: 500 m uphill from A, 500 m downhill from B
    assert _metres(net, (X0 + 500, Y0), (X0, Y0)) == pytest.approx(500 / UP10)
    assert _metres(net, (X0 + 500, Y0), (X0 + 1000, Y0)) == pytest.approx(500.0)
    # both on the edge: 200 m uphill from x = 300 to x = 500, 200 m down the other way
    assert _metres(net, (X0 + 500, Y0), (X0 + 300, Y0)) == pytest.approx(200 / UP10)
    assert _metres(net, (X0 + 300, Y0), (X0 + 500, Y0)) == pytest.approx(200.0)
    # and downhill from B to a facility at A: 10 % down walks at the flat speed (1000 m)
    down = _metres(net, (X0, Y0 + 10), (X0 + 1000, Y0 + 10))
    assert down == pytest.approx(1020.0)
    # a point 300 m from A walks down to a facility at A: 300 m
    assert _metres(net, (X0, Y0), (X0 + 300, Y0)) == pytest.approx(300.0)
    assert net.stats["slope"]["max_abs_slope"] == pytest.approx(0.1)


def test_flat_dem_changes_nothing(grid_case):
    dem = grid_dem(grid_case.folder, lambda x, y: np.full_like(x, 42.0))
    flat = grid_case.run(speed_kmh=SPEED_KMH, categories=["retail"])
    sloped = grid_case.run(speed_kmh=SPEED_KMH, categories=["retail"], dem=dem)
    assert sloped.network.directed and not flat.network.directed
    assert np.array_equal(sloped.network.edge_weight_uv, flat.network.edge_length_m)
    assert np.array_equal(sloped.network.edge_weight_vu, flat.network.edge_length_m)
    a = flat.blocks["walk_min_retail"].to_numpy()
    b = sloped.blocks["walk_min_retail"].to_numpy()
    assert np.array_equal(a, b, equal_nan=True)
    assert (sloped.edges["slope_factor_uv"] == 1.0).all()
    assert sloped.metadata["slope"]["max_abs_slope"] == 0.0
    assert flat.metadata["slope"] is False


def test_grid_times_walk_uphill_to_the_shop(grid_case):
    """z = -0.1 · y (rising southwards, towards shop1 at y = 0): residents north of the shop
    walk uphill on the north-south streets; east-west streets and legs are level."""
    dem = grid_dem(grid_case.folder, lambda x, y: -0.1 * (y - Y0))
    res = grid_case.run(speed_kmh=SPEED_KMH, categories=["retail"], dem=dem,
                        out=grid_case.folder / "o")
    b = res.blocks.set_index("block_id")
    # B1: 30 leg + 50 along to (200, 100), 100 m uphill to (200, 0), 50 along + 20 leg
    assert b.loc["B1", "walk_m_retail"] == pytest.approx(30 + 50 + 100 / UP10 + 50 + 20)
    # B3: 20 + 50 to (100, 200), 200 m uphill to (100, 0), 50 + 20
    assert b.loc["B3", "walk_m_retail"] == pytest.approx(20 + 50 + 200 / UP10 + 50 + 20)
    assert b.loc["B3", "walk_min_retail"] == pytest.approx((140 + 200 / UP10) / 80)
    # B2 shares the shop's edge: direct, flat, unchanged
    assert b.loc["B2", "walk_m_retail"] == pytest.approx(220.0)
    from lifecircle.outputs.geopackage import read_metadata

    meta = read_metadata(res.out / "lifecircle.gpkg")
    assert meta["slope"]["model"].startswith("Tobler")
    assert len(meta["inputs"]["dem"]["sha256"]) == 64
    import geopandas as gpd

    edges = gpd.read_file(res.out / "lifecircle.gpkg", layer="edges")
    ns = edges[
        (edges.geometry.bounds["minx"] == edges.geometry.bounds["maxx"]) & (edges["u"] < 900)
    ]
    # a north-south edge: going south (y falling) is uphill
    for row in ns.itertuples():
        south_first = row.geometry.coords[0][1] < row.geometry.coords[-1][1]
        up, down = (
            (row.slope_factor_vu, row.slope_factor_uv)
            if south_first
            else (row.slope_factor_uv, row.slope_factor_vu)
        )
        assert up == pytest.approx(UP10) and down == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# the direction of the search against a networkx directed oracle


def _random_network(rng: np.random.Generator) -> WalkNetwork:
    """A jittered 8 × 8 lattice (120 m) with a fifth of the edges removed and a few diagonals."""
    n = 8
    xs, ys = np.meshgrid(np.arange(n) * 120.0, np.arange(n) * 120.0)
    x = X0 + xs.ravel() + rng.uniform(-30, 30, n * n)
    y = Y0 + ys.ravel() + rng.uniform(-30, 30, n * n)
    edges = []
    for r in range(n):
        for c in range(n):
            i = r * n + c
            if c < n - 1:
                edges.append((i, i + 1))
            if r < n - 1:
                edges.append((i, i + n))
            if c < n - 1 and r < n - 1 and rng.random() < 0.15:
                edges.append((i, i + n + 1))
    keep = rng.random(len(edges)) > 0.2
    e = np.array(edges)[keep]
    return WalkNetwork.from_arrays(
        crs=CRS, node_id=np.arange(n * n) + 1, x=x, y=y, edge_u=e[:, 0], edge_v=e[:, 1]
    )


def _directed_oracle(edges: pd.DataFrame, fac: pd.DataFrame, pts: pd.DataFrame) -> np.ndarray:
    """Metres from each point to its nearest facility on a networkx DiGraph of the model:
    edges weigh length / slope factor per direction, and so does the part of an edge between
    a snapped point and an end (in the direction it is walked); off-network legs are flat."""
    g = nx.DiGraph()

    def arc(a, b, w):
        if a != b and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
            g.add_edge(a, b, weight=w)

    for row in edges.itertuples():
        arc(row.u, row.v, row.length_m / row.slope_factor_uv)
        arc(row.v, row.u, row.length_m / row.slope_factor_vu)
    length = {(r.u, r.v, r.key): r.length_m for r in edges.itertuples()}
    ratio = {
        (r.u, r.v, r.key): (1 / r.slope_factor_uv, 1 / r.slope_factor_vu)
        for r in edges.itertuples()
    }
    on_edge: dict[tuple, list] = {}
    for prefix, frame in (("f", fac), ("p", pts)):
        for i, r in enumerate(frame.itertuples()):
            key = (int(r.snap_u), int(r.snap_v), int(r.snap_key))
            node = (prefix, i)
            a, s, ell = float(r.snap_along_m), float(r.snap_dist_m), length[key]
            r_uv, r_vu = ratio[key]
            if prefix == "p":  # a resident leaves along its edge to either end
                arc(node, key[0], a * r_vu + s)
                arc(node, key[1], (ell - a) * r_uv + s)
            else:  # and reaches a facility from either end of the facility's edge
                arc(key[0], node, a * r_uv)
                arc(key[1], node, (ell - a) * r_vu)
            on_edge.setdefault(key, []).append((node, a, s, r_uv, r_vu))
    # a point and a facility on the same edge: directly along it
    for items in on_edge.values():
        for na, aa, sa, r_uv, r_vu in items:
            for nb, ab, sb, _, _ in items:
                if na[0] == "p" and nb[0] == "f":
                    gap = (ab - aa) * r_uv if ab > aa else (aa - ab) * r_vu
                    arc(na, ("direct", nb), sa + gap + sb)
                    arc(("direct", nb), ("fac_end", nb), 0.0)
    # every facility ends in one sink (reached with its leg, or directly)
    for i, r in enumerate(fac.itertuples()):
        arc(("f", i), "sink", float(r.snap_dist_m))
        arc(("fac_end", ("f", i)), "sink", 0.0)
    dist = nx.single_source_dijkstra_path_length(g.reverse(copy=True), "sink")
    return np.array([dist.get(("p", i), np.inf) for i in range(len(pts))])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_directed_search_matches_networkx_oracle(tmp_path, seed):
    rng = np.random.default_rng(seed)
    net0 = _random_network(rng)
    # a hilly DEM (slopes up to about 25 %) covering the lattice
    dem = write_dem(
        tmp_path / "hills.tif",
        lambda x, y: 40 * np.sin((x - X0) / 90) + 30 * np.cos((y - Y0) / 70),
        x0=X0 - 200,
        y0=Y0 + 1100,
        nx_=130,
        ny=130,
        res=10,
    )
    net = apply_dem(net0, dem)
    assert not np.allclose(net.edge_weight_uv, net.edge_weight_vu)
    fx, fy = X0 + rng.uniform(0, 840, 4), Y0 + rng.uniform(0, 840, 4)
    px, py = X0 + rng.uniform(0, 840, 40), Y0 + rng.uniform(0, 840, 40)
    fs = snap_points(net, fx, fy, max_snap_m=500)
    ps = snap_points(net, px, py, max_snap_m=500)
    d, _ = point_distances(net, multi_source(net, fs, limit_m=1e9), fs, ps)
    edges = pd.DataFrame(net.edges_gdf().drop(columns="geometry"))
    # every snap of a point or facility (near-tied streets) is a way in: the best one counts
    fac, _ = expand_snaps(fs.fields(net))
    pts, owner = expand_snaps(ps.fields(net))
    oracle = pd.Series(_directed_oracle(edges, fac, pts)).groupby(owner).min().to_numpy()
    assert d == pytest.approx(oracle, rel=1e-9, abs=1e-6)
    # the wrong direction (walking from facilities to residents) gives other answers
    swapped = dataclasses.replace(
        net, edge_weight_uv=net.edge_weight_vu, edge_weight_vu=net.edge_weight_uv
    )
    wrong = point_distances(swapped, multi_source(swapped, fs, limit_m=1e9), fs, ps)[0]
    assert not np.allclose(wrong, d)


def test_chunked_sampling_gives_the_same_weights(tmp_path, monkeypatch):
    import lifecircle.elevation as elevation

    net0 = _random_network(np.random.default_rng(5))
    dem = write_dem(
        tmp_path / "h.tif",
        lambda x, y: 30 * np.sin((x - X0) / 60) + 0.05 * y,
        x0=X0 - 200,
        y0=Y0 + 1100,
        nx_=130,
        ny=130,
        res=10,
    )
    whole = elevation.slope_weights(net0, dem)
    monkeypatch.setattr(elevation, "_CHUNK_POINTS", 97)
    chunked = elevation.slope_weights(net0, dem)
    assert chunked[0] == pytest.approx(whole[0], rel=1e-12)
    assert chunked[1] == pytest.approx(whole[1], rel=1e-12)
    assert chunked[2]["samples"] == whole[2]["samples"] > 97 * 10


# ---------------------------------------------------------------------------------------------
# bad DEMs


def test_dem_without_overlap_names_both_extents(tmp_path):
    dem = write_dem(
        tmp_path / "far.tif", lambda x, y: x * 0, x0=X0 + 50_000, y0=Y0 + 100, nx_=10, ny=10, res=10
    )
    with pytest.raises(InputFileError) as exc:
        apply_dem(_ramp_net(), dem)
    msg = str(exc.value)
    assert "does not overlap the network" in msg and "both in EPSG:32650" in msg
    assert "DEM extent (550000, 3.5e+06, 550100, 3.5001e+06)" in msg


def test_dem_nodata_everywhere(tmp_path):
    dem = ramp_dem(tmp_path / "nd.tif", lambda x, y: x * 0 - 9999, nodata=-9999)
    with pytest.raises(InputFileError, match="every DEM pixel under the network is nodata"):
        apply_dem(_ramp_net(), dem)


def test_dem_partly_nodata_counts_flat(tmp_path):
    # nodata on the eastern half: those pieces count as flat, the western half is a 10 % ramp
    dem = ramp_dem(
        tmp_path / "half.tif",
        lambda x, y: np.where(x - X0 < 500, 0.1 * (x - X0), -9999),
        nodata=-9999,
    )
    net = apply_dem(_ramp_net(), dem)
    w = float(net.edge_weight_uv[0])
    assert 1000 < w < 1000 / UP10
    assert net.stats["slope"]["edges_with_missing_elevation_flat"] == 1


def test_corrupt_dem_cli_one_line(grid_case):
    from tests.test_population import run_grid_cli

    bad = grid_case.folder / "dem.tif"
    bad.write_bytes(b"II*\x00" + bytes(range(256)))
    res = run_grid_cli(grid_case, "--dem", str(bad), "--out", str(grid_case.folder / "o"))
    assert res.exit_code == 2
    assert res.output.count("\n") == 1
    assert res.output.startswith(f"lifecircle: error: {bad}: cannot be read as a raster")


def test_cli_with_dem_and_population(grid_case):
    import geopandas as gpd

    from lifecircle.outputs.geopackage import read_metadata
    from tests.test_cli import assert_contract
    from tests.test_population import _grid_raster, run_grid_cli

    dem = grid_dem(grid_case.folder, lambda x, y: -0.1 * (y - Y0))
    pop = _grid_raster(grid_case.folder)
    out = grid_case.folder / "cli_out"
    options = ["--dem", str(dem), "--population", str(pop), "--speed-kmh", "4.8"]
    res = run_grid_cli(grid_case, *options, "--category", "retail", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert_contract(out, ["retail"])
    gpkg = out / "lifecircle.gpkg"
    meta = read_metadata(gpkg)
    assert {"dem", "population"} <= set(meta["inputs"])
    assert meta["slope"]["walk_m_columns"].startswith("equivalent flat metres")
    blocks = gpd.read_file(gpkg, layer="blocks").set_index("block_id")
    assert blocks.loc["B1", "walk_m_retail"] == pytest.approx(150 + 100 / UP10)
    assert blocks.loc["B1", "population"] == pytest.approx(32.0)
    assert set(blocks["pop_method"]) == {"raster"}
    edges = gpd.read_file(gpkg, layer="edges")
    assert {"slope_factor_uv", "slope_factor_vu"} <= set(edges.columns)
