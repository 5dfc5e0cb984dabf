"""Which edges a restricted group may use: step-free and incline rules as boolean edge masks.

A profile group with ``step_free = true`` (wheelchair users, carers with prams) cannot use

- ``highway=steps``, unless the steps carry a wheelchair ramp (``ramp:wheelchair=yes``) or are
  tagged ``wheelchair=yes|designated`` (a lift or ramp beside them, as mapped);
- ways tagged ``wheelchair=no``;
- ways through a node tagged ``kerb=raised`` or ``wheelchair=no`` (a raised kerb or a barrier
  where the data mark one). An edge is barred when such a node is one of its inner vertices or
  an end shared with at most one other edge (passing it is unavoidable); where a crossing
  (``footway=crossing``) ends at it, or at a junction of three or more edges, only the
  crossings that end there are barred: the street or sidewalk it joins does not climb the
  kerb.

A group with ``max_incline_pct`` cannot use ways whose ``incline`` tag (``8%``, ``-10 %``,
``5°``) is steeper, nor, with a DEM, edges whose steepest stretch (pieces of about one DEM
pixel) is steeper. Unknown values (``incline=up``, no tag) do not bar a way.

Each distinct restriction is one mask over the same network arrays: :func:`network_for_group`
returns a view of the network that shares every array and whose CSR leaves the barred arcs
out; it is built once per restriction and cached on the network. The mask is recorded in
``net.group_masks`` so the ``edges`` layer carries a ``usable_<group>`` column and every
time stays re-derivable from the GeoPackage. Networks read from GraphML or downloaded through
osmnx know only the ``highway`` value (steps), not the wheelchair, incline or kerb tags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

import numpy as np

from .sources.access_tags import BARRIER, STEPS, WHEELCHAIR_NO, edge_flags_from_ways

if TYPE_CHECKING:
    from .network import WalkNetwork
    from .profiles import Group

__all__ = [
    "BARRIER",
    "STEPS",
    "WHEELCHAIR_NO",
    "edge_flags",
    "edge_flags_from_ways",
    "network_for_group",
    "network_from_mask",
    "usable_mask",
]

def edge_flags(net: WalkNetwork) -> np.ndarray:
    """The flags of every edge; from ``highway`` alone where the source kept no tags."""
    if net.edge_flags is not None:
        return net.edge_flags
    # GraphML / osmnx networks: only the highway value is known
    flags = np.zeros(net.n_edges, dtype=np.uint8)
    if net.edge_highway is not None:
        flags[np.asarray(net.edge_highway, dtype=object) == "steps"] = STEPS
    return flags


def usable_mask(net: WalkNetwork, group: Group) -> np.ndarray:
    """``True`` for every edge ``group`` may use (all edges for an unrestricted group)."""
    usable = np.ones(net.n_edges, dtype=bool)
    if group.step_free:
        usable &= (edge_flags(net) & (STEPS | WHEELCHAIR_NO | BARRIER)) == 0
    if group.max_incline_pct is not None:
        limit = float(group.max_incline_pct)
        for grade in (net.edge_incline_pct, net.edge_max_grade_pct):
            if grade is not None:
                usable &= ~(np.nan_to_num(grade, nan=0.0) > limit)
    return usable


def _key(group: Group) -> tuple[bool, float | None]:
    return (group.step_free, group.max_incline_pct)


def _view(net: WalkNetwork, key: Hashable, usable: Callable[[], np.ndarray]) -> WalkNetwork:
    """The view of ``net`` searched on the mask ``usable()`` makes, cached under ``key``."""
    cache: dict[Hashable, WalkNetwork] = net.__dict__.setdefault("_group_views", {})
    view = cache.get(key)
    if view is None:
        view = dataclasses.replace(net, edge_usable=usable(), group_masks={})
        if "geometries" in net.__dict__:
            view.__dict__["geometries"] = net.__dict__["geometries"]
        cache[key] = view
    return view


def network_for_group(net: WalkNetwork, group: Group) -> WalkNetwork:
    """``net`` itself for an unrestricted group, else a view searched on the group's mask.

    The view shares every array of ``net``; only its CSR (built on first use) differs. Views
    are cached per distinct restriction, and the mask is recorded in ``net.group_masks``.
    """
    if not group.restricted:
        return net
    view = _view(net, _key(group), lambda: usable_mask(net, group))
    assert view.edge_usable is not None
    net.group_masks[group.name] = view.edge_usable
    return view


def network_from_mask(net: WalkNetwork, group: str, usable: np.ndarray) -> WalkNetwork:
    """The view of ``net`` for ``group`` from a published mask (an ``edges`` layer's
    ``usable_<group>`` column, in edge order), cached per group name."""
    mask = np.asarray(usable, dtype=bool)
    if mask.shape != (net.n_edges,):
        raise ValueError(f"usable_{group}: {mask.shape[0]} values for {net.n_edges} edges")
    view = _view(net, ("published", group), lambda: mask)
    net.group_masks[group] = mask
    return view
