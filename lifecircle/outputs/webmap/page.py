"""The page: a fixed HTML shell, the vendored Leaflet files, the data block and the map's script.

The shell below is the whole template, and nothing renders it: the only parts put into it are
the language code (checked), the shipped scripts and stylesheets (inlined by default, or linked
from their CDN with ``cdn=True``) and the data, serialised by
:func:`~lifecircle.outputs._escape.script_json` into a ``<script type="application/json">``
block that the browser never runs and that no text can close. The map's own script
(``assets/lifecircle-map.js``) reads that block and builds everything, showing text with
``textContent``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

from ..._errors import OutputError
from .._escape import script_json

__all__ = ["MapPage", "read_asset"]

_ASSETS = Path(__file__).parent.parent / "assets"

_SHELL = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lifecircle</title>
{styles}
</head>
<body>
<div id="lc-map"></div>
<script type="application/json" id="lc-data">{data}</script>
{scripts}
</body>
</html>
"""

_SOURCE_MAP = re.compile(r"^\s*(//|/\*)# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((['\"]?)(images/[A-Za-z0-9_.-]+\.png)\1\)")
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)
_STYLE_END = re.compile(r"</(style)", re.IGNORECASE)
_REMOTE = re.compile(
    r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//[^\"'\s>]*",
    re.IGNORECASE,
)


def _style(body: str) -> str:
    return "<style>" + _STYLE_END.sub(r"<\\/\1", body) + "</style>"


def _script(body: str) -> str:
    return "<script>" + _SCRIPT_END.sub(r"<\\/\1", body) + "</script>"


@cache
def read_asset(name: str) -> str:
    """The text of one of the files shipped in ``lifecircle/outputs/assets``."""
    return (_ASSETS / name).read_text(encoding="utf-8")


@cache
def _manifest() -> dict[str, Any]:
    return json.loads(read_asset("manifest.json"))


def _resources(cluster: bool) -> list[str]:
    names = ["leaflet_css", "leaflet"]
    if cluster:
        names += ["markerclustercss", "markerclusterdefaultcss", "markerclusterjs"]
    return names


def _licence_note(name: str) -> str:
    manifest = _manifest()
    package = manifest["resources"][name]["package"]
    info = manifest["packages"][package]
    return (f"{package} {info['version']}, {info['license']} licence: see "
            f"lifecircle/outputs/assets/LICENSE.{package}.txt")


@cache
def _inline(name: str) -> str:
    """A ``<style>`` or ``<script>`` element holding the shipped copy of resource ``name``."""
    path = _ASSETS / _manifest()["resources"][name]["file"]
    body = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
    note = _licence_note(name)
    if path.suffix == ".css":
        body = _CSS_URL.sub(lambda mt: "url(data:image/png;base64," + base64.b64encode(
            (_ASSETS / mt.group(2)).read_bytes()).decode("ascii") + ")", body)
        return _style(f"/* {path.name}: {note} */\n{body}")
    return _script(f"/* {path.name}: {note} */\n{body}")


def _linked(name: str) -> str:
    url = html.escape(_manifest()["resources"][name]["folium_url"], quote=True)
    if url.endswith(".css"):
        return f'<link rel="stylesheet" href="{url}">'
    return f'<script src="{url}"></script>'


def remote_resources(page: str) -> list[str]:
    """Addresses of scripts and stylesheets ``page`` would load from the network."""
    return [m.group(0) for m in _REMOTE.finditer(page)]


class MapPage:
    """A finished map page: ``html`` is the whole document.

    It shows itself in Jupyter (``_repr_html_``) and saves with :meth:`save`.
    """

    def __init__(self, lang: str, data: dict[str, Any], *, cdn: bool, cluster: bool) -> None:
        names = _resources(cluster)
        put = _linked if cdn else _inline
        styles = [put(n) for n in names if n.endswith("css")]
        scripts = [put(n) for n in names if not n.endswith("css")]
        styles.append(_style(read_asset("lifecircle-map.css")))
        scripts.append(_script(read_asset("lifecircle-map.js")))
        # str.format fills the shell once; the values are not looked at again
        self.html = _SHELL.format(lang=lang, styles="\n".join(styles), data=script_json(data),
                                  scripts="\n".join(scripts))
        self.cdn = cdn
        if not cdn and (remote := remote_resources(self.html)):
            raise OutputError(f"the offline map would still load {remote[0]}; rerun "
                              "scripts/vendor_map_assets.py")

    def render(self) -> str:
        """The page as text (``html``)."""
        return self.html

    def _repr_html_(self) -> str:
        doc = html.escape(self.html, quote=True)
        return (f'<iframe srcdoc="{doc}" style="width:100%;height:600px;border:none" '
                'sandbox="allow-scripts"></iframe>')

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically (``<path>.tmp``, then a rename).

        Raises
        ------
        OutputError
            The folder does not exist or the file cannot be written.
        """
        target = Path(path)
        if not target.parent.is_dir():
            raise OutputError(f"{target}: folder {target.parent} does not exist; create it first")
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_text(self.html, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{target}: cannot write the map ({exc.strerror or exc})") from exc
        return target
