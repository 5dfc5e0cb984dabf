"""A font with Chinese glyphs for the figures, found among the system's fonts.

Debian/Ubuntu ship one in the ``fonts-noto-cjk`` package. matplotlib has no notion of a
language's fallback font, so the figures ask for one by family name, then by file name.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from matplotlib.font_manager import findSystemFonts, fontManager

__all__ = ["cjk_font"]

# Families tried first (as matplotlib knows them), then file names on the system.
_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC",
                 "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei",
                 "PingFang SC", "Noto Serif CJK SC")
_CJK_FILES = ("notosanscjk-regular", "notosanscjk", "sourcehansans", "wqy-microhei",
              "wqy-zenhei", "simhei", "msyh", "pingfang", "notoserifcjk")


@cache
def cjk_font() -> str | None:
    """A font file with Chinese glyphs (regular weight where installed; the Simplified Chinese
    face of a collection when matplotlib can pick faces), or ``None`` when there is none."""
    for family in _CJK_FAMILIES:
        entries = [e for e in fontManager.ttflist if e.name == family]
        if entries:
            best = min(entries, key=lambda e: abs(_weight(e.weight) - 400))
            return _face(str(best.fname), getattr(best, "index", 0))
    # matplotlib's font cache may predate a font installed later: look at the files too.
    files = sorted(findSystemFonts(), key=lambda p: (os.path.basename(p).lower(), p))
    for stem in _CJK_FILES:
        for path in files:
            name = os.path.basename(path).lower()
            if name.startswith(stem) and "bold" not in name:
                return _face(path, _sc_face(path))
    return None


def _weight(w: Any) -> int:
    named = {"light": 300, "normal": 400, "regular": 400, "medium": 500, "bold": 700}
    return int(w) if isinstance(w, int | float) else named.get(str(w).lower(), 400)


def _sc_face(path: str) -> int:
    """Index of the Simplified Chinese face in a font collection (0 when unknown)."""
    try:
        from matplotlib.ft2font import FT2Font

        for i in range(FT2Font(path).num_faces):
            if FT2Font(path, face_index=i).family_name.endswith(" SC"):
                return i
    except (TypeError, RuntimeError, OSError, AttributeError):
        pass
    return 0


def _face(path: str, index: int) -> str:
    """``path`` naming face ``index`` of a collection, where matplotlib supports faces."""
    if not index:
        return path
    import matplotlib.font_manager

    font_path: Any = getattr(matplotlib.font_manager, "FontPath", None)
    if font_path is None:  # matplotlib < 3.11 reads the first face only
        return path
    face: str = font_path(path, index)  # a str subclass carrying the face index
    return face
