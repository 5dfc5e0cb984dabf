"""The fingerprint of a run: what it read and how it was configured, as one sha256.

Every run writes it into ``_SUCCESS.json``; ``lifecircle batch`` compares it with the
fingerprint a region would have now and skips the region when they agree. It covers the
content (sha256) of every input file, the effective profile (after speed, threshold and
category overrides) and every other option of the run, so a new option of
:func:`lifecircle.pipeline.run` is covered without changes here (a new *file* option should
be added to :data:`FILE_OPTIONS`, so that its content rather than its path counts). It leaves
out paths of input files (a moved file with the same bytes is the same input) and the options
that only steer writing and progress.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ._version import __version__
from .outputs._atomic import file_sha256
from .profiles import Profile

__all__ = ["FILE_OPTIONS", "run_fingerprint"]

#: options naming input files: their content counts, not their path
FILE_OPTIONS = ("osm", "polygon", "facilities", "blocks", "population", "dem")
#: options the effective profile already covers, and options that do not change the result
_NOT_HASHED = ("profile", "speed_kmh", "minutes", "categories", "out", "overwrite",
               "progress", "extras")


def run_fingerprint(profile: Profile, options: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprint of a run.

    Parameters
    ----------
    profile
        The effective profile of the run (speed, threshold and category overrides applied).
    options
        Every keyword option of the run, with ``osm`` resolved to the file actually read (the
        bundled extract when none was given) and ``max_snap_m`` to the limit used. Files
        named by :data:`FILE_OPTIONS` must exist.

    Returns
    -------
    dict
        ``sha256`` (of the canonical JSON of everything that went in), ``inputs`` (sha256
        per file option) and ``lifecircle_version``.
    """
    inputs = {
        key: file_sha256(options[key]) for key in FILE_OPTIONS if options.get(key) is not None
    }
    settings = {
        key: value
        for key, value in sorted(options.items())
        if key not in FILE_OPTIONS and key not in _NOT_HASHED and value not in (None, {}, [])
    }
    body = {
        "lifecircle_version": __version__,
        "inputs": inputs,
        "profile": {k: v for k, v in profile.to_dict().items() if k != "path"},
        "settings": settings,
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=True, default=str)
    return {
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "inputs": inputs,
        "lifecircle_version": __version__,
    }
