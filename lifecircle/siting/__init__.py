"""Facility siting: candidate sites, coverage matrices, maximal coverage and set covering.

Demand is the residential blocks, weighted by population; a block is covered by a site when
any of its access points is within the category's threshold of walking from it (off-network
legs included, exactly as in the core engine; slope-aware on a network with a DEM). The
coverage matrix has one row per candidate (existing facilities first, as fixed rows) and one
column per block.

Modules, in the order data flows through them:

* :mod:`.candidates`: candidate sites from a file, from OSM (suitable buildings, vacant land,
  surface parking) or every ``spacing_m`` along the network.
* :mod:`.matrix`: :func:`coverage_matrix` (one :class:`lifecircle._kernels.BoundedSearch`
  per site, then the exact times of the access points on the reached edges).
* :mod:`.milp`: the exact mixed-integer program and its solvers (``scipy.optimize.milp`` by
  default; highspy or pulp optional, the same optimum).
* :mod:`.solvers`: :func:`max_coverage` and :func:`set_cover` (lazy greedy or exact;
  capacities for new sites and existing facilities).
* :mod:`.scenario`: :func:`site` on top of a :class:`lifecircle.pipeline.Result`, and the
  before / after :func:`scenario` recomputed by the core engine.
* :mod:`.report`: :func:`run_site` (``lifecircle site``) and the report section.
"""

from __future__ import annotations

from ..catchment import CoverageMatrix, block_index, coverage_matrix
from .candidates import (
    CANDIDATE_BUILDINGS,
    CANDIDATE_LANDUSE,
    candidates_from_osm,
    network_sample,
    read_candidates,
    resolve_candidates,
)
from .milp import EXACT_MAX_CANDIDATES, EXACT_MAX_ENTRIES, SOLVERS
from .report import run_site, siting_markdown
from .scenario import Siting, scenario, scenario_layer, site
from .solvers import METHODS, Solution, max_coverage, set_cover

__all__ = [
    "CANDIDATE_BUILDINGS",
    "CANDIDATE_LANDUSE",
    "EXACT_MAX_CANDIDATES",
    "EXACT_MAX_ENTRIES",
    "METHODS",
    "SOLVERS",
    "CoverageMatrix",
    "Siting",
    "Solution",
    "block_index",
    "candidates_from_osm",
    "coverage_matrix",
    "max_coverage",
    "network_sample",
    "read_candidates",
    "resolve_candidates",
    "run_site",
    "scenario",
    "scenario_layer",
    "set_cover",
    "site",
    "siting_markdown",
]
