"""WalkNetwork.from_osm on hand-made extracts: clipped ways cut into runs, geodesic lengths,
and the step-free barrier flags (hand-worked expectations; lengths from pyproj's geodesic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import pytest

from lifecircle.network import WalkNetwork
from lifecircle.sources.access_tags import BARRIER, edge_flags_from_ways
from lifecircle.sources.osm import read_osm
from tests.test_bad_inputs import osm_xml

_GEOD = pyproj.Geod(ellps="WGS84")
#: node id -> (lon, lat): a small grid near Nanjing, about 110 m between rows
NODES = {1: (118.780, 32.040), 2: (118.780, 32.041), 3: (118.780, 32.042),
         4: (118.780, 32.043), 5: (118.781, 32.043), 6: (118.781, 32.042),
         7: (118.781, 32.041)}


def _write(path: Path, ways: list[tuple[int, list[int], dict[str, str]]],
           node_tags: dict[int, dict[str, str]] | None = None) -> Path:
    path.write_text(osm_xml(NODES, ways, node_tags=node_tags), encoding="utf-8")
    return path


def _write_pbf(path: Path, ways: list[tuple[int, list[int], dict[str, str]]],
               node_tags: dict[int, dict[str, str]] | None = None) -> Path:
    """The extract of :func:`_write` as a PBF file (read by the array reader, whose scan
    hands the walkable ways over early: ``read_osm``'s ``on_walkable``)."""
    import osmium
    from osmium.osm.mutable import Node, Way

    with osmium.SimpleWriter(str(path)) as writer:
        for nid, loc in NODES.items():
            writer.add_node(Node(id=nid, location=loc, tags=(node_tags or {}).get(nid, {})))
        for wid, refs, tags in ways:
            writer.add_way(Way(id=wid, nodes=refs, tags=tags))
    return path


def _length(a: int, b: int) -> float:
    return float(_GEOD.inv(*NODES[a], *NODES[b])[2])


def test_clipped_way_is_cut_into_runs(tmp_path: Path) -> None:
    # way 10 references nodes 98 and 99, missing from the extract: it is cut into the runs
    # 1-2-3, 4-5 and the lone 6 (no segment, dropped); way 11 joins 3 and 7
    road = {"highway": "residential"}
    path = _write(tmp_path / "clipped.osm",
                  [(10, [1, 2, 3, 99, 4, 5, 98, 6], road), (11, [3, 7], road)])
    net = WalkNetwork.from_osm(read_osm(path))
    ends = {tuple(sorted((int(net.node_id[u]), int(net.node_id[v])))): float(m)
            for u, v, m in zip(net.edge_u, net.edge_v, net.edge_length_m, strict=True)}
    # 1-2-3 is one edge (2 is no junction), 3 ends it and starts way 11
    assert set(ends) == {(1, 3), (4, 5), (3, 7)}
    assert ends[(1, 3)] == pytest.approx(_length(1, 2) + _length(2, 3), abs=1e-9)
    assert ends[(4, 5)] == pytest.approx(_length(4, 5), abs=1e-9)
    assert sorted(net.node_id.tolist()) == [1, 3, 4, 5, 7]
    assert net.edge_way_id.tolist().count(10) == 2
    # the edge's geometry runs through its middle vertex
    e = int(np.flatnonzero(net.edge_way_id == 10)[0])
    assert np.diff(net.edge_ptr)[e] == 3


def test_barrier_nodes_bar_mid_way_and_dead_ends_not_junctions(tmp_path: Path) -> None:
    # a raised kerb in the middle of way 20 bars it; one at the four-way junction 3 does
    # not; one at the dead end 5 bars way 22
    path = _write(tmp_path / "kerbs.osm",
                  [(20, [1, 2, 3], {"highway": "footway"}),
                   (21, [3, 4], {"highway": "footway"}),
                   (22, [3, 6, 5], {"highway": "footway"}),
                   (23, [3, 7], {"highway": "footway"})],
                  node_tags={n: {"kerb": "raised"} for n in (2, 3, 5)})
    net = WalkNetwork.from_osm(read_osm(path))
    barred = {int(w): bool(f & BARRIER) for w, f in zip(net.edge_way_id, net.edge_flags,
                                                        strict=True)}
    assert barred == {20: True, 21: False, 22: True, 23: False}


def test_edge_flags_without_barrier_nodes_read_no_vertices() -> None:
    # with no barrier node the vertices' ids are not needed (the builder passes none)
    flags, incline = edge_flags_from_ways(
        ["steps", "footway"], {1: {"incline": "8%"}}, np.array([0, 1, 1]),
        np.zeros(0, dtype=np.int64), np.array([0, 2, 4, 6]), np.zeros(0, dtype=np.int64))
    assert flags.tolist() == [1, 0, 0]
    assert np.isnan(incline[0]) and incline[1:].tolist() == [8.0, 8.0]


@pytest.mark.parametrize("kernel", [True, False])
def test_csr_keeps_the_shortest_parallel_arc(kernel: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # edges 0-1 (5 m and 3 m), 1-2 (2 m), a self-loop at 2 and 2-0 barred for the group:
    # row 0 reaches 1 at 3 m; row 1 reaches 0 at 3 m and 2 at 2 m; row 2 reaches 1 at 2 m
    import lifecircle.network as network

    monkeypatch.setattr(network, "_MIN_KERNEL_ARCS", 0 if kernel else 1 << 30)
    net = WalkNetwork.from_arrays(
        crs="EPSG:32650", node_id=np.array([7, 8, 9]), x=np.zeros(3), y=np.zeros(3),
        edge_u=np.array([0, 1, 1, 2, 2]), edge_v=np.array([1, 0, 2, 2, 0]),
        edge_length_m=np.array([5.0, 3.0, 2.0, 1.0, 0.5]))
    net.edge_usable = np.array([True, True, True, True, False])
    csr = net.csr
    assert csr.indptr.tolist() == [0, 1, 3, 4]
    assert csr.indices.tolist() == [1, 0, 2, 1]
    assert csr.data.tolist() == [3.0, 3.0, 2.0, 2.0]


_NET_ARRAYS = ("node_id", "x", "y", "edge_u", "edge_v", "edge_key", "edge_length_m",
               "edge_coords", "edge_ptr", "edge_way_id", "edge_flags", "edge_incline_pct",
               "edge_highway", "edge_name")


@pytest.mark.parametrize("name", ["monaco.osm.pbf", "clipped", "clipped.osm.pbf"])
def test_from_osm_file_is_from_osm_of_read_osm(name: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the network built in a thread while the read assembles the areas (from a PBF file,
    # started in the scan, before the areas, as soon as the walkable ways are located) is the
    # one built after
    import lifecircle.network as network

    early: list[bool] = []
    made = network.References

    def spy(*args: object, split: bool = True, **kwargs: object) -> object:
        early.append(not split)
        return made(*args, split=split, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(network, "References", spy)
    if name.startswith("clipped"):
        road = {"highway": "residential"}
        write = _write_pbf if name.endswith(".pbf") else _write
        path = write(tmp_path / f"{name}{'' if name.endswith('.pbf') else '.osm'}",
                     [(10, [1, 2, 3, 99, 4, 5, 98, 6], road), (11, [3, 7], road)],
                     node_tags={2: {"barrier": "kerb", "kerb": "raised"}})
    else:
        path = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm" / name
        if not path.exists():
            pytest.skip(f"{path} not available")
    net, data = WalkNetwork.from_osm_file(path)
    # PBF files: the per-reference part was made early, in one thread (not split)
    assert early == [name.endswith(".pbf")]
    ref = WalkNetwork.from_osm(read_osm(path))
    assert early[1:] == [False]
    assert net.crs == ref.crs
    for field in _NET_ARRAYS:
        got, want = np.asarray(getattr(net, field)), np.asarray(getattr(ref, field))
        assert got.dtype == want.dtype, field
        assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f"), field
    assert net.stats == ref.stats == data.stats
    assert data.stats["missing_node_refs"] == (2 if name.startswith("clipped") else 0)
    assert len(data.pois) == len(read_osm(path).pois)


@pytest.mark.parametrize("pbf", [False, True])
def test_from_osm_file_reports_the_reads_error(pbf: bool, tmp_path: Path) -> None:
    # no walkable way: the read's message (the highway values seen), not the network's
    ways = [(10, [1, 2, 3], {"highway": "motorway"})]
    path = _write_pbf(tmp_path / "none.osm.pbf", ways) if pbf else _write(tmp_path / "none.osm",
                                                                          ways)
    with pytest.raises(Exception) as read_error:
        read_osm(path)
    with pytest.raises(type(read_error.value)) as both:
        WalkNetwork.from_osm_file(path)
    assert str(both.value) == str(read_error.value)


@pytest.mark.parametrize("pbf", [False, True])
def test_a_failed_read_leaves_no_network_thread(pbf: bool, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the read fails after the walkable ways are in (the network's thread has started): the
    # read's error comes out and the thread has finished, not left building in the background
    import threading

    from lifecircle.sources import _osm_assemble

    # (a PBF file: the network's first part started in the scan, before the areas)
    path = (_write_pbf(tmp_path / "roads.osm.pbf", [(10, [1, 2, 3], {"highway": "residential"})])
            if pbf else
            _write(tmp_path / "roads.osm", [(10, [1, 2, 3], {"highway": "residential"})]))
    started: list[int] = []
    areas = threading.Event()
    built: list[bool] = []

    def failing_areas(*args: object, **kwargs: object) -> None:
        started.append(threading.active_count())
        areas.set()
        raise RuntimeError("the areas failed")

    # the network's thread builds only once the areas have started (on a file this small it
    # could otherwise be done before them, and nothing would be left to wait for)
    for name in ("from_osm", "_from_references"):
        build = getattr(WalkNetwork, name).__func__

        def waiting(cls: type, *args: object, _build: Any = build) -> WalkNetwork:
            assert areas.wait(10)
            net = _build(cls, *args)
            built.append(True)
            return net

        monkeypatch.setattr(WalkNetwork, name, classmethod(waiting))
    monkeypatch.setattr(_osm_assemble, "_sort_areas", failing_areas)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="the areas failed"):
        WalkNetwork.from_osm_file(path)
    assert started and started[0] > len(before)  # the network's thread was running then
    assert built  # and it was waited for, not left building in the background
    assert set(threading.enumerate()) <= before


def test_a_scan_failing_after_the_walkable_ways_leaves_no_network_thread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a PBF scan failing between handing over the walkable ways (the network's first part
    # has started in a thread) and the ways' assembly: the scan's error comes out, naming
    # the file, and that thread has finished
    import threading

    from lifecircle.sources import _pbf_scan

    path = _write_pbf(tmp_path / "roads.osm.pbf", [(10, [1, 2, 3], {"highway": "residential"})])
    running: list[list[str]] = []

    def failing_relations(*args: object, **kwargs: object) -> None:
        running.append([t.name for t in threading.enumerate()])
        raise RuntimeError(f"{path}: the relations failed")

    import time

    from lifecircle import network as network_mod

    made: list[float] = []

    class SlowReferences(network_mod.References):  # still working when the scan fails
        def __init__(self, *args: object, **kwargs: object) -> None:
            time.sleep(0.5)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(time.perf_counter())

    monkeypatch.setattr(network_mod, "References", SlowReferences)
    monkeypatch.setattr(_pbf_scan, "_relation_areas_of", failing_relations)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match=r"roads\.osm\.pbf: the relations failed"):
        WalkNetwork.from_osm_file(path)
    assert running  # the scan got as far as the relations
    assert made  # the network's first part was waited for, not left running
    assert set(threading.enumerate()) <= before


def test_dense_unique_is_np_unique() -> None:
    # ids with dense ranks (their positions among the sorted distinct ids, with gaps: ranks
    # of nodes no reference uses): the same distinct ids, inverse and counts as np.unique
    from lifecircle._network_refs import dense_unique

    rng = np.random.default_rng(7)
    nodes = np.sort(rng.choice(10**10, size=500, replace=False))
    rank = rng.integers(0, 500, size=3000)
    ids = nodes[rank]
    uniq, inverse, counts = dense_unique(ids, rank)
    want = np.unique(ids, return_inverse=True, return_counts=True)
    for got, expected in zip((uniq, inverse, counts), want, strict=True):
        assert np.array_equal(got, expected)
    assert uniq.dtype == np.int64
    # by hand: nodes 30, 10, 30, 20 with ranks 5, 1, 5, 2
    uniq, inverse, counts = dense_unique(np.array([30, 10, 30, 20]), np.array([5, 1, 5, 2]))
    assert uniq.tolist() == [10, 20, 30]
    assert inverse.tolist() == [2, 0, 2, 1]
    assert counts.tolist() == [1, 1, 2]
    # ranks far beyond the ids (few walkable nodes in a big file): the same, by the sort
    uniq, inverse, counts = dense_unique(np.array([30, 10, 30]), np.array([900, 1, 900]))
    assert (uniq.tolist(), inverse.tolist(), counts.tolist()) == ([10, 30], [1, 0, 1], [1, 2])


def test_segment_lengths_leave_out_the_steps_across_runs() -> None:
    # the step from each point to the next, 0 after a run's last point (not computed)
    from lifecircle._network_refs import segment_lengths

    lon = np.array([118.780, 118.780, 118.781, 118.781, 118.782, np.nan, 118.783])
    lat = np.array([32.040, 32.041, 32.041, 32.042, 32.042, np.nan, 32.043])
    last = np.array([False, False, True, False, True, True, True])
    for split in (False, True):
        got = segment_lengths(lon, lat, last, split=split)
        want = [float(_GEOD.inv(lon[i], lat[i], lon[i + 1], lat[i + 1])[2]) if not last[i]
                else 0.0 for i in range(lon.shape[0])]
        assert got.tolist() == want
        # ~110.9 m per 0.001 degree of latitude and ~94.4 m per 0.001 of longitude here
        assert got[0] == pytest.approx(110.9, abs=0.2)
        assert got[1] == pytest.approx(94.4, abs=0.2)


def test_utm_zone_by_arithmetic_is_the_databases_choice() -> None:
    # inside a zone the arithmetic answers; on an edge (several zones) or beyond 84N / 80S
    # (none) the database does: either way what estimate_utm_crs would choose
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    from lifecircle._geo import _utm_code, utm_crs_at

    rng = np.random.default_rng(3)
    points = [(7.42, 43.73), (118.78, 32.04), (-70.0, -33.0), (179.99, 10.0),
              (-179.99, -10.0), *zip(rng.uniform(-180, 180, 25), rng.uniform(-80, 84, 25),
                                     strict=True)]
    for lon, lat in points:
        infos = query_utm_crs_info(datum_name="WGS 84",
                                   area_of_interest=AreaOfInterest(lon, lat, lon, lat))
        assert len(infos) == 1 and _utm_code(lon, lat) == int(infos[0].code), (lon, lat)
    # edges: left to the database, which lists several (its first is taken) or none
    for lon, lat in [(6.0, 60.0), (10.0, 0.0), (-180.0, 10.0), (180.0, 10.0), (10.0, 84.0),
                     (10.0, -80.0), (10.0, 85.0)]:
        assert _utm_code(lon, lat) is None
    assert utm_crs_at(6.0, 60.0).to_epsg() == 32631
    assert utm_crs_at(10.0, 0.0).to_epsg() == 32632
    assert utm_crs_at(10.0, 85.0) is None
    assert utm_crs_at(7.42, 43.73).to_epsg() == 32632


def test_the_read_and_build_ask_numpy_for_no_huge_pages(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # numpy's huge-page hint is off in the read (its areas) and in the network's thread, and
    # as it was afterwards, after a failed read too (see _memory.small_pages); the build's
    # own scope keeps it off once the read's has ended (the build may still be running)
    from lifecircle._memory import hugepage_switch, small_pages
    from lifecircle.sources import _osm_assemble
    from lifecircle.sources import osm as osm_mod

    switch = hugepage_switch()
    if switch is None:
        pytest.skip("this numpy has no huge-page switch")

    def hint() -> bool:
        was = switch(False)
        switch(was)
        return bool(was)

    seen: dict[str, bool] = {}
    sort_areas = _osm_assemble._sort_areas
    monkeypatch.setattr(_osm_assemble, "_sort_areas",
                        lambda *a: (seen.setdefault("areas", hint()), sort_areas(*a))[1])
    build = WalkNetwork._from_references.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(WalkNetwork, "_from_references", classmethod(
        lambda cls, *a: (seen.setdefault("build", hint()), build(cls, *a))[1]))
    read_osm = osm_mod.read_osm

    def read_then_look(*a: object, **k: object) -> object:
        out = read_osm(*a, **k)
        seen["after_read"] = hint()
        return out

    monkeypatch.setattr(osm_mod, "read_osm", read_then_look)
    path = _write_pbf(tmp_path / "roads.osm.pbf", [(10, [1, 2, 3], {"highway": "residential"})])
    original = switch(True)
    try:
        WalkNetwork.from_osm_file(path)
        assert seen == {"areas": False, "build": False, "after_read": False}
        assert hint() is True
        with small_pages():  # nested: the inner one leaves it off
            with small_pages():
                assert hint() is False
            assert hint() is False
        assert hint() is True
        monkeypatch.setattr(_osm_assemble, "_sort_areas", lambda *a: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            WalkNetwork.from_osm_file(path)
        assert hint() is True
        monkeypatch.setattr(_osm_assemble, "_sort_areas", sort_areas)
        switch(False)
        WalkNetwork.from_osm_file(path)
        assert hint() is False  # (off before: off after)
    finally:
        switch(original)
