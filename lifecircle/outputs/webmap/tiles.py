"""The optional background map: a tile layer from a provider name or a URL template.

The map draws blocks, streets and facilities on a plain background by itself; tiles only add
context. When they cannot load (offline, firewalled), the page says so in the legend and keeps
working. The OpenStreetMap standard tiles are credited by the map's own, localised
OpenStreetMap credit (the data are from OpenStreetMap in any case).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from ..._errors import ConfigError
from .._escape import clean_text

__all__ = ["tile_spec"]

#: Provider names that mean the OpenStreetMap standard tiles.
_OSM_NAMES = frozenset({"openstreetmap", "openstreetmap.mapnik", "osm"})
_OSM = {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": None,
        "maxNativeZoom": 19, "subdomains": "abc"}
# a tile address must be a web address; anything else (javascript:, data:, file:) is refused
_WEB_URL = re.compile(r"^(https?:)?//[^\s\"'<>]+$", re.IGNORECASE)


def tile_spec(tiles: str | None, attribution: str | None) -> dict[str, Any] | None:
    """The tile layer as data for the page, or ``None`` for no background map.

    Parameters
    ----------
    tiles
        ``"OpenStreetMap"`` (the standard tiles), another xyzservices provider name, a URL
        template with ``{z}``, ``{x}`` and ``{y}``, or ``None``.
    attribution
        Credit for a URL template, as plain text (required with a URL).

    Returns
    -------
    dict or None
        ``url``, ``attribution`` (plain text, or ``None`` when the map's OpenStreetMap credit
        covers it), ``maxNativeZoom`` and ``subdomains``.

    Raises
    ------
    ConfigError
        Unknown provider, a provider that needs an API key, a URL that is not a web address,
        or a URL without an attribution.
    """
    if tiles is None:
        return None
    name = tiles.strip()
    if name.lower() in _OSM_NAMES:
        return dict(_OSM)
    if "{z}" in name or "://" in name or name.startswith("//"):
        if not _WEB_URL.match(name):
            raise ConfigError(f"tiles={tiles!r} is not a web address; give an http(s):// URL "
                              "template with {z}/{x}/{y}")
        if not attribution or not attribution.strip():
            raise ConfigError(
                f"tiles={tiles!r} needs tiles_attribution='...' naming the tile source and its "
                "data (for example '© OpenStreetMap contributors')"
            )
        return {"url": name, "attribution": clean_text(attribution), "maxNativeZoom": 19,
                "subdomains": "abc"}
    import xyzservices

    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError:
        raise ConfigError(
            f"unknown tile provider {tiles!r}; give 'OpenStreetMap' (or another xyzservices "
            "name), a URL template with {z}/{x}/{y} and tiles_attribution, or None"
        ) from None
    if provider.requires_token():
        raise ConfigError(f"tile provider {tiles!r} needs an API key; give its URL template "
                          "with the key and tiles_attribution instead")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # providers warn about their terms on every URL
        url = provider.build_url(fill_subdomain=False)
    return {"url": url, "attribution": clean_text(attribution or provider.get("attribution")),
            "maxNativeZoom": int(provider.get("max_zoom", 19)),
            "subdomains": "".join(provider.get("subdomains", "abc"))}
