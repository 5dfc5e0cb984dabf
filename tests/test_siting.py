"""Siting: coverage matrices against the engine and networkx; models against spopt, brute force."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from click.testing import CliRunner

from lifecircle import columns as col
from lifecircle import siting
from lifecircle._errors import ConfigError
from lifecircle.cli import cli
from lifecircle.pipeline import run
from lifecircle.snapping import Snap, snap_points
from tests.helpers import CRS, X0, Y0, oracle_distances

E = 1.0 - 1.0 / np.e


# ---------------------------------------------------------------------------------------------
# brute force on small instances


def _brute_max(cover: sp.csr_matrix, w: np.ndarray, p: int, fixed=(), base=None) -> float:
    base = np.zeros(cover.shape[1], bool) if base is None else base
    dense = cover.toarray() > 0
    start = base | dense[list(fixed)].any(axis=0) if len(fixed) else base.copy()
    free = [i for i in range(cover.shape[0]) if i not in set(fixed)]
    best = float(w[start].sum())
    for k in range(1, p + 1):
        for combo in itertools.combinations(free, k):
            cov = start | dense[list(combo)].any(axis=0)
            best = max(best, float(w[cov].sum()))
    return best


def _random_instance(seed: int, n_sites: int = 9, n_dem: int = 14, density: float = 0.25):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_sites, n_dem)) < density
    w = rng.integers(1, 100, n_dem).astype(float)
    return sp.csr_matrix(dense.astype(float)), w


@pytest.mark.parametrize("seed", range(12))
def test_greedy_bound_and_exact_equal_brute_force(seed):
    cover, w = _random_instance(seed)
    for p in (1, 2, 3):
        opt = _brute_max(cover, w, p)
        g = siting.max_coverage(cover, w, p=p)
        x = siting.max_coverage(cover, w, p=p, method="exact")
        assert x.population_after == pytest.approx(opt)
        assert x.status == "optimal" and x.gap == 0.0
        assert g.population_after >= E * opt - 1e-9
        assert g.population_after <= opt + 1e-9
        # the reported gains add up to the covered population
        assert g.gain.sum() == pytest.approx(g.objective)
        assert x.gain.sum() == pytest.approx(x.objective)


@pytest.mark.parametrize("seed", range(6))
def test_adding_a_site_never_lowers_coverage(seed):
    cover, w = _random_instance(seed, n_sites=12, n_dem=30)
    prev_g = prev_x = -1.0
    for p in range(0, 6):
        g = siting.max_coverage(cover, w, p=p).population_after
        x = siting.max_coverage(cover, w, p=p, method="exact").population_after
        assert g >= prev_g - 1e-9 and x >= prev_x - 1e-9
        assert x >= g - 1e-9
        prev_g, prev_x = g, x
    # greedy gains are non-increasing (submodularity)
    gains = siting.max_coverage(cover, w, p=6).gain
    assert np.all(np.diff(gains) <= 1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_fixed_sites_are_always_in_the_solution(seed):
    cover, w = _random_instance(seed, n_sites=10, n_dem=20)
    fixed = [seed % 10, (seed + 3) % 10]
    for method in ("greedy", "exact"):
        sol = siting.max_coverage(cover, w, p=2, fixed=fixed, method=method)
        assert set(fixed) <= set(sol.selected.tolist())
        assert not set(fixed) & set(sol.new.tolist())
        dense = cover.toarray() > 0
        assert sol.population_before == pytest.approx(float(w[dense[fixed].any(0)].sum()))
        if method == "exact":
            assert sol.population_after == pytest.approx(_brute_max(cover, w, 2, fixed))


@pytest.mark.parametrize("seed", range(6))
def test_set_cover_exact_is_the_fewest_sites(seed):
    cover, w = _random_instance(seed, n_sites=8, n_dem=12, density=0.35)
    dense = cover.toarray() > 0
    reachable = dense.any(0)
    share = 0.8 * float(w[reachable].sum()) / float(w.sum())
    fewest = next(k for k in range(0, 9)
                  if _brute_max(cover, w, k) >= share * w.sum() - 1e-9)
    x = siting.set_cover(cover, w, target_share=share, method="exact")
    g = siting.set_cover(cover, w, target_share=share)
    assert len(x.new) == fewest
    assert len(g.new) >= fewest
    assert x.population_after >= share * w.sum() - 1e-6
    assert g.population_after >= share * w.sum() - 1e-6


def test_set_cover_refuses_an_unreachable_target():
    cover = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]]))
    with pytest.raises(ConfigError, match=r"33\.3%"):
        siting.set_cover(cover, np.array([1.0, 1.0, 1.0]), target_share=0.9)


def test_capacity_by_hand():
    # two sites; site 0 reaches blocks 0, 1 (pop 300, 200), site 1 reaches block 2 (pop 150).
    # With capacity 250 one new site serves at most 250: site 0 gives 250, site 1 gives 150.
    cover = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    dist = np.array([100.0, 50.0, 10.0])
    matrix = siting.CoverageMatrix(cover, dist, 1000.0)
    w = np.array([300.0, 200.0, 150.0])
    for method in ("greedy", "exact"):
        one = siting.max_coverage(matrix, w, p=1, capacity=250, method=method)
        assert one.new.tolist() == [0] and one.objective == pytest.approx(250)
        two = siting.max_coverage(matrix, w, p=2, capacity=250, method=method)
        assert two.objective == pytest.approx(400)
        assert two.gain.tolist() == pytest.approx([250, 150])
    # greedy serves the nearest block first: block 1 (50 m) whole, then 50 of block 0
    g = siting.max_coverage(matrix, w, p=1, capacity=250)
    assert g.covered.tolist() == pytest.approx([50 / 300, 1.0, 0.0])


def test_exact_refuses_big_instances(monkeypatch):
    cover, w = _random_instance(0)
    monkeypatch.setattr(siting.milp, "EXACT_MAX_CANDIDATES", 5)
    with pytest.raises(ConfigError, match="--method greedy"):
        siting.max_coverage(cover, w, p=2, method="exact")


# ---------------------------------------------------------------------------------------------
# San Francisco: the siting data shipped inside the spopt wheel


def _spopt_sf():
    spopt = pytest.importorskip("spopt", reason="spopt is in the siting extra")
    data = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
    dist_csv = data / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
    demand_csv = data / "SF_demand_205_centroid_uniform_weight.csv"
    if not dist_csv.is_file() or not demand_csv.is_file():
        pytest.skip(f"spopt's San Francisco test data is not installed ({data})")
    piv = pd.read_csv(dist_csv).pivot_table(values="distance", index="DestinationName",
                                            columns="name")
    demand = pd.read_csv(demand_csv).sort_values("NAME")
    cost = piv.to_numpy()  # tracts x stores, tracts sorted by name like the demand
    assert list(piv.index) == demand["NAME"].tolist() or np.allclose(
        piv.index.astype(float), demand["NAME"].astype(float))
    return cost, demand["POP2000"].to_numpy(dtype=float)


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")
def test_sf_max_coverage_reproduces_spopt_optimum():
    import pulp
    from spopt.locate import MCLP

    cost, pop = _spopt_sf()
    cover = sp.csr_matrix((cost.T <= 5000.0).astype(float))  # stores x tracts
    sol = siting.max_coverage(cover, pop, p=4, method="exact")
    assert sol.status == "optimal" and sol.gap == 0.0
    covered = sol.covered > 0.5
    # spopt's tests assert 21 uncovered tracts, 89.756 % covered (184 of 205)
    assert int((~covered).sum()) == 21
    assert 100 * covered.mean() == pytest.approx(89.75609756097561)
    # the same optimum value as spopt's own model on the same matrix
    ref = MCLP.from_cost_matrix(cost, pop, 5000.0, 4).solve(pulp.HiGHS(msg=False))
    assert sol.population_after == pytest.approx(pulp.value(ref.problem.objective))
    greedy = siting.max_coverage(cover, pop, p=4)
    assert E * sol.population_after <= greedy.population_after <= sol.population_after


# ---------------------------------------------------------------------------------------------
# coverage matrix on the grid: hand-computed, engine and networkx oracle


@pytest.fixture
def grid_run(grid_case):
    return run(grid_case.graphml, facilities=grid_case.facilities, blocks=grid_case.blocks,
               minutes=3.0, categories=["retail", "health"])


def _snap_frame(result, gdf):
    snap = snap_points(result.network, gdf.geometry.x.to_numpy(),
                              gdf.geometry.y.to_numpy(), max_snap_m=300.0)
    fields = snap.fields(result.network)
    return snap, gpd.GeoDataFrame(fields, geometry=gdf.geometry.values, crs=gdf.crs)


def test_grid_matrix_by_hand(grid_run):
    # a candidate at (150, 0) on the bottom edge: B2 200 m (same edge, its leg), B1
    # 50 + 100 + 50 + 30 = 230 m, B3 50 + 200 + 50 + 20 = 320 m (> 240 m at 3 min)
    cand = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 150, Y0)], crs=CRS)
    s = siting.site(grid_run, "health", new=1, candidates=cand)
    blocks, dist = s.matrix.row(1)  # row 0 is the island clinic
    names = grid_run.blocks["block_id"].to_numpy()[blocks]
    assert dict(zip(names, dist, strict=True)) == pytest.approx({"B1": 230.0, "B2": 200.0})
    assert s.proposed_sites["gain_population"].tolist() == [300.0]
    assert s.matrix.row(0)[0].size == 0  # the island clinic covers nothing


def test_grid_matrix_equals_networkx_oracle(grid_run):
    net = grid_run.network
    cand = siting.network_sample(net, spacing_m=30.0)
    snap, frame = _snap_frame(grid_run, cand)
    block_ids, ap_block = siting.block_index(grid_run)
    aps = grid_run.access_points
    apsnap = Snap.from_columns(aps)
    limit = 240.0
    m = siting.coverage_matrix(net, snap, apsnap, ap_block, len(block_ids), limit_m=limit)
    edges = grid_run.edges.rename(columns={"length": "length_m"})
    for i in range(len(cand)):
        d = oracle_distances(edges, frame.iloc[[i]], aps)
        per_block = pd.Series(d).groupby(ap_block).min().reindex(range(len(block_ids)))
        expect = {int(b): v for b, v in per_block.items() if v <= limit}
        blocks, dist = m.row(i)
        assert dict(zip(blocks.tolist(), dist, strict=True)) == pytest.approx(expect, abs=1e-6)


def test_fixed_rows_reproduce_the_run_and_scenario_agrees(grid_run):
    s = siting.site(grid_run, "retail", new=2)
    nf = len(s.solution.fixed)
    base = np.zeros(len(grid_run.blocks), bool)
    base[np.unique(s.matrix.cover[:nf].indices)] = True
    assert base.tolist() == grid_run.blocks[col.covered("retail")].tolist()
    ba = s.report["before_after"]
    assert ba["change"]["population_covered"] == pytest.approx(s.solution.objective, abs=0.1)
    gained = s.scenario_blocks.loc[s.scenario_blocks["change"] == "gained", "population"]
    assert float(gained.sum()) == pytest.approx(s.solution.objective)


def test_removing_a_facility_shows_the_loss(grid_run):
    table, fig = siting.scenario(grid_run, "retail", remove=["user/shop1"])
    # at 3 min (240 m) shop1 covered B2 (220 m) only
    assert table.loc[table["change"] == "lost", "block_id"].tolist() == ["B2"]
    assert fig["change"]["population_covered"] == pytest.approx(-200.0)
    with pytest.raises(Exception, match="no retail facility with id 'nope'"):
        siting.scenario(grid_run, "retail", remove=["nope"])


# ---------------------------------------------------------------------------------------------
# real city: the exact optimum against brute force, greedy reported beside it


def test_nanjing_exact_matches_brute_force(nanjing_run, capsys):
    r = nanjing_run
    cat = "elderly_care"
    sample = siting.network_sample(r.network, spacing_m=400.0)
    sample = sample.iloc[np.linspace(0, len(sample) - 1, 24).astype(int)]
    s = siting.site(r, cat, new=3, candidates=sample, method="exact")
    nf = len(s.solution.fixed)
    pop = r.blocks["population"].to_numpy(dtype=float)
    opt = _brute_max(s.matrix.cover, pop, 3, fixed=list(range(nf)))
    assert s.solution.population_after == pytest.approx(opt)
    assert s.greedy is not None
    assert E * opt - 1e-6 <= s.greedy.population_after <= opt + 1e-6
    with capsys.disabled():
        print(f"\nnanjing {cat}: 24 candidates, p=3: exact {opt:,.0f}, "
              f"greedy {s.greedy.population_after:,.0f} residents covered")
    # the matrix's fixed rows give the run's own coverage flags
    base = np.zeros(len(r.blocks), bool)
    base[np.unique(s.matrix.cover[:nf].indices)] = True
    assert base.tolist() == r.blocks[col.covered(cat)].tolist()


def test_nanjing_matrix_equals_engine_per_candidate(nanjing_run):
    from lifecircle.routing import multi_source, point_distances

    r = nanjing_run
    net = r.network
    sample = siting.network_sample(net, spacing_m=250.0).iloc[::37].reset_index(drop=True)
    snap, _ = _snap_frame(r, sample)
    block_ids, ap_block = siting.block_index(r)
    apsnap = Snap.from_columns(r.access_points)
    limit = 900.0
    m = siting.coverage_matrix(net, snap, apsnap, ap_block, len(block_ids), limit_m=limit,
                               batch=7)
    for i in range(len(sample)):
        one = snap.subset(np.arange(len(sample)) == i)
        nodes = multi_source(net, one, limit_m=limit)
        d, _ = point_distances(net, nodes, one, apsnap)
        per_block = pd.Series(d).groupby(ap_block).min()
        expect = {int(b): v for b, v in per_block.items() if v <= limit}
        blocks, dist = m.row(i)
        assert dict(zip(blocks.tolist(), dist, strict=True)) == pytest.approx(expect, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# candidates and the CLI


def test_network_sample_spacing(grid_run):
    cand = siting.network_sample(grid_run.network, spacing_m=25.0)
    # 18 edges of 100 m, 4 points each, at 12.5, 37.5, 62.5, 87.5 m
    assert len(cand) == 18 * 4
    assert cand["candidate_id"].is_unique
    with pytest.raises(ConfigError):
        siting.network_sample(grid_run.network, spacing_m=0)


def test_candidates_from_osm_kinds(nanjing_run):
    cand = siting.candidates_from_osm(nanjing_run.osm, nanjing_run.network.crs)
    assert len(cand) > 0
    assert cand["candidate_id"].is_unique
    kinds = {s.split("=")[0] for s in cand["source"]}
    assert kinds <= {"building", "landuse", "amenity"}
    assert (cand.geometry.geom_type == "Point").all()


def test_candidates_from_osm_include_vacant_land_and_parking():
    from lifecircle.network import WalkNetwork
    from lifecircle.sources.osm import read_osm
    from tests.conftest import shared_osm

    data = read_osm(shared_osm("taichung_xitun.osm.gz"))
    net = WalkNetwork.from_osm(data)
    cand = siting.candidates_from_osm(data, net.crs)
    sources = set(cand["source"])
    # the Xitun extract has landuse=construction areas and surface parking lots
    assert "landuse=construction" in sources
    assert "amenity=parking" in sources
    assert sources <= ({f"building={b}" for b in siting.CANDIDATE_BUILDINGS}
                       | {f"landuse={v}" for v in siting.CANDIDATE_LANDUSE}
                       | {"amenity=parking"})
    assert cand.crs == net.crs


def test_cli_site_writes_layers_and_report(tmp_path, grid_case):
    cand = tmp_path / "cand.csv"
    pd.DataFrame({"id": ["a", "b", "c"],
                  "x": [X0 + 150, X0 + 50, X0 + 300], "y": [Y0, Y0 + 100, Y0]}
                 ).to_csv(cand, index=False)
    out = tmp_path / "out"
    args = ["site", "--osm", str(grid_case.graphml), "--facilities", str(grid_case.facilities),
            "--blocks", str(grid_case.blocks), "--category", "health", "--new", "2",
            "--minutes", "3", "--candidates", str(cand), "--candidates-crs", CRS,
            "--method", "exact", "--out", str(out), "-q"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    sites = gpd.read_file(out / "lifecircle.gpkg", layer="proposed_sites")
    # b at (50, 100) covers B1 (230 m) and B3 (220 m) = 400; then a adds B2 = 200;
    # c at (300, 0) covers only B1 (180 m)
    assert sites["candidate_id"].tolist() == ["b", "a"]
    assert sites["rank"].tolist() == [1, 2]
    assert sites["gain_population"].tolist() == [400.0, 200.0]
    report = json.loads((out / "report.json").read_text())
    assert report["siting"]["solution"]["population_newly_covered"] == 600.0
    assert report["siting"]["solution"]["status"] == "optimal"
    assert report["siting"]["before_after"]["after"]["population_covered"] == 600.0
    blocks = gpd.read_file(out / "lifecircle.gpkg", layer="siting_blocks")
    assert sorted(blocks.loc[blocks["change"] == "gained", "block_id"]) == ["B1", "B2", "B3"]
    assert (out / "_SUCCESS.json").is_file()
    assert (out / "siting_before_after.csv").is_file()
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Siting: health" in md and "| 1 | b | 400 |" in md


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--category", "health", "--category", "retail"], 3, "exactly one --category"),
        (["--category", "helth"], 3, "did you mean 'health'"),
        (["--category", "health", "--candidates", "missing.csv"], 2, "missing.csv"),
    ],
)
def test_cli_site_errors_are_one_line(tmp_path, grid_case, extra, code, message):
    args = ["site", "--osm", str(grid_case.graphml), "--facilities", str(grid_case.facilities),
            "--blocks", str(grid_case.blocks), "--out", str(tmp_path / "o"), "-q", *extra]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == code, res.output
    assert message in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o" / "_SUCCESS.json").exists()


def test_cli_site_set_cover_and_unreachable_target(tmp_path, grid_case):
    base = ["site", "--osm", str(grid_case.graphml), "--facilities", str(grid_case.facilities),
            "--blocks", str(grid_case.blocks), "--category", "health", "--minutes", "3", "-q"]
    # B4 (50 of 650 residents) is 1.4 km from any street: 92.3 % is the most one can cover
    res = CliRunner().invoke(cli, [*base, "--target-share", "1", "--out", str(tmp_path / "a")])
    assert res.exit_code == 3 and "92.3%" in res.output, res.output
    res = CliRunner().invoke(cli, [*base, "--target-share", "0.9", "--method", "exact",
                                   "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())["siting"]
    assert report["model"] == "set_cover"
    # no single street point reaches B2 (200 m leg) and B3 together within 240 m: two sites
    assert report["solution"]["new_sites"] == 2
    assert report["solution"]["population_covered_after"] == 600.0


@pytest.mark.filterwarnings("ignore:Constructing LpVariable:DeprecationWarning")
@pytest.mark.parametrize("cat", ["elderly_care", "childcare"])
def test_nanjing_exact_equals_spopt_mclp(nanjing_run, cat, capsys):
    """An independent MILP: spopt's MCLP on our cost matrix, already-covered blocks weighted 0."""
    import pulp
    from spopt.locate import MCLP

    r = nanjing_run
    s = siting.site(r, cat, new=3, spacing_m=200.0, method="exact")
    nf = len(s.solution.fixed)
    cand = s.matrix.cover[nf:].tocsr()
    dist = sp.csr_matrix((s.matrix.dist_m[s.matrix.cover.indptr[nf]:] + 1.0, cand.indices,
                          cand.indptr), shape=cand.shape).toarray()
    cost = np.where(dist > 0, dist - 1.0, 1e9).T  # blocks x candidates, unreachable far away
    pop = r.blocks["population"].to_numpy(dtype=float)
    open_pop = np.where(r.blocks[col.covered(cat)].to_numpy(bool), 0.0, pop)
    ref = MCLP.from_cost_matrix(cost, open_pop, s.matrix.limit_m, 3).solve(pulp.HiGHS(msg=False))
    assert s.solution.objective == pytest.approx(pulp.value(ref.problem.objective), rel=1e-9)
    assert s.greedy is not None and s.greedy.objective >= E * s.solution.objective
    with capsys.disabled():
        print(f"\nnanjing {cat}: {cand.shape[0]} candidates, p=3: exact newly covers "
              f"{s.solution.objective:,.0f} (spopt MCLP: {pulp.value(ref.problem.objective):,.0f}),"
              f" greedy {s.greedy.objective:,.0f}")


