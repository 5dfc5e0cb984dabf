"""lifecircle: 15-minute life-circle accessibility from OpenStreetMap.

The headline functions::

    import lifecircle
    config = lifecircle.Analysis(minutes=10)     # the bundled Helsinki extract
    result = lifecircle.analyse(config)          # computes; writes nothing
    result.blocks                                # GeoDataFrame: walk_min_<category>, lacks, ...
    result.summary                               # coverage per category
    result.save("out", lifecircle.Outputs(lang="zh"))   # the whole output folder

    lifecircle.run(minutes=10, out="out")        # the same in one call

Library logging is silent by default (a ``NullHandler``); the CLI configures it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._errors import (
    BatchError,
    ConfigError,
    InputError,
    InputFileError,
    LifecircleError,
    OutputError,
    ResourceLimitError,
)
from ._version import __version__
from .profiles import load_profile

if TYPE_CHECKING:
    from .batch import run_batch
    from .config import Analysis, Outputs
    from .isochrones import category_isochrones, facility_isochrones
    from .network import WalkNetwork
    from .pipeline import analyse, run
    from .result import Result
    from .siting import run_site, site
    from .supply import supply_demand

__all__ = [
    "Analysis",
    "BatchError",
    "ConfigError",
    "InputError",
    "InputFileError",
    "LifecircleError",
    "OutputError",
    "Outputs",
    "ResourceLimitError",
    "Result",
    "WalkNetwork",
    "__version__",
    "analyse",
    "category_isochrones",
    "facility_isochrones",
    "load_profile",
    "run",
    "run_batch",
    "run_site",
    "site",
    "supply_demand",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "Analysis": "config",
    "Outputs": "config",
    "analyse": "pipeline",
    "run": "pipeline",
    "Result": "result",
    "WalkNetwork": "network",
    "run_batch": "batch",
    "site": "siting",
    "run_site": "siting",
    "supply_demand": "supply",
    "category_isochrones": "isochrones",
    "facility_isochrones": "isochrones",
}


def __getattr__(name: str) -> Any:
    # the engine pulls in geopandas and scipy: import them on first use, so that
    # `lifecircle --version` and error paths stay fast
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'lifecircle' has no attribute {name!r}")
