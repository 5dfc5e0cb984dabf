"""Scripts and stylesheets: the vendored Leaflet files, inlined or linked from a CDN."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import folium
from branca.element import Element
from folium.elements import JSCSSMixin

from ..._errors import OutputError

_ASSETS = Path(__file__).parent.parent / "assets"
# folium resources the map never needs (no Bootstrap, jQuery or icon-font markers are used);
# they are dropped from every map, which also spares users behind slow or blocked CDNs.
_UNUSED_RESOURCES = frozenset({
    "jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
    "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css",
})


# Map panes, bottom to top. Only blocks (a canvas) and facilities (SVG) take the mouse; the
# panes in between let events through so that hovering anywhere over a block shows its figures.
_PANES = (
    ("lc-blocks", 350, True),
    ("lc-network", 360, False),
    ("lc-outline", 370, False),
    ("lc-iso", 380, False),
    ("lc-facilities", 450, True),
)


@cache
def read_asset(name: str) -> str:
    """The text of one of the map's own files in ``lifecircle/outputs/assets``."""
    return (_ASSETS / name).read_text(encoding="utf-8")


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(getattr(element, "_children", {}).values()):
        yield from _walk(child)


@cache
def _manifest() -> dict[str, Any]:
    return json.loads((_ASSETS / "manifest.json").read_text(encoding="utf-8"))


def _settle_assets(m: folium.Map, *, self_contained: bool) -> None:
    """Drop the folium resources the map does not use; inline the others when asked."""
    known = _manifest()["resources"]
    needed: list[str] = []
    for element in _walk(m.get_root()):
        if not isinstance(element, JSCSSMixin):
            continue
        keep: dict[str, list[tuple[str, str]]] = {"default_js": [], "default_css": []}
        for attr in keep:
            for name, url in getattr(element, attr):
                if name in _UNUSED_RESOURCES:
                    continue
                if self_contained:
                    if name not in known:
                        raise OutputError(
                            f"cannot inline {url} ({name}): it is not among the assets shipped "
                            "in lifecircle/outputs/assets; rerun scripts/vendor_map_assets.py"
                        )
                    if name not in needed:
                        needed.append(name)
                else:
                    keep[attr].append((name, url))
            setattr(element, attr, keep[attr])
    if self_contained:
        order = list(known)
        needed.sort(key=order.index)
        m.get_root().header.add_child(  # type: ignore[attr-defined]
            Element(_inline_assets(tuple(needed))), name="lifecircle_assets", index=0)


_SOURCE_MAP = re.compile(r"^\s*(//|/\*)# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((['\"]?)(images/[A-Za-z0-9_.-]+\.png)\1\)")
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
_STYLE_END = re.compile(r"</(style)", re.IGNORECASE)


@cache
def _inline_assets(names: tuple[str, ...]) -> str:
    """``<style>`` and ``<script>`` elements holding the shipped copies of ``names``."""
    resources = _manifest()["resources"]
    styles, scripts = [], []
    for name in names:
        path = _ASSETS / resources[name]["file"]
        body = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
        if path.suffix == ".css":
            body = _CSS_URL.sub(lambda mt: "url(data:image/png;base64," + base64.b64encode(
                (_ASSETS / mt.group(2)).read_bytes()).decode("ascii") + ")", body)
            body = _STYLE_END.sub(r"<\\/\1", body)
            styles.append(f"<style>/* {path.name} */\n{body}</style>")
        else:
            body = _SCRIPT_END.sub(r"<\\/\1", body)
            scripts.append(f"<script>/* {path.name} */\n{body}</script>")
    return "\n".join(styles + scripts)


_REMOTE = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//[^\"'\s>]*",
    re.IGNORECASE,
)


def _remote_resources(page: str) -> list[str]:
    """Addresses of scripts and stylesheets ``page`` would load from the network."""
    return [m.group(0) for m in _REMOTE.finditer(page)]
