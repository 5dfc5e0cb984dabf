"""A table's rows as one text, built column by column with pyarrow's string kernels.

The CSV and the workbook's sheets are text made of the same pieces in every row (a cell's
markup, its row number, its value). Formatting and joining them a cell at a time in Python
cost the tables most of their time (about 2 µs a cell through pandas' ``to_csv`` or
xlsxwriter); here every piece is one array per column, joined row-wise in C++ and the rows
concatenated by slicing the result's buffer. Python still formats what pyarrow cannot
render the same way (a value near a rounding tie, a negative or non-finite number, a
distinct text that needs quoting or escaping), once per value concerned or per distinct text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["by_value", "fixed", "integers", "join_rows", "plain_integers", "row_numbers",
           "texts"]

Piece: TypeAlias = "pa.Array | str"


def join_rows(pieces: Sequence[Piece], *, sep: str = "", end: str = "") -> bytes:
    """Each row's pieces joined by ``sep`` (a null piece as empty text), each row followed
    by ``end``, every row in order as one UTF-8 text.

    Parameters
    ----------
    pieces
        Arrays of one length (text, nullable) and texts repeated in every row.
    sep, end
        Between two pieces of a row; after each row.
    """
    if not any(isinstance(p, pa.Array) for p in pieces):
        raise ValueError("join_rows needs at least one array among its pieces")
    rows = pc.binary_join_element_wise(*pieces, sep, null_handling="replace",
                                       null_replacement="")
    if end:
        rows = pc.binary_join_element_wise(rows, end, "")
    rows = rows.cast(pa.large_string())  # 64-bit offsets: a text past 2 GiB still slices
    if len(rows) == 0:
        return b""
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int64,
                            count=len(rows) + 1, offset=8 * rows.offset)
    return rows.buffers()[2][int(offsets[0]):int(offsets[-1])].to_pybytes()


def row_numbers(n: int, *, first: int = 1) -> pa.Array:
    """``first``, ``first + 1``, ... as ``n`` texts."""
    return pa.array(np.arange(first, first + n, dtype=np.int64)).cast(pa.string())


def integers(values: np.ndarray, python: Callable[[int], str] = str) -> pa.Array:
    """Whole numbers as decimal text (what ``python`` gives for them, which it is asked for
    beyond 10^15: pyarrow's digits are Python's ``str`` there, not e.g. ``%.16G``)."""
    v = np.asarray(values, dtype=np.int64)
    text = pa.array(v).cast(pa.string())
    big = np.abs(v) >= 10**15
    return _with(text, big, [python(int(x)) for x in v[big]])


def fixed(values: np.ndarray, decimals: int) -> pa.Array:
    """Numbers as ``"%.<decimals>f"`` gives them (Python's correctly rounded digits), null
    where NaN.

    The digits come from the value times 10^decimals rounded to an integer, which is the
    correct rounding unless the product lies within a billionth of a half (floating-point
    error could then put it on the other side of the tie): those, negative and non-finite
    values (-0.0 too) and products beyond 2^50 are formatted by Python.
    """
    x = np.asarray(values, dtype=float)
    nan = np.isnan(x)
    scale = 10**decimals
    with np.errstate(invalid="ignore", over="ignore"):
        y = x * scale
        whole = np.rint(y)
        tie = np.abs(np.abs(y - np.floor(y)) - 0.5) <= 1e-9 * np.maximum(1.0, y)
        python = ~nan & ~(~np.signbit(x) & (y < 2.0**50) & ~tie)
    n = np.where(nan | python, 0, whole).astype(np.int64)
    head = pa.array(n // scale).cast(pa.string())
    if decimals > 0:
        tail = pc.utf8_lpad(pa.array(n % scale).cast(pa.string()), decimals, "0")
        head = pc.binary_join_element_wise(head, tail, ".")
    text = _with(head, python, [f"{v:.{decimals}f}" for v in x[python]])
    return pc.if_else(pa.array(nan), pa.scalar(None, pa.string()), text)


def by_value(values: pd.Series, text: Callable[[object], str | None]) -> pa.Array:
    """``text`` of each distinct value, put in every row holding it (null where the value is
    missing or ``text`` gives ``None``): a column of few distinct values (labels, yes/no)
    formatted once per value.

    Values of a column of Python objects are told apart by their type and text as well:
    ``True``, ``1`` and ``1.0`` (or ``0.0``, ``-0.0`` and ``False``) are equal keys to
    pandas' ``factorize`` but are written differently."""
    if values.dtype == object:
        keys = pd.Series([(type(v), repr(v)) for v in values], index=values.index,
                         dtype=object).where(values.notna())
        codes, _ = pd.factorize(keys, use_na_sentinel=True)
        first = np.unique(codes[codes >= 0], return_index=True)[1]
        uniques = values.to_numpy()[np.flatnonzero(codes >= 0)[first]]
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = pa.array([text(u) for u in uniques], type=pa.string())
    return texts.take(pa.array(codes, mask=codes < 0))


def plain_integers(values: pd.Series) -> bool:
    """Whether a column is numpy integers that fit int64 (the fast path's; a nullable or
    unsigned column beyond it is formatted value by value)."""
    kind = values.dtype
    if not isinstance(kind, np.dtype) or kind.kind not in "iu":
        return False
    return kind.kind == "i" or kind.itemsize < 8 or len(values) == 0 \
        or int(values.max()) < 2**63


def texts(values: pd.Series, special: str, text: Callable[[object], str | None], *,
          longest: int | None = None) -> pa.Array:
    """A column of texts as they are, except those matching the regular expression
    ``special`` (RE2 syntax) or longer than ``longest`` characters, which ``text`` gives
    once per distinct one; null where missing. A column holding other values than texts is
    ``text`` of each distinct value.
    """
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers among the texts
        return by_value(values, text)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return by_value(values, text)
    arr = arr.cast(pa.string())
    odd = pc.fill_null(pc.match_substring_regex(arr, special), False)
    if longest is not None:
        odd = pc.or_(odd, pc.fill_null(pc.greater(pc.utf8_length(arr), longest), False))
    if not pc.any(odd).as_py():
        return arr
    some = pc.unique(arr.filter(odd))
    made = pa.array([text(u) for u in some.to_pylist()], type=pa.string())
    return pc.if_else(odd, made.take(pc.index_in(arr, value_set=some)), arr)


def _with(text: pa.Array, where: np.ndarray, others: list[str]) -> pa.Array:
    """``text`` with the rows ``where`` replaced by ``others`` (in order)."""
    if not others:
        return text
    return pc.replace_with_mask(text, pa.array(where), pa.array(others, type=pa.string()))
