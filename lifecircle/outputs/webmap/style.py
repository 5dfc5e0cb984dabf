"""Planning bins, their colours and the facility colours shared by the map and the figures."""

from __future__ import annotations

from typing import Any

import mapclassify
import numpy as np

BINS_MIN: tuple[float, ...] = (5.0, 10.0, 15.0, 20.0, 30.0)
#: One colour per bin, from short to long walks: blues within 15 minutes, oranges beyond
#: (a diverging scheme that people with red-green colour blindness can read).
BIN_COLORS: tuple[str, ...] = ("#08519c", "#3182bd", "#9ecae1", "#fdae6b", "#e6550d", "#a63603")
#: Colour of blocks from which no facility of the category can be reached on foot.
UNREACHABLE_COLOR = "#9e9e9e"
_UNREACHABLE = len(BIN_COLORS)

#: Facility colours by category position in the profile (cycled when there are more).
#: Facility colours, apart from the blue-to-orange time bins; 16 so that a GB 50180-2018 profile
#: (15 facility types) never gives two categories one colour.
CATEGORY_COLORS: tuple[str, ...] = (
    "#7b3294", "#c51b7d", "#1b7837", "#252525", "#8c510a", "#01665e", "#e7298a", "#66a61e",
    "#b8860b", "#00a0a0", "#9e0142", "#5e3c99", "#808000", "#bc80bd", "#35978f", "#543005",
)
#: Categories with more facilities than this are drawn with marker clustering.
CLUSTER_ABOVE = 200

def classify_minutes(minutes: Any) -> np.ndarray:
    """Planning bin of each walking time.

    Parameters
    ----------
    minutes
        Walking times in minutes; NaN or infinite means unreachable.

    Returns
    -------
    numpy.ndarray
        Integers: 0 for 0-5 min, 1 for (5, 10], 2 for (10, 15], 3 for (15, 20], 4 for (20, 30],
        5 for more than 30 and 6 for unreachable. Upper edges are inclusive, so exactly 15.0
        falls in the 10-15 bin, like a block covered by a 15-minute threshold.
    """
    values = np.asarray(minutes, dtype=float).reshape(-1)
    out = np.full(values.shape, _UNREACHABLE, dtype=np.int64)
    finite = np.isfinite(values)
    if finite.any():
        classes = mapclassify.UserDefined(
            np.clip(values[finite], 0.0, None), bins=list(BINS_MIN)
        )
        out[finite] = np.minimum(np.asarray(classes.yb, dtype=np.int64), len(BINS_MIN))
    return out

def _cat_color(i: int) -> str:
    return CATEGORY_COLORS[i % len(CATEGORY_COLORS)]
