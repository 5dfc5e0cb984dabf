"""The OSM tags that decide step-free passage, as the reader keeps them, and the per-edge
flags they give (:func:`edge_flags_from_ways`, called when the network is built).

The rules that turn the flags into a group's edge mask are in :mod:`lifecircle.edge_access`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ACCESS_KEYS",
    "BARRIER",
    "STEPS",
    "WHEELCHAIR_NO",
    "edge_flags_from_ways",
    "incline_pct",
    "is_barrier_node",
    "way_access_tags",
]

#: way tags the OSM reader keeps for these rules
ACCESS_KEYS = ("wheelchair", "incline", "ramp:wheelchair")
_INCLINE = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(%|°)?\s*$")


def way_access_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags of a way these rules read (empty for most ways; ``footway`` only on crossings)."""
    out = {k: tags[k] for k in ACCESS_KEYS if k in tags}
    if tags.get("footway") == "crossing":
        out["footway"] = "crossing"
    return out


def is_barrier_node(tags: Any) -> bool:
    """Whether a node bars step-free passage (a raised kerb, ``wheelchair=no``).

    ``tags``: a mapping or pyosmium's ``TagList`` (anything with ``get``; not copied).
    """
    return tags.get("kerb") == "raised" or tags.get("wheelchair") == "no"


def incline_pct(value: str | None) -> float:
    """The absolute grade in percent of an ``incline`` value; NaN when it gives none.

    ``"8%"`` -> 8, ``"-12 %"`` -> 12, ``"5°"`` -> 8.75 (tan 5°), a bare number is percent;
    ``"up"``, ``"down"``, ``"yes"`` -> NaN.
    """
    if not value:
        return math.nan
    m = _INCLINE.match(value)
    if m is None:
        return math.nan
    number = abs(float(m.group(1)))
    if m.group(2) == "°":
        return 100.0 * math.tan(math.radians(min(number, 89.0)))
    return number


#: bits of ``WalkNetwork.edge_flags``
STEPS = 1
WHEELCHAIR_NO = 2
BARRIER = 4
_CROSSING = 8  # a footway=crossing edge (only used to place junction kerbs)

_STEP_FREE_OK = {"yes", "designated"}


def _way_flags(highway: str, tags: Mapping[str, str]) -> int:
    flags = 0
    wheelchair = tags.get("wheelchair", "")
    if highway == "steps" and not (
        wheelchair in _STEP_FREE_OK or tags.get("ramp:wheelchair") == "yes"
    ):
        flags |= STEPS
    if wheelchair == "no":
        flags |= WHEELCHAIR_NO
    if tags.get("footway") == "crossing":
        flags |= _CROSSING
    return flags


def edge_flags_from_ways(
    highway: Sequence[str],
    way_access: Mapping[int, Mapping[str, str]],
    edge_way: np.ndarray,
    vertex_ref: np.ndarray,
    edge_ptr: np.ndarray,
    barrier_nodes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-edge flags (:data:`STEPS`, :data:`WHEELCHAIR_NO`, :data:`BARRIER`) and incline.

    ``edge_way`` is each edge's way index, ``vertex_ref`` the OSM node id of every edge vertex
    (sliced by ``edge_ptr``), ``way_access`` the tags kept per way index.
    """
    n_ways = len(highway)
    way_flag = np.zeros(n_ways, dtype=np.uint8)
    way_incline = np.full(n_ways, np.nan)
    steps = np.flatnonzero(np.asarray(highway, dtype=object) == "steps")
    way_flag[steps] = STEPS
    for w, tags in way_access.items():
        way_flag[w] = _way_flags(highway[w], tags)
        way_incline[w] = incline_pct(tags.get("incline"))
    flags = way_flag[edge_way]
    if barrier_nodes.size:
        bars = np.unique(barrier_nodes)
        hit = np.flatnonzero(_member(vertex_ref, bars))
        if hit.size:
            # only the vertices on barrier nodes are looked at (a few hundred in a city, of
            # millions): their edge, whether they end it, the edges meeting there
            first, last = edge_ptr[:-1], edge_ptr[1:] - 1
            edge = np.searchsorted(edge_ptr, hit, side="right") - 1
            is_end = (hit == first[edge]) | (hit == last[edge])
            node = vertex_ref[hit]
            ends = np.concatenate([vertex_ref[first], vertex_ref[last]])
            ends = np.sort(ends[_member(ends, bars)])
            deg = np.searchsorted(ends, node, side="right") - np.searchsorted(ends, node)
            crossing = (flags[edge] & _CROSSING) != 0
            cross_edges = np.flatnonzero(flags & _CROSSING)
            cross_ends = np.unique(np.concatenate([vertex_ref[first[cross_edges]],
                                                   vertex_ref[last[cross_edges]]]))
            near_crossing = _member(node, cross_ends)
            barred = ~is_end | crossing | ((deg <= 2) & ~near_crossing)
            flags[np.unique(edge[barred])] |= BARRIER
    return flags & ~np.uint8(_CROSSING), way_incline[edge_way]


def _member(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Per value, whether it is in ``members`` (sorted, unique): a binary search each, where
    ``np.isin`` would sort the values with the members."""
    if not members.size:
        return np.zeros(values.shape[0], dtype=bool)
    at = np.searchsorted(members, values)
    np.minimum(at, members.shape[0] - 1, out=at)
    return members[at] == values
