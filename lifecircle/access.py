"""Walking times from access points to the nearest facility of each category.

For each category: one multi-source search from all its facilities (bounded by the profile's
horizon at the category's walking speed), then the exact time of every access point from the
ends of its edge and its off-network leg. Unreachable is NaN with a reason, never 0 and never a
sentinel number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns as col
from .edge_access import network_for_group
from .network import WalkNetwork
from .profiles import Group, Profile
from .routing import NodeDistances, multi_source, point_distances, seed_arcs
from .snapping import Snap

__all__ = ["BlockCodes", "CategoryAccess", "CategoryNodes", "Searched", "adopt_searches",
           "block_codes", "block_times", "category_nodes", "category_snaps", "compute_access",
           "minutes", "search_seeds"]

log = logging.getLogger(__name__)


def minutes(metres: np.ndarray | float, speed_kmh: float) -> np.ndarray:
    """Walking minutes for a distance: metres / (km/h · 1000 / 60); inf becomes NaN."""
    m = np.asarray(metres, dtype=np.float64) / (speed_kmh * 1000.0 / 60.0)
    return np.where(np.isfinite(m), m, np.nan)


@dataclass(frozen=True)
class CategoryNodes:
    """One category's search: every node's distance to its nearest facility (what the
    isochrones and the rasters read)."""

    category: str
    speed_kmh: float
    threshold_min: float
    horizon_m: float
    nodes: NodeDistances


@dataclass(frozen=True)
class CategoryAccess(CategoryNodes):
    """Result of one category's search, with the times of the access points."""

    #: per access point: metres, minutes (NaN unreachable), nearest facility id, reason
    dist_m: np.ndarray
    walk_min: np.ndarray
    nearest: np.ndarray
    reason: np.ndarray
    n_facilities: int
    n_facilities_snapped: int
    seconds: float


@dataclass(frozen=True)
class Searched:
    """A category's search made elsewhere (the early worker's, :mod:`lifecircle._early`) and
    the seed arcs it started from (:func:`search_seeds`), by which it is recognised."""

    nodes: NodeDistances
    seeds: tuple[np.ndarray, np.ndarray, np.ndarray]
    #: the group whose network it searched, and its speed
    group: str
    speed_kmh: float


#: where :func:`adopt_searches` keeps its reader on the network (beside its other caches)
_ADOPTED = "_adopted_searches"


def adopt_searches(net: WalkNetwork, read: Callable[[], Mapping[str, Searched]]) -> None:
    """Let the next :func:`compute_access` on ``net`` take, instead of searching again, the
    searches ``read`` returns (called once, when first needed) wherever one started from the
    same seed arcs on the same network with the same bound: the same search, so the same
    distances to the bit. A run whose early worker searched every category does not repeat
    them (~2.8 s CPU at a million nodes)."""
    net.__dict__[_ADOPTED] = read


