"""Compiled copies of WKB records (spans of one byte buffer) for :mod:`._osm_columns`.

Hand-written (numba) because numpy has no gather of variable-length byte spans: picking
records out of a city's footprint buffer through a byte mask (``np.repeat`` of the spans,
then a boolean index) walks every byte of the spanned range twice and writes a mask byte
per byte, ~2.7 s of the read at a million nodes where the picked records are a few percent
of the buffer (the POI areas among the footprints). This loop touches only the bytes it
copies. Module-level so that numba's on-disk cache holds it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["copy_spans"]


@njit(cache=True, nogil=True)
def copy_spans(src: np.ndarray, starts: np.ndarray, ends: np.ndarray, dst: np.ndarray,
               at: np.ndarray) -> None:  # pragma: no cover - compiled
    """Copy each span ``src[starts[i]:ends[i]]`` to ``dst[at[i]:]``, in order.

    Byte by byte, forward: ``dst`` may be ``src`` itself when every span moves to a place
    at or before its own and after the spans copied before it (a compaction), as nothing
    not yet read is written over then.
    """
    for i in range(starts.shape[0]):
        a = starts[i]
        d = at[i] - a
        for j in range(a, ends[i]):
            dst[j + d] = src[j]
