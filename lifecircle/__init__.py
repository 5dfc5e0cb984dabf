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

# the error classes, re-exported (``X as X``); __all__ takes their names from _errors
from ._errors import BatchError as BatchError
from ._errors import ConfigError as ConfigError
from ._errors import InputError as InputError
from ._errors import InputFileError as InputFileError
from ._errors import LifecircleError as LifecircleError
from ._errors import OutputError as OutputError
from ._errors import ResourceLimitError as ResourceLimitError
from ._errors import __all__ as _error_names
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
    "Outputs",
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
# every error class (the _errors module also has a helper, did_you_mean, kept internal)
__all__ += [name for name in _error_names if name.endswith("Error")]

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
