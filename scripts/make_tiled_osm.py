#!/usr/bin/env python
"""Tile a real OSM extract into a k × k mosaic, written as an OSM file the pipeline can load.

    python scripts/make_tiled_osm.py SRC --nodes 1000000 --out /tmp/tiled.osm.pbf
    python scripts/make_tiled_osm.py SRC --tiles 4 --out /tmp/tiled4.osm.pbf

The core of the source is the bounding box of its walkable ways (the engine's own
``is_walkable`` filter) plus ``--margin-m``. Every object the pipeline reads that lies wholly
inside the core is copied into each tile: walkable ways with their nodes, land use, buildings,
multipolygon relations whose members were all kept, tagged points. Copies are shifted by whole
1e-7° steps (OSM's fixed-point unit) in longitude and latitude, so the relative positions inside
a tile stay exact; ids are offset per tile (``tile * (max id + 1)``). Neighbouring tiles are
joined by short ``highway=footway`` ways between facing border nodes (network nodes near a
tile's east side to those near its eastern neighbour's west side, paired by latitude no more
than ``--band-m`` apart, at most ``--stitches`` per border, and likewise north/south), so the
mosaic is one connected city of real streets.

A border node is a node of the walking network (a way end or a node shared by ways), so a
stitch adds an edge but never splits one: the network of each tile is the source network. The
mosaic's extent is k times the core's (a core of central Nanjing is 4.2 × 3.3 km): 41 × 41
tiles span ~172 × 137 km, from 118.7° to 120.5° E, so the east end lies 0.5° past UTM zone 50,
the zone the engine picks from the centroid. That is accepted: network lengths are geodesic
and unaffected; off-network legs measured in the projected plane are scaled there by up to
~0.1 %. The output is ODbL data (© OpenStreetMap contributors): write it to a
temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: OSM stores coordinates as integers of 1e-7 degrees
_SCALE = 10_000_000
#: metres per degree of latitude (good enough for a margin)
_M_PER_DEG = 111_320.0


@dataclass
class Source:
    """The kept objects of the source extract, coordinates in 1e-7 degree units."""

    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    node_tags: dict[int, dict[str, str]]
    ways: list[tuple[int, list[int], dict[str, str]]]
    relations: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]]
    #: facing border nodes joined by stitches: "east_west" (a tile's east node, its eastern
    #: neighbour's west node) and "north_south"
    border: dict[str, list[tuple[int, int]]]
    #: nodes of the walking network of one tile (way ends and shared nodes)
    network_nodes: int
    #: the core box (min x, min y, max x, max y) in 1e-7 degrees
    core: tuple[int, int, int, int]
    dropped: dict[str, int]


def _pairs(
    node: np.ndarray, across: np.ndarray, along: np.ndarray, *, band: int, stitches: int
) -> list[tuple[int, int]]:
    """Facing border nodes: (node near the high side, node near the low side) pairs.

    Candidates are the ``2 * stitches`` nodes nearest the high (east/north) and the low
    (west/south) side of the network; each high-side node is paired with the unused low-side
    node closest along the border, closest pairs first, at most ``stitches`` pairs and none
    farther apart along the border than ``band`` (the closest pair is always kept). Stitches
    thus run across the strip between two tiles instead of diagonally through a tile, where
    they would change how the blocks they pass snap.
    """
    k = min(2 * stitches, node.shape[0] // 4 or 1)
    order = np.argsort(across, kind="stable")
    high, low = order[-k:], order[:k]
    offset = np.abs(along[high][:, None] - along[low][None, :])
    pairs: list[tuple[int, int]] = []
    used_h: set[int] = set()
    used_l: set[int] = set()
    for flat in np.argsort(offset, axis=None, kind="stable"):
        h, lo = divmod(int(flat), low.shape[0])
        if len(pairs) == stitches or (pairs and offset[h, lo] > band):
            break
        if h in used_h or lo in used_l:
            continue
        used_h.add(h)
        used_l.add(lo)
        pairs.append((int(node[high[h]]), int(node[low[lo]])))
    return sorted(pairs)


def read_source(
    path: Path, *, margin_m: float = 50.0, stitches: int = 30, band_m: float = 300.0
) -> Source:
    """Read ``path`` and keep what lies inside the core box of its walkable ways."""
    import osmium

    from lifecircle.sources.osm import is_walkable

    ids: list[int] = []
    xs: list[int] = []
    ys: list[int] = []
    tagged: dict[int, dict[str, str]] = {}
    ways: list[tuple[int, list[int], dict[str, str], bool]] = []
    rels: list[tuple[int, list[tuple[str, int, str]], dict[str, str]]] = []
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_node():
            loc = obj.location
            if not loc.valid():
                continue
            ids.append(obj.id)
            xs.append(loc.x)
            ys.append(loc.y)
            if len(obj.tags):
                tagged[obj.id] = dict(obj.tags)
        elif obj.is_way():
            tags = dict(obj.tags)
            ways.append((obj.id, [n.ref for n in obj.nodes], tags, is_walkable(tags)))
        elif obj.is_relation():
            rels.append((obj.id, [(m.type, m.ref, m.role) for m in obj.members], dict(obj.tags)))
    if min(ids, default=0) < 0 or min((w[0] for w in ways), default=0) < 0:
        raise SystemExit(f"{path}: negative (unsaved editor) ids cannot be offset per tile")
    node_id = np.asarray(ids, dtype=np.int64)
    node_x = np.asarray(xs, dtype=np.int64)
    node_y = np.asarray(ys, dtype=np.int64)
    order = np.argsort(node_id)
    node_id, node_x, node_y = node_id[order], node_x[order], node_y[order]

    def lookup(refs: list[int]) -> np.ndarray:
        r = np.asarray(refs, dtype=np.int64)
        pos = np.searchsorted(node_id, r)
        pos = np.minimum(pos, node_id.shape[0] - 1)
        return np.where(node_id[pos] == r, pos, -1)

    walk_refs = [r for w in ways if w[3] for r in w[1]]
    if not walk_refs:
        raise SystemExit(f"{path}: no walkable ways")
    wpos = lookup(walk_refs)
    wpos = wpos[wpos >= 0]
    margin = int(margin_m / _M_PER_DEG * _SCALE)
    core = (
        int(node_x[wpos].min()) - margin,
        int(node_y[wpos].min()) - margin,
        int(node_x[wpos].max()) + margin,
        int(node_y[wpos].max()) + margin,
    )
    inside = (node_x >= core[0]) & (node_x <= core[2]) & (node_y >= core[1]) & (node_y <= core[3])

    kept_ways: list[tuple[int, list[int], dict[str, str]]] = []
    uses: Counter[int] = Counter()
    ends: set[int] = set()
    dropped = Counter[str]()
    for wid, refs, tags, walkable in ways:
        pos = lookup(refs)
        if walkable:
            # kept as is: a reference missing from a clipped extract stays missing in every
            # tile, so the engine cuts the way at the same place in each copy
            kept_ways.append((wid, refs, tags))
            present = [r for r, p in zip(refs, pos, strict=True) if p >= 0]
            uses.update(present)
            # a run of present references ends at a missing one: its ends are network nodes
            for i, (r, p) in enumerate(zip(refs, pos, strict=True)):
                if p >= 0 and (i == 0 or i == len(refs) - 1 or pos[i - 1] < 0 or pos[i + 1] < 0):
                    ends.add(r)
        elif (pos >= 0).all() and inside[pos].all():
            kept_ways.append((wid, refs, tags))
        else:
            dropped["ways_outside_core"] += 1
    kept_way_ids = {w[0] for w in kept_ways}
    kept_rels = []
    for rid, members, tags in rels:
        ok = tags.get("type") in ("multipolygon", "boundary") and all(
            t == "w" and ref in kept_way_ids for t, ref, _ in members
        )
        if ok:
            kept_rels.append((rid, members, tags))
        else:
            dropped["relations"] += 1

    # nodes: referenced by a kept way, or tagged and inside the core
    needed = np.zeros(node_id.shape[0], dtype=bool)
    for _, refs, _ in kept_ways:
        pos = lookup(refs)
        needed[pos[pos >= 0]] = True
    tag_pos = lookup(list(tagged))
    tag_pos = tag_pos[tag_pos >= 0]
    needed[tag_pos[inside[tag_pos]]] = True
    dropped["nodes"] = int((~needed).sum())
    node_id, node_x, node_y = node_id[needed], node_x[needed], node_y[needed]
    node_tags = {i: tagged[i] for i in node_id.tolist() if i in tagged}

    net_nodes = sorted(ends | {r for r, c in uses.items() if c > 1})
    npos = lookup(net_nodes)
    net_arr = np.asarray(net_nodes, dtype=np.int64)[npos >= 0]
    nx_, ny_ = node_x[npos[npos >= 0]], node_y[npos[npos >= 0]]
    band = int(band_m / _M_PER_DEG * _SCALE)
    border = {
        "east_west": _pairs(net_arr, nx_, ny_, band=band, stitches=stitches),
        "north_south": _pairs(net_arr, ny_, nx_, band=band, stitches=stitches),
    }
    return Source(
        node_id=node_id,
        node_x=node_x,
        node_y=node_y,
        node_tags=node_tags,
        ways=kept_ways,
        relations=kept_rels,
        border=border,
        network_nodes=int(net_arr.shape[0]),
        core=core,
        dropped=dict(dropped),
    )


def tiles_for(nodes: int, network_nodes: int) -> int:
    """Tiles per side for about ``nodes`` network nodes."""
    return max(1, math.ceil(math.sqrt(nodes / max(network_nodes, 1))))


def write_tiled(
    src: Source, out: Path, *, tiles: int, gap_m: float = 30.0, overwrite: bool = True
) -> dict[str, Any]:
    """Write ``tiles`` × ``tiles`` shifted copies of ``src`` plus stitching footways to ``out``.

    Returns a summary: tiles, shift in 1e-7 degrees, id offsets, counts of written objects.
    """
    import osmium
    from osmium.osm.mutable import Node, Relation, Way

    if out.exists():
        if not overwrite:
            raise SystemExit(f"{out} exists")
        out.unlink()
    gap = int(gap_m / _M_PER_DEG * _SCALE)
    dx = src.core[2] - src.core[0] + gap
    dy = src.core[3] - src.core[1] + gap
    node_off = int(src.node_id.max()) + 1
    way_off = max(w[0] for w in src.ways) + 1
    rel_off = max((r[0] for r in src.relations), default=0) + 1
    grid = [(i, j) for j in range(tiles) for i in range(tiles)]
    index = {ij: t for t, ij in enumerate(grid)}
    nodes = list(zip(src.node_id.tolist(), src.node_x.tolist(), src.node_y.tolist(), strict=True))
    counts = Counter[str]()
    writer = osmium.SimpleWriter(str(out))
    try:
        for t, (i, j) in enumerate(grid):
            off, sx, sy = t * node_off, i * dx, j * dy
            for nid, x, y in nodes:
                writer.add_node(
                    Node(
                        id=nid + off,
                        location=osmium.osm.Location((x + sx) / _SCALE, (y + sy) / _SCALE),
                        tags=src.node_tags.get(nid, {}),
                    )
                )
            counts["nodes"] += len(nodes)
        for t in range(len(grid)):
            off = t * node_off
            for wid, refs, tags in src.ways:
                writer.add_way(Way(id=wid + t * way_off, nodes=[r + off for r in refs], tags=tags))
            counts["ways"] += len(src.ways)
        stitch_id = len(grid) * way_off
        for (i, j), t in index.items():
            for (ni, nj), side in (((i + 1, j), "east_west"), ((i, j + 1), "north_south")):
                if (ni, nj) not in index:
                    continue
                t2 = index[(ni, nj)]
                for ua, vb in src.border[side]:
                    writer.add_way(
                        Way(
                            id=stitch_id,
                            nodes=[ua + t * node_off, vb + t2 * node_off],
                            tags={"highway": "footway", "note": "lifecircle tile stitch"},
                        )
                    )
                    stitch_id += 1
                    counts["stitch_ways"] += 1
        for t in range(len(grid)):
            for rid, members, tags in src.relations:
                writer.add_relation(
                    Relation(
                        id=rid + t * rel_off,
                        members=[(m, ref + t * way_off, role) for m, ref, role in members],
                        tags=tags,
                    )
                )
            counts["relations"] += len(src.relations)
    finally:
        writer.close()
    return {
        "tiles": tiles,
        "tile_count": len(grid),
        "shift_1e7deg": [dx, dy],
        "id_offsets": {"node": node_off, "way": way_off, "relation": rel_off},
        "network_nodes_per_tile": src.network_nodes,
        "network_nodes_estimate": src.network_nodes * len(grid),
        "border": src.border,
        "written": dict(counts),
        "dropped_from_source": src.dropped,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("src", type=Path, help="source extract (.osm.pbf/.osm/.osm.gz/.osm.bz2)")
    parser.add_argument("--out", type=Path, required=True, help="output OSM file (temp folder)")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--nodes", type=int, help="target walking-network nodes of the mosaic")
    size.add_argument("--tiles", type=int, help="tiles per side")
    parser.add_argument("--stitches", type=int, default=30, help="most stitch ways per border")
    parser.add_argument(
        "--band-m",
        type=float,
        default=300.0,
        help="most offset along the border between a stitch's ends",
    )
    parser.add_argument("--margin-m", type=float, default=50.0)
    parser.add_argument("--gap-m", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.out.resolve().is_relative_to(ROOT):
        parser.error("OSM data is ODbL: write the mosaic outside the repository")
    t0 = time.perf_counter()
    src = read_source(args.src, margin_m=args.margin_m, stitches=args.stitches, band_m=args.band_m)
    tiles = args.tiles or tiles_for(args.nodes, src.network_nodes)
    summary = write_tiled(src, args.out, tiles=tiles, gap_m=args.gap_m)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    summary.pop("border")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
