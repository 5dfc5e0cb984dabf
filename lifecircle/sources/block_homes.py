"""Residents of derived blocks without locating every home twice.

:func:`~lifecircle.sources.blocks.blocks_from_osm` knows the block of every home (it carries
them through the splits); :func:`estimate_population` is then handed the floor area of each
block's homes instead of looking them up again (a second ``homes_of`` and a point-in-polygon
pass over every home: ~0.4 s at 268,569 nodes). The people are those of
:func:`lifecircle.sources.buildings.estimate_population`, which any other blocks go through.
"""

from __future__ import annotations

import hashlib
import operator
import weakref
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..profiles import PopulationSettings
from .block_split import owner_of
from .buildings import estimate_population as fresh_estimate
from .buildings import people

__all__ = ["HomeAreas", "estimate_population", "home_blocks", "remember"]


class HomeAreas(NamedTuple):
    """Residential floor area and home footprint per derived block (m²), by ``block_id`` (the
    column's pandas array), with the settings and block polygons (the objects themselves)
    they were computed for."""

    ids: Any
    settings: PopulationSettings
    geoms: np.ndarray
    floor: np.ndarray
    cover: np.ndarray
    digest: str = ""


#: the home areas of the last blocks derived from each buildings frame (by ``id``), while that
#: frame lives: :func:`estimate_population` is handed the same frame. Not in the blocks'
#: ``attrs``, which pandas deep-copies on every operation and writes into GeoParquet as JSON.
_DERIVED: dict[int, HomeAreas] = {}


def remember(buildings: gpd.GeoDataFrame, areas: HomeAreas) -> None:
    """Keep ``areas`` for :func:`estimate_population` calls with ``buildings``, while that
    frame lives."""
    key = id(buildings)
    if key not in _DERIVED:
        weakref.finalize(buildings, _DERIVED.pop, key, None)
    _DERIVED[key] = areas._replace(digest=_digest(buildings))


def home_blocks(owner: np.ndarray, parts: np.ndarray, idx: np.ndarray, keep: np.ndarray,
                points: np.ndarray) -> np.ndarray:
    """Position among the kept ``parts`` of the block holding each home (-1: none), as
    :func:`~lifecircle.sources.block_split.owner_of` would find it.

    ``owner``: each home's block (-1: none) among the blocks ``parts`` were taken from
    (``idx``: the block of each part). A home goes to its block's part, tested only where the
    block has several; a home in no block is looked up afresh (one on the line between two
    pieces that merged lies inside their union).
    """
    n_blocks = int(owner.max()) + 1 if owner.size else 0
    n_parts = np.bincount(idx, minlength=n_blocks)
    first = np.searchsorted(idx, np.arange(n_blocks))  # parts come in block order
    new_pos = np.where(keep, np.cumsum(keep) - 1, -1)
    out = np.full(owner.size, -1, dtype=np.int64)
    has = owner >= 0
    one = has & (n_parts[np.maximum(owner, 0)] == 1) if n_blocks else has
    out[one] = new_pos[first[owner[one]]]
    many = np.flatnonzero(has & ~one)
    if many.size:
        count = n_parts[owner[many]]
        home = np.repeat(many, count)
        part = np.repeat(first[owner[many]], count) + (
            np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        home, part = home[keep[part]], part[keep[part]]
        hit = shapely.contains_xy(parts[part], points[home, 0], points[home, 1])
        out[home[hit]] = new_pos[part[hit]]
    lost = np.flatnonzero(out < 0)
    if lost.size:
        out[lost] = owner_of(points[lost], parts[keep])
    return out


def estimate_population(
    blocks: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, settings: PopulationSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Population and the method used, per block, as
    :func:`lifecircle.sources.buildings.estimate_population` gives them.

    For blocks from :func:`blocks_from_osm` with these buildings (any subset of them,
    unchanged), the floor area of their homes comes from the derivation, which located every
    home already.
    """
    known = _DERIVED.get(id(buildings))
    if (known is None or known.settings != settings or blocks.empty
            or not {"block_id", "buildings_mapped"} <= set(blocks.columns)
            or known.digest != _digest(buildings)):
        return fresh_estimate(blocks, buildings, settings)
    pos = _positions(known.ids, blocks["block_id"].array)
    geoms = blocks.geometry.to_numpy()
    if (pos < 0).any() or not all(map(operator.is_, geoms, known.geoms[pos])):
        return fresh_estimate(blocks, buildings, settings)  # not the blocks derived
    return people(shapely.area(geoms), known.floor[pos], known.cover[pos],
                  blocks["buildings_mapped"].to_numpy(dtype=bool), settings)


def _positions(ids: Any, wanted: Any) -> np.ndarray:
    """Position in ``ids`` (unique) of each of ``wanted`` (-1: not there); the blocks as
    derived, in their order (the ids compared at once: hashing 10^5 strings into an index
    cost ~0.2 s at 268,569 nodes), else looked up."""
    if len(wanted) == len(ids) and type(wanted) is type(ids) and wanted.dtype == ids.dtype:
        if bool(np.asarray(wanted == ids, dtype=bool).all()):
            return np.arange(len(ids))
    return pd.Index(np.asarray(ids, dtype=object)).get_indexer(np.asarray(wanted, dtype=object))


def _digest(buildings: gpd.GeoDataFrame) -> str:
    """A hash of what the home areas were computed from (row count, and the columns that
    decide a home and its floor area), so that a frame edited in place is looked up afresh."""
    h = hashlib.blake2b(str(len(buildings)).encode(), digest_size=16)
    for column in ("levels", "residential", "footprint_m2"):
        if column in buildings.columns:
            h.update(np.ascontiguousarray(buildings[column].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()
