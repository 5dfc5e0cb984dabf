"""The fingerprint of a run: what it read and how it was configured, as one sha256.

Every saved run writes it into ``_SUCCESS.json``; ``lifecircle batch`` compares it with the
fingerprint a region would have now and skips the region when they agree. It derives from
the configuration objects alone: the content (sha256) of every input file of the
:class:`~lifecircle.config.Analysis`, its effective profile (after speed, threshold and
category overrides), every other analysis option and every :class:`~lifecircle.config.Outputs`
option. So a new field of either is covered without changes here. It leaves out the paths
of input files (a moved file with the same bytes is the same input). The rasters of a
group's people (``--group-population NAME=FILE.tif``) are input files too: they count by
content under ``group_population:NAME``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ._version import __version__
from .columns import is_raster_name
from .config import FILE_OPTIONS, Analysis, Outputs
from .outputs._atomic import file_sha256

__all__ = ["FILE_OPTIONS", "run_fingerprint"]

#: analysis options the effective profile already covers
_IN_PROFILE = ("profile", "speed_kmh", "minutes", "categories")


def run_fingerprint(analysis: Analysis, outputs: Outputs) -> dict[str, Any]:
    """The fingerprint of a run of ``analysis`` saved with ``outputs``.

    Parameters
    ----------
    analysis
        What the run analyses; every input file it names must exist (the bundled extract
        counts when it names no source).
    outputs
        What the run writes.

    Returns
    -------
    dict
        ``sha256`` (of the canonical JSON of everything that went in), ``inputs`` (sha256
        per file option) and ``lifecircle_version``.
    """
    inputs = {key: file_sha256(path) for key, path in analysis.input_files().items()}
    settings = {k: v for k, v in analysis.to_dict().items()
                if k not in FILE_OPTIONS and k not in _IN_PROFILE}
    settings["max_snap_m"] = analysis.snap_limit_m
    if analysis.group_population:  # a raster by its content (in ``inputs``), not its path
        settings["group_population"] = [
            f"{name}=" + ("<raster>" if is_raster_name(value) else value)
            for name, value in analysis.group_population_items()]
    body = {
        "lifecircle_version": __version__,
        "inputs": inputs,
        "profile": {k: v for k, v in analysis.effective_profile.to_dict().items() if k != "path"},
        "settings": settings,
        "outputs": outputs.to_dict(),
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=True, default=str)
    return {
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "inputs": inputs,
        "lifecircle_version": __version__,
    }
