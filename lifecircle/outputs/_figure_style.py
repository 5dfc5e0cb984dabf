"""What every static figure shares: print size, text sizes, the language's messages and font,
number formatting, the "no data" fill and a new Agg-backed figure.

:mod:`lifecircle.outputs.plots` (the maps) and :mod:`lifecircle.outputs.share_chart` (the
coverage chart) both draw with it, so neither imports the other's internals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from ..i18n import check_lang, messages
from . import webmap
from ._fonts import cjk_font

__all__ = ["CREDIT", "DPI", "MIN_PT", "NO_DATA_COLOR", "NO_DATA_HATCH", "PAGE_IN"]

log = logging.getLogger("lifecircle.outputs.plots")

#: print resolution of the PNGs
DPI = 200
#: A4 portrait (width, height) in inches: every figure is this wide and at most this tall
PAGE_IN = (8.27, 11.69)
#: the smallest text on a figure, in points at print size
MIN_PT = 8.0
_PT = {"title": 12.0, "subtitle": 9.5, "label": 9.0, "legend": 9.0, "tick": 8.0, "small": 8.0}
CREDIT = "© OpenStreetMap contributors"  # PNG metadata; the visible credit is translated
# The map's "no data" fill, where the web map defines one (the figures and map must agree).
NO_DATA_COLOR: str = getattr(webmap, "NO_DATA_COLOR", "#f0f0f0")
NO_DATA_HATCH = "////"
# Languages whose missing font has been reported (once per process, not once per figure).
_WARNED: set[str] = set()


@dataclass(frozen=True)
class _Style:
    """The language a figure really uses, its messages and its font."""

    lang: str
    text: Mapping[str, str]
    font: FontProperties | None

    def fp(self, role: str) -> FontProperties:
        """Font properties for text of ``role`` (a key of ``_PT``)."""
        size = _PT[role]
        if self.font is None:
            return FontProperties(size=size)
        out = self.font.copy()
        out.set_size(size)
        return out


def _style(lang: str) -> _Style:
    check_lang(lang, option="lang")
    if lang == "zh":
        path = cjk_font()
        if path is not None:
            return _Style("zh", messages("figures", "zh"), FontProperties(fname=path))
        if "zh" not in _WARNED:
            _WARNED.add("zh")
            log.warning("no CJK font found, so the figures are in English; install the "
                        "fonts-noto-cjk package (apt-get install fonts-noto-cjk) for Chinese")
    return _Style("en", messages("figures", "en"), None)


def _num(x: float) -> str:
    """``x`` with at most one decimal and no trailing zero: 16.6667 → 16.7, 15.0 → 15."""
    s = f"{float(x):.1f}"
    return s[:-2] if s.endswith(".0") else s


def _fill(template: str, **values: Any) -> str:
    return template.format(**{k: _num(v) if isinstance(v, float | int) and not
                              isinstance(v, bool) else v for k, v in values.items()})


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig
