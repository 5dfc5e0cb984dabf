"""The online path (`--place`) with a recorded response, and a real one marked `network`.

Overpass and Nominatim cannot be reached here. The recorded response is what osmnx returns
for a small area: its own XML readers build the graph and features from the shared West
Oakland extract, and `graph_from_place`/`features_from_place` are patched to return them.
"""

from __future__ import annotations

import bz2

import numpy as np
import pytest

from lifecircle.pipeline import run
from lifecircle.sources.online import WALK_FILTER
from lifecircle.sources.osm import is_walkable
from tests.conftest import shared_osm
from tests.test_cli import assert_contract


@pytest.fixture
def recorded_osmnx(monkeypatch, tmp_path):
    import osmnx as ox

    xml = tmp_path / "west_oakland.osm"
    xml.write_bytes(bz2.decompress(shared_osm("west_oakland.osm.bz2").read_bytes()))
    graph = ox.graph_from_xml(xml, simplify=False, retain_all=True)
    # Overpass applies WALK_FILTER server-side; the recorded response must look filtered too
    drop = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True)
            if not is_walkable({key: str(val) for key, val in d.items()
                                if key in ("highway", "foot", "access", "service", "area")})]
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    graph = ox.simplify_graph(graph)
    tags = {"amenity": True, "shop": True, "leisure": True, "landuse": "residential",
            "building": True}
    features = ox.features_from_xml(xml, tags=tags)
    calls: dict[str, object] = {}

    def fake_graph(place, **kwargs):
        calls["graph"] = (place, kwargs)
        return graph

    def fake_features(place, tags):
        calls["features"] = (place, tags)
        return features

    monkeypatch.setattr(ox, "graph_from_place", fake_graph)
    monkeypatch.setattr(ox, "features_from_place", fake_features)
    return calls, graph


def test_place_run_uses_walk_filter_and_writes_contract(recorded_osmnx, tmp_path):
    calls, graph = recorded_osmnx
    res = run(place="West Oakland, California", out=tmp_path / "out",
              categories=["retail", "health"])
    place, kwargs = calls["graph"]
    assert place == "West Oakland, California"
    assert kwargs["custom_filter"] == WALK_FILTER
    assert_contract(res.out, ["retail", "health"])
    assert res.metadata["inputs"]["place"]["name"] == "West Oakland, California"
    # lengths are recomputed on the ellipsoid; each agrees with osmnx's spherical one to <0.5 %
    net = res.network
    checked = 0
    for e in range(net.n_edges):
        u, v = int(net.node_id[net.edge_u[e]]), int(net.node_id[net.edge_v[e]])
        data = graph.get_edge_data(u, v) or graph.get_edge_data(v, u) or {}
        ox_lengths = [d["length"] for d in data.values()]
        if ox_lengths and min(ox_lengths) > 1:
            best = min(ox_lengths, key=lambda x: abs(x - net.edge_length_m[e]))
            assert net.edge_length_m[e] == pytest.approx(best, rel=5e-3)
            checked += 1
    assert checked >= 0.9 * net.n_edges
    assert len(res.blocks) >= 1
    assert (res.network.edge_highway != "").all()


def test_download_failure_is_one_clear_error(monkeypatch):
    import osmnx as ox

    from lifecircle._errors import InputError

    def boom(*_a, **_k):
        raise ConnectionError("Max retries exceeded with url: /api/interpreter")

    monkeypatch.setattr(ox, "graph_from_place", boom)
    with pytest.raises(InputError, match="--osm FILE"):
        run(place="Nowhere")


@pytest.mark.network
def test_real_download_small_place(tmp_path):
    res = run(place="Piedmont, California, USA", out=tmp_path / "out",
              categories=["retail"])
    assert np.isfinite(res.blocks["walk_min_retail"]).any()
