"""Planning bins, their colours and the facility colours shared by the map and the figures."""

from __future__ import annotations

from typing import Any

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
#: Facility layers with more markers than this are drawn with marker clustering.
CLUSTER_ABOVE = 200

#: Bins of the first view (is the complete life circle within reach?): every category with
#: data within its limit, then the worst shortfall over those categories in minutes (upper
#: edges inclusive), then "a category with data cannot be reached on foot".
SHORTFALL_MIN: tuple[float, ...] = (5.0, 10.0, 15.0)
#: Colours of those bins: blue for complete, yellow to dark red for growing shortfalls, grey
#: for unreachable (the same grey as the time bins).
SHORTFALL_COLORS: tuple[str, ...] = (
    "#2c7bb6", "#fee08b", "#fc8d59", "#d73027", "#7f0000", UNREACHABLE_COLOR,
)
#: Fill of a block in the view of a category without data.
NO_DATA_COLOR = "#f0f0f0"

#: Facility groups, in legend order, each with one colour and the words of a category key
#: that put it in the group (first match wins; a category matching none is "other"). Within a
#: group, categories are told apart by marker shape, so the map never needs more than five
#: facility colours (the GB 50180-2018 profile has 15 facility types).
FACILITY_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("care", "#6a3d9a", ("care", "nursing", "elderly", "kindergarten", "nursery", "child")),
    ("health", "#e7298a", ("health", "clinic", "hospital", "pharmacy", "doctor", "medical")),
    ("fitness", "#1b7837", ("sport", "fitness", "gym", "playground", "park")),
    ("retail", "#8c510a", ("retail", "market", "store", "shop", "grocery", "supermarket")),
    ("other", "#252525", ()),
)
#: Marker shapes, given to the categories of a group in profile order (cycled past six).
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "hexagon")

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
    # Fixed edges, upper-inclusive: what mapclassify.UserDefined computes, done as one
    # searchsorted because importing mapclassify costs seconds (it compiles a numba kernel
    # eagerly and imports scikit-learn and pyplot), longer than the rest of a small run.
    out[finite] = np.searchsorted(np.asarray(BINS_MIN), values[finite], side="left")
    return out

def _cat_color(i: int) -> str:
    return CATEGORY_COLORS[i % len(CATEGORY_COLORS)]


def facility_group(category: str) -> str:
    """The facility group (``care``, ``health``, ``fitness``, ``retail``, ``other``) of a key.

    Examples
    --------
    >>> facility_group("elderly_day_care"), facility_group("food_market")
    ('care', 'retail')
    """
    key = category.lower()
    for name, _, words in FACILITY_GROUPS:
        if any(w in key for w in words):
            return name
    return "other"


def classify_shortfall(shortfall: Any) -> np.ndarray:
    """Bin of the first view for each block's worst shortfall in minutes.

    Parameters
    ----------
    shortfall
        Minutes beyond the limit of the worst category with data: 0 or less when every such
        category is within its limit, infinite or NaN when one cannot be reached on foot.

    Returns
    -------
    numpy.ndarray
        0 complete, 1 for (0, 5], 2 for (5, 10], 3 for (10, 15], 4 for more than 15 and 5 for
        unreachable.
    """
    values = np.asarray(shortfall, dtype=float).reshape(-1)
    out = np.full(values.shape, len(SHORTFALL_COLORS) - 1, dtype=np.int64)
    finite = np.isfinite(values)
    out[finite] = np.searchsorted(np.array((0.0, *SHORTFALL_MIN)), values[finite], side="left")
    return out