# ---------------------------------------------------------------------------------------------
# exact siting on a plain install: scipy.optimize.milp, with highspy and pulp agreeing


def test_sf_max_coverage_with_scipy_alone():
    """spopt's San Francisco data (only the data files are read from its wheel): the exact
    MCLP with SciPy's HiGHS picks stores 2, 11, 12, 15 and covers 875,247 people."""
    import sys

    cost, pop = _spopt_sf()
    names = sorted(f"Store_{k}" for k in (1, *range(11, 20), *range(2, 8)))  # piv's columns
    cover = sp.csr_matrix((cost.T <= 5000.0).astype(float))
    sol = siting.max_coverage(cover, pop, p=4, method="exact")
    assert sol.solver == "scipy" and sol.status == "optimal" and sol.gap == 0.0
    assert sorted(names[i] for i in sol.new) == ["Store_11", "Store_12", "Store_15", "Store_2"]
    assert sol.population_after == pytest.approx(875_247)
    assert sol.bound == pytest.approx(875_247)
    assert int((sol.covered < 0.5).sum()) == 21
    assert "pulp" not in sys.modules or sol.solver == "scipy"


def test_sf_exact_runs_with_pulp_highspy_and_spopt_unimportable():
    """As on ``pip install -e .`` with no extras: pulp, highspy and spopt cannot be imported
    (only spopt's data files are read, from where its wheel put them)."""
    import importlib.util
    import subprocess
    import sys

    spec = importlib.util.find_spec("spopt")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("spopt's San Francisco test data is not installed")
    data = Path(spec.submodule_search_locations[0]) / "tests" / "test_locate" / "data"
    code = f"""
import sys
for m in ("pulp", "highspy", "spopt"):
    sys.modules[m] = None
import pandas as pd, scipy.sparse as sp
from lifecircle import siting
d = {str(data)!r}
piv = pd.read_csv(d + "/SF_network_distance_candidateStore_16_censusTract_205_new.csv"
                  ).pivot_table(values="distance", index="DestinationName", columns="name")
pop = pd.read_csv(d + "/SF_demand_205_centroid_uniform_weight.csv").sort_values("NAME")
cover = sp.csr_matrix((piv.to_numpy().T <= 5000.0).astype(float))
sol = siting.max_coverage(cover, pop["POP2000"].to_numpy(float), p=4, method="exact")
print(",".join(sorted(piv.columns[sol.new])), round(sol.population_after), sol.status, sol.gap)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], check=True, timeout=300)
    assert out.stdout.split() == ["Store_11,Store_12,Store_15,Store_2", "875247", "optimal",
                                  "0.0"]


@pytest.mark.parametrize("seed", range(8))
def test_solvers_give_the_same_optimum(seed):
    pytest.importorskip("pulp", reason="pulp is in the siting extra")
    pytest.importorskip("highspy", reason="highspy is in the siting extra")
    cover, w = _random_instance(seed, n_sites=10, n_dem=18)
    opt = _brute_max(cover, w, 3)
    reachable = float(w[(cover.toarray() > 0).any(0)].sum())
    for solver in siting.SOLVERS:
        x = siting.max_coverage(cover, w, p=3, method="exact", solver=solver)
        assert x.population_after == pytest.approx(opt), solver
        assert x.status == "optimal" and x.gap == 0.0 and x.solver == solver
        c = siting.max_coverage(cover, w, p=2, method="exact", solver=solver, capacity=60.0,
                                fixed=[0], fixed_capacity=40.0)
        ref = siting.max_coverage(cover, w, p=2, method="exact", capacity=60.0, fixed=[0],
                                  fixed_capacity=40.0)
        assert c.population_after == pytest.approx(ref.population_after), solver
        s = siting.set_cover(cover, w, target_share=0.7 * reachable / w.sum(), method="exact",
                             solver=solver)
        assert len(s.new) == len(siting.set_cover(cover, w, target_share=0.7 * reachable
                                                  / w.sum(), method="exact").new)


def test_unknown_solver_is_a_config_error():
    cover, w = _random_instance(0)
    with pytest.raises(ConfigError, match="unknown solver 'cplex'"):
        siting.max_coverage(cover, w, p=1, method="exact", solver="cplex")


def test_existing_capacity_by_hand():
    # rows: 0 existing F (capacity 250) reaches A (300 people, 100 m) and B (200, 50 m);
    # 1 candidate C1 reaches B (80 m) and D (100 people, 60 m); 2 candidate C2 reaches A.
    cover = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
    matrix = siting.CoverageMatrix(cover, np.array([100.0, 50.0, 80.0, 60.0, 40.0]), 500.0)
    w = np.array([300.0, 200.0, 100.0])
    before = siting.max_coverage(matrix, w, p=0, fixed=[0], fixed_capacity=250.0)
    # F serves 250: its nearest block B whole, then 50 of A
    assert before.population_before == pytest.approx(250.0)
    assert before.covered.tolist() == pytest.approx([50 / 300, 1.0, 0.0])
    # exact: C1 (B and D) lets F move to A: 250 of A + 200 + 100 = 550; C2 gives only 500
    x = siting.max_coverage(matrix, w, p=1, fixed=[0], fixed_capacity=[250.0], method="exact")
    assert x.new.tolist() == [1] and x.population_after == pytest.approx(550.0)
    assert x.objective == pytest.approx(300.0)
    assert x.covered.tolist() == pytest.approx([250 / 300, 1.0, 1.0])
    # greedy keeps F's assignment (B whole, 50 of A): C1 adds D 100, C2 adds A's 250
    g = siting.max_coverage(matrix, w, p=1, fixed=[0], fixed_capacity=250.0)
    assert g.new.tolist() == [2] and g.population_after == pytest.approx(500.0)
    assert g.gain.tolist() == pytest.approx([250.0])
    # without the capacity F covers A and B whole: only D is left, for C1
    u = siting.max_coverage(matrix, w, p=1, fixed=[0], method="exact")
    assert u.population_before == 500.0 and u.new.tolist() == [1] and u.objective == 100.0
    # capacities on both sides: new sites serve at most 120
    both = siting.max_coverage(matrix, w, p=2, fixed=[0], fixed_capacity=250.0, capacity=120,
                               method="exact")
    assert both.population_after == pytest.approx(250 + 120 + 120)


def test_site_reads_existing_capacity_from_the_facility_file(tmp_path, grid_case):
    fac = gpd.read_file(grid_case.facilities)
    fac["capacity"] = [150.0, 10.0]
    path = tmp_path / "fac_cap.gpkg"
    fac.to_file(path, engine="pyogrio")
    res = run(grid_case.graphml, facilities=path, blocks=grid_case.blocks, minutes=3.0,
              categories=["retail"])
    assert res.facilities.set_index("facility_id").loc["user/shop1", "capacity"] == 150.0
    cand = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 150, Y0)], crs=CRS)
    # shop1 reaches B2 (200 residents) only; with room for 150 it serves 150 of them. The
    # candidate reaches B1 (100) and B2: after = 100 + 200, a gain of 150 over 150
    for cap in ("capacity", 150.0):
        s = siting.site(res, "retail", new=1, candidates=cand, existing_capacity=cap,
                        method="exact")
        assert s.solution.population_before == pytest.approx(150.0)
        assert s.solution.population_after == pytest.approx(300.0)
        assert s.report["existing_capacity"] == cap
    plain = siting.site(res, "retail", new=1, candidates=cand, method="exact")
    assert plain.solution.population_before == 200.0 and plain.solution.objective == 100.0
    with pytest.raises(ConfigError, match="maximal coverage"):
        siting.site(res, "retail", target_share=0.5, candidates=cand, existing_capacity=1.0)


# ---------------------------------------------------------------------------------------------
# sloped networks (a DEM): the matrix walks in the resident's direction


@pytest.fixture
def sloped_run(grid_case):
    from tests.test_elevation import grid_dem

    # z = 0.1 (x - X0): every east-west street rises 10 % eastwards, north-south ones are flat
    dem = grid_dem(grid_case.folder, lambda x, y: 0.1 * (x - X0))
    return run(grid_case.graphml, facilities=grid_case.facilities, blocks=grid_case.blocks,
               minutes=5.0, categories=["retail", "health"], dem=dem)


def test_sloped_matrix_by_hand(sloped_run):
    from tests.test_elevation import UP10

    assert sloped_run.network.directed
    cand = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 120, Y0), shapely.Point(X0 + 180, Y0)],
                            crs=CRS)
    s = siting.site(sloped_run, "health", new=1, candidates=cand)
    ids = sloped_run.blocks["block_id"].to_numpy()
    row = {k: dict(zip(ids[s.matrix.row(k)[0]], s.matrix.row(k)[1], strict=True))
           for k in (1, 2)}
    # Both candidates stand on the bottom street (x 100..200), B2's access point at x = 150
    # on it (200 m leg). Going west at -10 % is as fast as flat in Tobler's function, going
    # east is uphill. To x = 120: B2 walks 30 m west (230); B1 walks 30 + 50 west, 100 flat
    # south, 80 west (260); B3 walks 20 + 50 east, 200 south, 20 east.
    assert row[1] == pytest.approx({"B1": 260.0, "B2": 230.0, "B3": 220 + 70 / UP10})
    # To x = 180: B2 walks straight to the corner (200, 0), hypot(50, 200) = 206.2 m (within
    # 5 % of its 200 m leg: an alternative snap), then 20 m west, rather than 30 m east uphill
    # (200 + 30 / UP10 = 242.6); B1 30 + 50 + 100 + 20; B3 would need 220 + 130 / UP10 =
    # 404 m, beyond the 400 m of 5 minutes
    assert 200 + 30 / UP10 > math.hypot(50, 200) + 20
    assert row[2] == pytest.approx({"B1": 200.0, "B2": math.hypot(50, 200) + 20})


def test_sloped_matrix_equals_engine_per_candidate(sloped_run):
    from lifecircle.routing import multi_source, point_distances

    r = sloped_run
    net = r.network
    sample = siting.network_sample(net, spacing_m=30.0)
    snap, _ = _snap_frame(r, sample)
    block_ids, ap_block = siting.block_index(r)
    apsnap = Snap.from_columns(r.access_points)
    limit = 400.0
    m = siting.coverage_matrix(net, snap, apsnap, ap_block, len(block_ids), limit_m=limit)
    flat_differs = 0
    for i in range(len(sample)):
        one = snap.subset(np.arange(len(sample)) == i)
        d, _ = point_distances(net, multi_source(net, one, limit_m=limit), one, apsnap)
        per_block = pd.Series(d).groupby(ap_block).min()
        expect = {int(b): v for b, v in per_block.items() if v <= limit}
        blocks, dist = m.row(i)
        assert dict(zip(blocks.tolist(), dist, strict=True)) == pytest.approx(expect, abs=1e-6)
        flat_differs += int(any(abs(v - round(v)) > 1e-6 for v in expect.values()))
    assert flat_differs > 10  # the slope changed many candidates' distances
    # the run's own existing facilities give the run's own block times
    s = siting.site(r, "retail", new=1, spacing_m=50.0)
    blocks, dist = s.matrix.row(0)
    walk_m = r.blocks["walk_m_retail"].to_numpy()
    assert dist == pytest.approx(walk_m[blocks])


# ---------------------------------------------------------------------------------------------
# vacant land from the online path (a recorded osmnx response)


def test_online_candidates_include_vacant_land_and_parking(monkeypatch, tmp_path):
    import bz2

    import osmnx as ox

    from lifecircle.sources.online import download_osm, osm_data_from_features
    from tests.conftest import shared_osm

    xml = tmp_path / "west_oakland.osm"
    xml.write_bytes(bz2.decompress(shared_osm("west_oakland.osm.bz2").read_bytes()))
    asked: dict[str, object] = {}

    def fake_features(place, tags):
        asked["tags"] = tags
        return ox.features_from_xml(xml, tags=tags)  # what Overpass answers for these tags

    monkeypatch.setattr(ox, "graph_from_place", lambda place, **kw: None)
    monkeypatch.setattr(ox, "features_from_place", fake_features)
    _, features = download_osm(place="West Oakland, California")
    assert "brownfield" in asked["tags"]["landuse"]  # type: ignore[index]
    data = osm_data_from_features(features, where="West Oakland")
    assert {v[2] for v in data.vacant} == {"brownfield"}
    cand = siting.candidates_from_osm(data, "EPSG:32610")
    sources = cand["source"].value_counts()
    # the extract has 5 landuse=brownfield areas and surface parking
    assert sources["landuse=brownfield"] == len(data.vacant) == 5
    assert sources["amenity=parking"] >= 1
    assert cand.crs == "EPSG:32610" and (cand.geometry.geom_type == "Point").all()


def test_cli_site_existing_capacity_and_solver(tmp_path, grid_case):
    fac = gpd.read_file(grid_case.facilities)
    fac["capacity"] = [150.0, 10.0]
    path = tmp_path / "fac_cap.gpkg"
    fac.to_file(path, engine="pyogrio")
    cand = tmp_path / "cand.csv"
    pd.DataFrame({"id": ["a"], "x": [X0 + 150], "y": [Y0]}).to_csv(cand, index=False)
    base = ["site", "--osm", str(grid_case.graphml), "--facilities", str(path),
            "--blocks", str(grid_case.blocks), "--category", "retail", "--new", "1",
            "--minutes", "3", "--candidates", str(cand), "--candidates-crs", CRS,
            "--method", "exact", "-q"]
    for i, cap in enumerate(("capacity", "150")):
        out = tmp_path / f"out{i}"
        res = CliRunner().invoke(cli, [*base, "--existing-capacity", cap, "--out", str(out)])
        assert res.exit_code == 0, res.output
        sol = json.loads((out / "report.json").read_text())["siting"]["solution"]
        assert sol["solver"] == "scipy" and sol["status"] == "optimal"
        assert sol["population_covered_before"] == 150.0
        assert sol["population_covered_after"] == 300.0
    res = CliRunner().invoke(cli, [*base, "--existing-capacity", "beds",
                                   "--out", str(tmp_path / "bad")])
    assert res.exit_code != 0 and "no column 'beds'" in res.output
    assert "Traceback" not in res.output