def search_seeds(net: WalkNetwork, fsnap: Snap, profile: Profile,
                 category: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed arcs of one category's search (:func:`lifecircle.routing.seed_arcs` on its
    group's network): with the network and the bound, all its search depends on."""
    return seed_arcs(network_for_group(net, profile.group_of(category)), fsnap)


def category_snaps(facilities: pd.DataFrame, categories: Iterable[str]) -> dict[str, Snap]:
    """Per category, the snapping of its facilities, in the frame's row order.

    The snap columns are read once (their JSON alternatives parsed once), then taken per
    category: a frame and its alternatives per category cost a second at a city's 10^5
    facility rows, and the rasters ask for them window after window.
    """
    return _snaps_of(facilities, _category_rows(facilities, categories))


def _snaps_of(facilities: pd.DataFrame, rows: dict[str, np.ndarray]) -> dict[str, Snap]:
    """Each category's snaps, from its rows' positions (:func:`_category_rows`)."""
    every = Snap.from_columns(facilities)
    return {c: every.subset(r) for c, r in rows.items()}


def _category_rows(facilities: pd.DataFrame, categories: Iterable[str]) -> dict[str, np.ndarray]:
    """Per category, the positions of its rows in ``facilities``."""
    category_of = facilities["category"].to_numpy(dtype=object)
    return {c: np.flatnonzero(category_of == c) for c in categories}


def compute_access(
    net: WalkNetwork,
    facilities: gpd.GeoDataFrame,
    points: Snap,
    profile: Profile,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, CategoryAccess]:
    """Times from every snapped point to the nearest facility of every profile category.

    ``facilities`` must carry the snap columns written by the pipeline (``snap_edge_id``,
    ``snap_along_m``, ``snap_dist_m``, ``snap_status``).
    """
    import time

    out: dict[str, CategoryAccess] = {}
    read = net.__dict__.pop(_ADOPTED, None)  # (read once; its arrays go with this call)
    known = read() if read is not None else {}
    rows_of = _category_rows(facilities, profile.categories)
    snaps = _snaps_of(facilities, rows_of)
    every_id = facilities["facility_id"].to_numpy(dtype=object)
    for category in profile.categories:
        t0 = time.perf_counter()
        rows = rows_of[category]
        fsnap = snaps[category]
        searched = _search(net, fsnap, profile, category, known.get(category))
        gnet, nodes = network_for_group(net, profile.group_of(category)), searched.nodes
        dist, which = point_distances(gnet, nodes, fsnap, points)
        ids = every_id[rows]
        nearest = np.full(len(points), None, dtype=object)
        if len(ids):
            hit = which >= 0
            nearest[hit] = ids[which[hit]]
        reason = np.full(len(points), "", dtype=object)
        unreachable = ~np.isfinite(dist)
        if len(rows) == 0:
            reason[:] = f"no {category} facility in the data"
        elif not fsnap.ok.any():
            reason[:] = f"no {category} facility within max_snap_m of a street"
        else:
            reason[unreachable] = _unreachable_reasons(
                gnet, fsnap, points, np.flatnonzero(unreachable), category, profile.horizon_min
            )
        not_snapped = ~points.ok
        reason[not_snapped] = points.status[not_snapped]
        out[category] = CategoryAccess(
            **{f.name: getattr(searched, f.name) for f in fields(CategoryNodes)},
            dist_m=np.where(np.isfinite(dist), dist, np.nan),
            walk_min=minutes(dist, searched.speed_kmh),
            nearest=nearest,
            reason=reason,
            # a polygon facility has several access points (rows) under one facility_id
            n_facilities=int(np.unique(ids.astype(str)).size),
            n_facilities_snapped=int(np.unique(ids[fsnap.ok].astype(str)).size),
            seconds=time.perf_counter() - t0,
        )
        if progress is not None:
            progress(category)
    return out


def category_nodes(net: WalkNetwork, facilities: pd.DataFrame,
                   profile: Profile) -> dict[str, CategoryNodes]:
    """Every profile category's search alone (no access points): the node distances of
    :func:`compute_access`, bit for bit (the same search), for outputs that need no block.

    ``facilities`` must carry the snap columns, as for :func:`compute_access`.
    """
    snaps = category_snaps(facilities, profile.categories)
    return {c: _search(net, snaps[c], profile, c) for c in profile.categories}


def _search(net: WalkNetwork, fsnap: Snap, profile: Profile, category: str,
            known: Searched | None = None) -> CategoryNodes:
    """One category's multi-source search from its facilities' snaps, bounded by the
    profile's horizon at the category's speed, on its group's network (step-free: its mask);
    ``known``'s where it is that same search (:func:`adopt_searches`)."""
    group = profile.group_of(category)
    horizon_m = profile.horizon_min * group.speed_m_per_min
    gnet = network_for_group(net, group)
    if known is not None and _same_search(known, group, gnet, fsnap, horizon_m):
        nodes = known.nodes
    else:
        nodes = multi_source(gnet, fsnap, limit_m=horizon_m)
    return CategoryNodes(category=category, speed_kmh=group.speed_kmh,
                         threshold_min=profile.threshold_of(category), horizon_m=horizon_m,
                         nodes=nodes)


def _same_search(known: Searched, group: Group, gnet: WalkNetwork, fsnap: Snap,
                 horizon_m: float) -> bool:
    """Whether ``known`` is the search of ``fsnap`` on ``group``'s network ``gnet`` bounded
    at ``horizon_m``."""
    nodes = known.nodes
    if (known.group, known.speed_kmh) != (group.name, group.speed_kmh) or \
            nodes.limit_m != horizon_m or nodes.dist_m.shape[0] != gnet.n_nodes:
        return False
    return all(np.array_equal(a, b) for a, b in zip(known.seeds, seed_arcs(gnet, fsnap),
                                                    strict=True))


def _unreachable_reasons(
    net: WalkNetwork,
    fsnap: Snap,
    points: Snap,
    idx: np.ndarray,
    category: str,
    horizon_min: float,
) -> np.ndarray:
    """Why each point in ``idx`` has no time: a disconnected street, or the horizon."""
    comp = net.components
    flat, _ = fsnap.candidates()  # a facility also reaches the parts of its alternative snaps
    fac_comps = np.unique(comp[net.edge_u[flat.edge[flat.ok]]])
    sizes = np.bincount(comp)
    edge = points.edge[idx]
    part = comp[net.edge_u[np.maximum(edge, 0)]]
    out = np.full(idx.shape[0], f"no {category} facility within {horizon_min:g} min on the "
                  "network", dtype=object)
    unsnapped = edge < 0
    out[unsnapped] = points.status[idx[unsnapped]]
    # a part without a facility of the category: named per point (few points, on fragments)
    for k in np.flatnonzero(~unsnapped & ~np.isin(part, fac_comps)):
        out[k] = (
            f"its nearest street (edge {edge[k]}) belongs to a network part of "
            f"{sizes[part[k]]} nodes with no {category} facility; check the extract's "
            "connectivity or pass --blocks"
        )
    return out


@dataclass(frozen=True)
class BlockCodes:
    """The access points' blocks and the blocks as codes of one factorisation of their ids
    (-1 for a missing id), and the access points ordered by block (stably: by position within
    a block); :func:`block_codes` makes them once for every :func:`block_times` call."""

    ap: np.ndarray
    block: np.ndarray
    order: np.ndarray
    n_keys: int


def block_codes(ap_block: np.ndarray, block_ids: np.ndarray) -> BlockCodes:
    """:class:`BlockCodes` of ``ap_block`` (each access point's block id) and ``block_ids``."""
    ap = np.asarray(ap_block)
    codes, keys = pd.factorize(np.concatenate([np.asarray(block_ids, dtype=object),
                                               ap.astype(object, copy=False)]))
    n = len(block_ids)
    ap_codes = codes[n:]
    order = np.argsort(ap_codes, kind="stable")
    order = order[ap_codes[order] >= 0]  # an access point of a missing id is no block's
    return BlockCodes(ap_codes, codes[:n], order, len(keys))


def block_times(
    ap_block: np.ndarray, values: np.ndarray, block_ids: np.ndarray, *,
    codes: BlockCodes | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum of ``values`` over each block's access points; returns (min, argmin index).

    NaN when all of a block's access points are NaN; the index is -1 there. Ties go to the
    first access point. ``codes``: :func:`block_codes` of ``ap_block`` and ``block_ids``.
    """
    bc = codes if codes is not None else block_codes(ap_block, block_ids)
    # one slot per id and one more, never written, where a code of -1 reads
    best_v = np.full(bc.n_keys + 1, np.nan)
    best_i = np.full(bc.n_keys + 1, -1, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)[bc.order]
    if v.size:
        key = bc.ap[bc.order]
        change = key[1:] != key[:-1]
        starts = np.flatnonzero(np.r_[True, change])
        low = np.fmin.reduceat(v, starts)  # NaN only where the whole block is NaN
        group = np.cumsum(np.r_[False, change])
        # the first access point (in position order within its block) at the minimum
        at_min = np.flatnonzero(v == low[group])
        first = at_min[np.r_[True, group[at_min[1:]] != group[at_min[:-1]]]] \
            if at_min.size else at_min
        best_v[key[starts]] = low
        best_i[key[first]] = bc.order[first]
    return best_v[bc.block], best_i[bc.block]


def access_columns(
    access: dict[str, CategoryAccess],
) -> pd.DataFrame:
    """Per-point output columns: ``walk_min_<c>``, ``walk_m_<c>``, ``nearest_<c>``."""
    data: dict[str, object] = {}
    for c, a in access.items():
        data[col.walk_min(c)] = a.walk_min
        data[col.walk_m(c)] = a.dist_m
        data[col.nearest(c)] = a.nearest
    return pd.DataFrame(data)
