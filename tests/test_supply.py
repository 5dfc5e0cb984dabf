"""2SFCA / E2SFCA against PySAL ``access`` (its hospital example and random instances)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lifecircle.snapping import Snap
from lifecircle.supply import gaussian_weight, step_weight, supply_demand, two_step_fca

access = pytest.importorskip("access", reason="PySAL access is in the siting extra")

# access itself calls DataFrame.set_index(inplace=True), deprecated by pandas
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning",
                                        "ignore:The inplace keyword")

# the three-tract hospital example of access's own tests (tests/test_hospital_example.py)
TRACTS = pd.DataFrame({"geoid": [1, 2, 3], "pop": [100, 50, 10], "doc": [15, 20, 100]})
SCENARIOS = {
    "gridlock": {(1, 3): 40, (2, 3): 40, (3, 1): 40, (3, 2): 40, (1, 2): 80, (2, 1): 80},
    "inbound": {(1, 3): 20, (2, 3): 20, (3, 1): 40, (3, 2): 40, (1, 2): 80, (2, 1): 80},
    "outbound": {(1, 3): 40, (2, 3): 40, (3, 1): 20, (3, 2): 20, (1, 2): 80, (2, 1): 80},
    "symmetric": {(1, 3): 20, (2, 3): 20, (3, 1): 20, (3, 2): 20, (1, 2): 40, (2, 1): 40},
}


def _costs(pairs: dict[tuple[int, int], float]) -> pd.DataFrame:
    rows = [{"origin": i, "dest": i, "cost": 1} for i in (1, 2, 3)]
    rows += [{"origin": o, "dest": d, "cost": c} for (o, d), c in pairs.items()]
    return pd.DataFrame(rows)


def _ours(costs: pd.DataFrame, supply: np.ndarray, demand: np.ndarray, max_cost: float,
          weight=None) -> np.ndarray:
    # cost rows are origin (demand) -> dest (supply); ids 1..n map to index id - 1
    acc, _ = two_step_fca(costs["dest"].to_numpy() - 1, costs["origin"].to_numpy() - 1,
                          costs["cost"].to_numpy(dtype=float), supply, demand,
                          max_cost=max_cost, weight=weight)
    return acc


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_hospital_example_equals_access(scenario):
    from access import Access
    from access.access import weights

    costs = _costs(SCENARIOS[scenario])
    a = Access(demand_df=TRACTS, demand_index="geoid", demand_value="pop", supply_df=TRACTS,
               supply_index="geoid", supply_value="doc", cost_df=costs, cost_origin="origin",
               cost_dest="dest", cost_name="cost")
    a.two_stage_fca(name="g", weight_fn=weights.gravity(1, -1), max_cost=61)
    a.two_stage_fca(name="plain", max_cost=61)
    theirs_g = a.access_df["g_doc"].sort_index().to_numpy()
    theirs_plain = a.access_df["plain_doc"].sort_index().to_numpy()
    supply = TRACTS["doc"].to_numpy(dtype=float)
    demand = TRACTS["pop"].to_numpy(dtype=float)
    ours_g = _ours(costs, supply, demand, 61, weight=lambda t: 1.0 / t)
    ours_plain = _ours(costs, supply, demand, 61)
    np.testing.assert_allclose(ours_g, theirs_g, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours_plain, theirs_plain, rtol=0, atol=1e-6)


def test_hospital_gridlock_by_hand():
    # plain 2SFCA, gridlock, 61-minute catchment: tract 3's doctors serve everyone
    # R1 = 15/(100+10), R2 = 20/(50+10), R3 = 100/160; A1 = R1 + R3, A2 = R2 + R3,
    # A3 = R1 + R2 + R3
    costs = _costs(SCENARIOS["gridlock"])
    acc = _ours(costs, np.array([15.0, 20, 100]), np.array([100.0, 50, 10]), 61)
    r1, r2, r3 = 15 / 110, 20 / 60, 100 / 160
    np.testing.assert_allclose(acc, [r1 + r3, r2 + r3, r1 + r2 + r3], atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_random_instances_equal_access_with_decay(seed):
    from access import Access
    from access.access import weights

    rng = np.random.default_rng(seed)
    n_dem, n_sup = 12, 5
    dem = pd.DataFrame({"geoid": np.arange(n_dem), "pop": rng.integers(10, 500, n_dem)})
    sup = pd.DataFrame({"geoid": np.arange(100, 100 + n_sup),
                        "beds": rng.integers(1, 40, n_sup)})
    o, d = np.meshgrid(np.arange(n_dem), np.arange(100, 100 + n_sup), indexing="ij")
    costs = pd.DataFrame({"origin": o.ravel(), "dest": d.ravel(),
                          "cost": rng.uniform(0.5, 25, o.size).round(3)})
    costs = costs.sample(frac=0.7, random_state=seed)  # some pairs unreachable
    a = Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup,
               supply_index="geoid", supply_value="beds", cost_df=costs,
               cost_origin="origin", cost_dest="dest", cost_name="cost")
    steps = {5: 1.0, 10: 0.68, 15: 0.22}
    a.enhanced_two_stage_fca(name="e", weight_fn=weights.step_fn(steps), max_cost=15)
    a.two_stage_fca(name="gs", weight_fn=weights.gaussian(6.0), max_cost=15)
    theirs_e = a.access_df["e_beds"].reindex(dem["geoid"]).fillna(0).to_numpy()
    theirs_gs = a.access_df["gs_beds"].reindex(dem["geoid"]).fillna(0).to_numpy()
    args = (costs["dest"].to_numpy() - 100, costs["origin"].to_numpy(),
            costs["cost"].to_numpy(), sup["beds"].to_numpy(float), dem["pop"].to_numpy(float))
    ours_e, _ = two_step_fca(*args, max_cost=15, weight=step_weight(steps))
    ours_gs, _ = two_step_fca(*args, max_cost=15, weight=gaussian_weight(6.0))
    np.testing.assert_allclose(ours_e, theirs_e, atol=1e-6)
    np.testing.assert_allclose(ours_gs, theirs_gs, atol=1e-6)


def test_supply_is_conserved():
    # every facility with residents in reach hands out exactly its supply: sum_i P_i A_i = sum S
    rng = np.random.default_rng(7)
    s_idx = rng.integers(0, 4, 30)
    d_idx = rng.integers(0, 10, 30)
    cost = rng.uniform(0, 10, 30)
    supply = rng.uniform(1, 5, 4)
    demand = rng.uniform(10, 100, 10)
    acc, ratio = two_step_fca(s_idx, d_idx, cost, supply, demand, max_cost=10.0)
    served = np.isfinite(ratio)
    assert float((demand * acc).sum()) == pytest.approx(float(supply[served].sum()), rel=1e-12)


def test_supply_demand_on_the_grid(grid_case, tmp_path):
    from lifecircle.pipeline import run

    res = run(grid_case.graphml, facilities=grid_case.facilities, blocks=grid_case.blocks,
              categories=["retail"])
    table = supply_demand(res, "retail", capacity=60.0)
    # shop1 reaches B1, B2, B3 (250, 220, 340 m, all within 1200 m), not B4: R = 60 / 600
    got = dict(zip(table["block_id"], table["supply_per_resident"], strict=True))
    assert got == pytest.approx({"B1": 0.1, "B2": 0.1, "B3": 0.1, "B4": 0.0})
    # distance-decayed: weights by minutes 3.125, 2.75, 4.25 (all <= 5 min -> 1.0)
    stepped = supply_demand(res, "retail", capacity=60.0, decay="steps")
    assert stepped["supply_per_resident"].tolist() == pytest.approx([0.1, 0.1, 0.1, 0.0])
    g = supply_demand(res, "retail", capacity=60.0, decay="gaussian", sigma_min=3.0)
    w = np.exp(-np.array([3.125, 2.75, 4.25]) ** 2 / 18.0)
    r = 60.0 / float((np.array([100.0, 200.0, 300.0]) * w).sum())
    assert g["supply_per_resident"].tolist()[:3] == pytest.approx(list(r * w))


def test_nanjing_supply_demand_equals_access_on_our_walking_times(nanjing_run):
    """The same inputs through access: our network times as its cost table."""
    from access import Access
    from access.access import weights

    from lifecircle import siting

    r = nanjing_run
    cat = "health"
    fac = r.facilities[r.facilities["category"] == cat].reset_index(drop=True)
    threshold = r.profile.threshold_of(cat)
    speed = r.profile.group_of(cat).speed_m_per_min
    block_ids, ap_block = siting.block_index(r)
    m = siting.coverage_matrix(r.network, Snap.from_columns(fac),
                               Snap.from_columns(r.access_points), ap_block, len(block_ids),
                               limit_m=threshold * speed * (1 + 1e-12))
    coo = m.cover.tocoo()
    fac_ids = fac["facility_id"].to_numpy()
    cost = pd.DataFrame({"origin": block_ids[coo.col], "dest": fac_ids[coo.row],
                         "cost": m.dist_m / speed})
    # a facility's access points (rows with one facility_id): its nearest one counts
    cost = cost.groupby(["origin", "dest"], as_index=False)["cost"].min()
    dem = pd.DataFrame({"geoid": block_ids, "pop": r.blocks["population"].to_numpy()})
    sup = pd.DataFrame({"geoid": fac["facility_id"].unique(), "n": 1.0})
    a = Access(demand_df=dem, demand_index="geoid", demand_value="pop", supply_df=sup,
               supply_index="geoid", supply_value="n", cost_df=cost, cost_origin="origin",
               cost_dest="dest", cost_name="cost")
    a.two_stage_fca(name="plain", max_cost=threshold)
    a.two_stage_fca(name="gs", weight_fn=weights.gaussian(threshold / 2), max_cost=threshold)
    ours = supply_demand(r, cat).set_index("block_id")
    ours_gs = supply_demand(r, cat, decay="gaussian").set_index("block_id")
    theirs = a.access_df.reindex(block_ids).fillna(0.0)
    assert ours["supply_per_resident"].gt(0).sum() > 10
    np.testing.assert_allclose(ours["supply_per_resident"].to_numpy(),
                               theirs["plain_n"].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours_gs["supply_per_resident"].to_numpy(),
                               theirs["gs_n"].to_numpy(), rtol=1e-9, atol=1e-12)
