"""Text columns of a few distinct values (a method or rule per block or building).

:func:`labels` makes ``names[codes]`` as the column pandas makes of it, without a Python
object per row going back into Arrow: with pandas' Arrow strings, a numpy object array of
10^5-10^6 repeated names costs ~0.15-0.2 s per column to convert (pandas scans and encodes
each element), an Arrow take from the few names a few milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["labels"]


def labels(codes: np.ndarray, names: np.ndarray | list[str]) -> Any:
    """``names[codes]`` (codes: valid positions) as the column pandas makes of it: with
    pandas' Arrow strings, one Arrow take from the names (an ``ArrowStringArray``), else the
    names' objects (an object array)."""
    names = np.asarray(names, dtype=object)
    small = pd.Series(names).array
    if not isinstance(small, pd.arrays.ArrowStringArray):
        return names[codes]
    return type(small)(pa.array(small).take(pa.array(codes)), dtype=small.dtype)
