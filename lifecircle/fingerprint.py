"""The fingerprint of a run: what it read and how it was configured, as one sha256.

Every run writes it into ``_SUCCESS.json``; ``lifecircle batch`` compares it with the
fingerprint a region would have now and skips the region when they agree. It covers the
content (sha256) of every input file, an online place name, the effective profile (after
speed, threshold and category overrides) and every option that changes the result; it leaves
out paths (a moved file with the same bytes is the same input) and options that change only
logging or progress.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._version import __version__
from .outputs._atomic import file_sha256
from .profiles import Profile

__all__ = ["run_fingerprint"]


def run_fingerprint(
    profile: Profile,
    *,
    osm: str | Path | None,
    place: str | None,
    polygon: str | Path | None,
    facilities: str | Path | None,
    facilities_crs: str | None,
    facility_columns: Mapping[str, str] | None,
    blocks: str | Path | None,
    blocks_crs: str | None,
    max_snap_m: float,
    lang: str,
) -> dict[str, Any]:
    """The fingerprint of a run with these resolved options.

    Parameters
    ----------
    profile
        The effective profile of the run (speed, threshold and category overrides applied).
    osm, polygon, facilities, blocks
        Input files (``osm`` resolved to the bundled extract when a run uses it); ``None``
        when not used. They must exist.
    place
        The place name of an online run.
    facilities_crs, facility_columns, blocks_crs, max_snap_m, lang
        The other options of :func:`lifecircle.pipeline.run` that change its result.

    Returns
    -------
    dict
        ``sha256`` (of the canonical JSON of everything that went in), ``inputs`` (sha256
        per file role and the place name) and ``lifecircle_version``.
    """
    files = {"osm": osm, "polygon": polygon, "facilities": facilities, "blocks": blocks}
    inputs: dict[str, Any] = {
        role: file_sha256(path) for role, path in files.items() if path is not None
    }
    if place is not None:
        inputs["place"] = place
    body = {
        "lifecircle_version": __version__,
        "inputs": inputs,
        "profile": {k: v for k, v in profile.to_dict().items() if k != "path"},
        "settings": {
            "facilities_crs": facilities_crs,
            "facility_columns": dict(sorted((facility_columns or {}).items())),
            "blocks_crs": blocks_crs,
            "max_snap_m": float(max_snap_m),
            "lang": lang,
        },
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=True, default=str)
    return {
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "inputs": inputs,
        "lifecircle_version": __version__,
    }
