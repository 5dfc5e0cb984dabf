"""The OSM tags that decide step-free passage, as the reader keeps them.

The rules that turn them into edge masks are in :mod:`lifecircle.edge_access`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["ACCESS_KEYS", "incline_pct", "is_barrier_node", "way_access_tags"]

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
