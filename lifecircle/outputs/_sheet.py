"""A workbook sheet whose data rows are written column by column, not cell by cell.

xlsxwriter writes a cell in about 5 µs of Python (checks, a cell object, then its markup);
the block sheet's 50,000 rows of a dozen cells took most of the tables' time. This
worksheet (an xlsxwriter worksheet: the workbook, header, widths, formats, filter and panes
stay xlsxwriter's) takes the rows as a frame and writes their ``<row>`` and ``<c>`` markup
when the workbook is closed, built a column at a time by :mod:`._row_text`, in xlsxwriter's
``constant_memory`` form: the same elements and attributes it writes for
``write_number``/``write_string``/``write_boolean`` (inline strings, numbers as ``%.16G``,
a column's format as the cell's style, no cell for a missing value or an empty text).

It reaches into xlsxwriter's internals, so ``pyproject.toml`` pins its minor release
(3.3.x) and the tests compare each sheet's XML with xlsxwriter's own cell-by-cell writing:
the ``constant_memory`` row file (``row_data_fh``) and the method copying it into the sheet
(``_write_optimized_sheet_data``, overridden), ``_check_dimensions``, ``previous_row``,
``constant_memory``, ``xls_strmax``, the column formats (``col_info[j].column_format``,
``Format._get_xf_index``), the text escaping (``_escape_data``,
``_escape_control_characters``, ``utility._preserve_whitespace``, ``_utf16_len``,
``_utf16_truncate``), and the cell markup itself. A release that moves any of them fails
those tests (or this module's import) rather than writing a different workbook unseen.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from xlsxwriter.utility import (  # the last three: what xlsxwriter's string writing does
    _preserve_whitespace,
    _utf16_len,
    _utf16_truncate,
    xl_col_to_name,
)
from xlsxwriter.worksheet import Worksheet

from ._row_text import by_value, integers, join_rows, plain_integers, row_numbers, texts

__all__ = ["XML_ILLEGAL", "ColumnSheet"]

#: the control characters XML 1.0 (so a spreadsheet's cells) cannot hold, written as U+FFFD
#: (Excel refuses them); written out here rather than imported from openpyxl, whose import
#: cost a tables worker a tenth of a second
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

#: texts that cannot go into a cell's markup as they are: markup characters, ``_x`` (a
#: text like an ``_xHHHH_`` escape is itself escaped), control and non-characters, and any text not
#: beginning and ending with an ASCII letter or digit (leading or trailing white space is
#: marked to be kept); a superset, the exact rules being xlsxwriter's own (as is the longest
#: text a cell holds: longer ones are cut, :meth:`ColumnSheet._other`)
_SPECIAL = "[&<>\\x00-\\x1f\\x{fffe}\\x{ffff}]|_x|^[^0-9A-Za-z]|[^0-9A-Za-z]$"


class ColumnSheet(Worksheet):
    """An xlsxwriter worksheet (``Workbook.add_worksheet(name, ColumnSheet)``) whose data rows
    come from :meth:`write_frame`; the workbook must be in ``constant_memory`` mode."""

    _frame: pd.DataFrame | None = None

    def write_frame(self, frame: pd.DataFrame, first_row: int) -> None:
        """Write ``frame``'s rows from ``first_row`` (0-based) on, its columns from the first
        column: numbers as numbers, texts as texts, booleans as booleans, nothing where a
        value is missing or an empty text. Call after the rows above (a header) are written
        and before the workbook is closed, and write no cell at or below ``first_row``
        after it (the frame's rows are added when the workbook closes); cells take their
        column's format."""
        if not self.constant_memory:
            raise ValueError("ColumnSheet needs the workbook's constant_memory mode")
        if len(frame) and len(frame.columns):
            self._frame, self._first = frame, first_row
            # the sheet's extent, as xlsxwriter's writes would have set it
            self._check_dimensions(first_row + len(frame) - 1, len(frame.columns) - 1)

    def _write_optimized_sheet_data(self) -> None:
        # at the workbook's close, when the formats have their style numbers: the rows after
        # those xlsxwriter wrote to its row file, then xlsxwriter copies the file as usual
        if self._frame is not None:
            if self.previous_row >= self._first:  # a cell written after write_frame's rows
                raise ValueError("ColumnSheet: cells were written at or below the frame's "
                                 "first row; write them before write_frame's rows only")
            self.row_data_fh.seek(0, 2)
            self.row_data_fh.write(self._rows_markup().decode("utf-8"))
            self._frame = None
        super()._write_optimized_sheet_data()

    def _rows_markup(self) -> bytes:
        frame = self._frame
        assert frame is not None
        rows = row_numbers(len(frame), first=self._first + 1)
        pieces: list[pa.Array | str] = ['<row r="', rows, '">']
        for j, name in enumerate(frame.columns):
            info = self.col_info.get(j)
            style = info.column_format if info is not None else None
            s = f' s="{style._get_xf_index()}"' if style is not None else ""
            rest = self._cell_rest(frame[name], s)
            pieces.append(pc.binary_join_element_wise(
                f'<c r="{xl_col_to_name(j)}', rows, rest, "", null_handling="emit_null"))
        pieces.append("</row>")
        return join_rows(pieces)

    def _cell_rest(self, values: pd.Series, s: str) -> pa.Array:
        """Each cell's markup after its reference (``"`` closing it), null for no cell."""
        kind = values.dtype
        if pd.api.types.is_bool_dtype(kind):
            return by_value(values, lambda v: self._other(v, s))
        if plain_integers(values):
            number = integers(values.to_numpy(dtype=np.int64), lambda v: f"{v:.16G}")
        elif pd.api.types.is_float_dtype(kind):
            x = values.to_numpy(dtype=float, na_value=np.nan)
            keep = np.isfinite(x)  # xlsxwriter refuses NaN and infinities: no cell
            # Python's %.16G for each value (xlsxwriter's text for a number)
            number = pa.array(list(map("{:.16G}".format, x[keep].tolist())), pa.string())
            number = pc.replace_with_mask(pa.nulls(len(x), pa.string()), pa.array(keep), number)
        else:
            plain = texts(values, _SPECIAL, lambda v: self._other(v, s),
                          longest=self.xls_strmax // 2)
            plain = pc.if_else(pc.fill_null(pc.equal(plain, ""), False),
                               pa.scalar(None, pa.string()), plain)
            # a text as it is cannot begin with a quote; one _other made is a cell's markup
            made = pc.starts_with(plain, '"')
            return pc.if_else(made, plain, pc.binary_join_element_wise(
                f'"{s} t="inlineStr"><is><t>', plain, "</t></is></c>", ""))
        return pc.binary_join_element_wise(f'"{s}><v>', number, "</v></c>", "",
                                           null_handling="emit_null")

    def _other(self, value: Any, s: str) -> str | None:
        """A cell's markup after its reference for one value xlsxwriter's way (``None``:
        no cell)."""
        if value is None or (isinstance(value, float) and value != value) or value == "":
            return None
        if isinstance(value, (bool, np.bool_)):
            return f'"{s} t="b"><v>{int(value)}</v></c>'
        if isinstance(value, (int, float, np.integer, np.floating)):
            return f'"{s}><v>{float(value):.16G}</v></c>'
        text = XML_ILLEGAL.sub("\ufffd", str(value))
        if len(text) > self.xls_strmax // 2 and _utf16_len(text) > self.xls_strmax:
            text = _utf16_truncate(text, self.xls_strmax)  # as xlsxwriter's write_string
        text = self._escape_control_characters(text)
        keep = ' xml:space="preserve"' if _keeps_space(text) else ""
        return f'"{s} t="inlineStr"><is><t{keep}>{self._escape_data(text)}</t></is></c>'


def _keeps_space(text: str) -> bool:
    """Whether the text begins or ends with white space (xlsxwriter then marks it kept)."""
    return _preserve_whitespace(text) is not None
