"""The planner's tables: ``blocks.csv`` and ``report.xlsx``, in the run's language.

* ``blocks.csv``: one row per residential block: its id, population, walking minutes per
  category, how many categories it lacks, which (by their labels) and, with a tiered profile,
  its deficiencies tier by tier;
* ``report.xlsx``: the same block sheet, a per-category summary sheet (facilities, limits,
  coverage of blocks and residents, median walk, whether the data are complete) and, where the
  profile sets plan targets, an indicator sheet.

Headers and labels come from the message catalogue (``locales/table.toml``) and the profile;
values are the blocks layer's. People are whole residents in both files: the blocks layer's
estimate rounded to the nearest person (the layer and ``report.json`` keep the unrounded
estimate, so a column sum may differ from the report's total by a few people). Minutes are
written to two decimals in the CSV and unrounded in the workbook (shown to one decimal).

The workbook's block sheet holds at most :data:`XLSX_MAX_BLOCK_ROWS` blocks: beyond that (a
whole city) it lists the blocks lacking most (most categories lacking, then most people,
first) and a further sheet says how many there are and that every block is in ``blocks.csv``
and in the GeoPackage's ``blocks`` layer: a planner does not scroll through 300,000 rows (and
each row still costs the workbook's compression).

Both files are built a column at a time (:mod:`._row_text`, :mod:`._sheet`), not a cell at a
time: the same bytes as pandas' ``to_csv`` and xlsxwriter's cells (the tests compare them), in
a fifth of the time (4.9 s of CPU against 1.0 s for a 268k-node city's 76,381 blocks).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import columns as col
from .._errors import OutputError
from ..coverage import deficiency_order
from ..i18n import check_lang, display_width, label_of, messages
from ._row_text import fixed, integers, join_rows, plain_integers, texts
from ._sheet import XML_ILLEGAL, ColumnSheet
from .report import category_status, localised_lacks

__all__ = [
    "CSV_NAME",
    "XLSX_MAX_BLOCK_ROWS",
    "XLSX_NAME",
    "block_table",
    "category_table",
    "indicator_table",
    "table_names",
    "write_tables",
]

CSV_NAME = "blocks.csv"
XLSX_NAME = "report.xlsx"
#: Most blocks the workbook's block sheet lists (every block is in ``blocks.csv``).
XLSX_MAX_BLOCK_ROWS = 50_000



def block_table(blocks: pd.DataFrame, summary: Mapping[str, Any], *, lang: str = "en"
                ) -> pd.DataFrame:
    """One row per block with headers in ``lang`` (the blocks layer's order and values).

    Parameters
    ----------
    blocks
        The blocks layer (``block_id``, ``population``, ``walk_min_<c>``, ``lacks``,
        ``n_lacking``, ``complete``).
    summary
        ``Result.report["summary"]`` (category and tier labels).
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    pandas.DataFrame
        People as whole residents (``int64``, the layer's estimate rounded), minutes as the
        layer's (NaN where unreachable), the lacking categories by their labels.
    """
    t = messages("table", check_lang(lang, option="lang"))
    cats = summary["categories"]
    people = np.rint(blocks["population"].to_numpy(dtype=float, na_value=0.0))
    out: dict[str, Any] = {
        t["block_id"]: blocks["block_id"].astype(str).to_numpy(),
        t["population"]: people.astype(np.int64),
    }
    for c, v in cats.items():
        if col.walk_min(c) in blocks.columns:
            out[t["minutes"].format(label=label_of(v, lang))] = blocks[col.walk_min(c)].to_numpy(
                dtype=float, na_value=np.nan)
    out[t["n_lacking"]] = blocks["n_lacking"].to_numpy(dtype=np.int64)
    # a city has a few distinct lists of lacking categories: label each once
    codes, lists = pd.factorize(blocks["lacks"].fillna("").astype(str))
    out[t["lacks"]] = np.array([_lacks(x, summary, lang) for x in lists], dtype=object)[codes]
    if len(summary.get("tiers") or {}) > 1:
        out[t["deficiencies"]] = np.array(
            [localised_lacks(x, summary, lang) for x in lists], dtype=object)[codes]
    out[t["complete"]] = np.where(blocks["complete"].to_numpy(dtype=bool), t["yes"], t["no"]
                                  ).astype(object)
    return pd.DataFrame(out)


def _lacks(lacks: str, summary: Mapping[str, Any], lang: str) -> str:
    """The block's missing categories by their labels (all tiers together)."""
    sep = messages("report", lang)["list_sep"]
    cats = summary["categories"]
    return sep.join(label_of(cats[c], lang) if c in cats else c for c in lacks.split(",") if c)


def category_table(summary: Mapping[str, Any], *, lang: str = "en") -> pd.DataFrame:
    """One row per category: facilities, limits, coverage and data status, headers in ``lang``."""
    t = messages("table", check_lang(lang, option="lang"))
    reasons = messages("report", lang)["no_data_reasons"]
    tiers = summary.get("tiers") or {}
    rows = []
    for v in summary["categories"].values():
        why = category_status(v)
        known = why is None

        def pct(x: float | None, *, known: bool = known) -> float | None:
            return None if x is None or not known else round(100.0 * x, 1)

        tier = v.get("tier")
        rows.append({
            t["category"]: label_of(v, lang),
            t["tier"]: label_of(tiers[tier], lang) if tier in tiers else "",
            t["facilities"]: int(v.get("facilities") or 0),
            t["threshold"]: round(float(v["threshold_min"]), 1),
            t["limit_m"]: v.get("limit_m"),
            t["speed"]: v["speed_kmh"],
            t["blocks_covered"]: v["blocks_covered"] if known else None,
            t["share_blocks"]: pct(v.get("share_blocks_covered")),
            t["population_covered"]: v["population_covered"] if known else None,
            t["share_population"]: pct(v.get("share_population_covered")),
            t["median"]: v.get("median_walk_min"),
            t["data"]: t["ok"] if known else reasons.get(why, reasons["other"]).format(
                n=v.get("facilities") or 0),
        })
    return pd.DataFrame(rows)


def indicator_table(report: Mapping[str, Any], *, lang: str = "en") -> pd.DataFrame | None:
    """The plan indicators against their targets, or ``None`` when the profile sets none."""
    t = messages("table", check_lang(lang, option="lang"))
    targets = (report.get("indicators") or {}).get("targets") or []
    if not targets:
        return None
    rows = []
    for v in targets:
        floor = v["kind"] == "floor_area_per_100_households"
        value, goal = v.get("value"), v["target_value"]
        if not floor:
            value = None if value is None else round(100.0 * value, 1)
            goal = round(100.0 * goal, 1)
        meets = v.get("meets")
        rows.append({
            t["indicator"]: label_of(v, lang),
            t["value"]: value,
            t["target"]: goal,
            t["unit"]: t["floor_unit"] if floor else t["share_unit"],
            t["status"]: t["unknown"] if meets is None else t["met"] if meets else t["not_met"],
        })
    return pd.DataFrame(rows)


def table_names() -> list[str]:
    """Files the table writer adds to an output folder."""
    return [CSV_NAME, XLSX_NAME]


def write_tables(result: Any, folder: str | os.PathLike[str], *, lang: str = "en") -> list[Path]:
    """Write ``blocks.csv`` and ``report.xlsx`` of a run into ``folder``.

    Parameters
    ----------
    result
        A :class:`lifecircle.pipeline.Result` (``blocks``, ``report``).
    folder
        The output (staging) folder.
    lang
        ``"en"`` or ``"zh"``: headers, sheet names and labels.
    """
    base = Path(folder)
    summary = result.report["summary"]
    blocks = block_table(result.blocks, summary, lang=lang)
    csv_file, xlsx = base / CSV_NAME, base / XLSX_NAME
    try:
        # UTF-8 with a byte-order mark: Excel reads a CSV without one in the system's legacy
        # code page (GBK on Chinese Windows), which garbles Chinese headers and labels.
        _write_csv(csv_file, blocks)
        _write_xlsx(xlsx, _workbook_rows(blocks, result.blocks), category_table(summary, lang=lang),
                    indicator_table(result.report, lang=lang), lang, total=len(blocks))
    except OSError as exc:
        raise OutputError(f"{exc.filename or base}: cannot write the table "
                          f"({exc.strerror or exc})") from exc
    return [csv_file, xlsx]


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as pandas' ``to_csv(index=False, encoding="utf-8-sig", float_format="%.2f")``
    writes it, byte for byte, built column by column (:mod:`._row_text`: pandas formats and
    quotes each cell in Python, 2 s for a city's 300,000 blocks): UTF-8 with a byte-order
    mark, the platform's line ends, numbers to two decimals, nothing for a missing value, a
    text quoted where Python's ``csv`` module quotes it (it quotes each text that may need it).
    """
    eol = os.linesep
    columns = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values.dtype):
            columns.append(texts(values.astype(object), "", _csv_field))
        elif plain_integers(values):
            columns.append(integers(values.to_numpy(dtype=np.int64)))
        elif pd.api.types.is_float_dtype(values.dtype):
            columns.append(fixed(values.to_numpy(dtype=float, na_value=np.nan), 2))
        else:
            columns.append(texts(values, '[,"\\r\\n]', _csv_field))
    header = ",".join(_csv_field(str(c)) for c in frame.columns) + eol
    body = join_rows(columns, sep=",", end=eol) if len(frame) else b""
    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8 + header.encode("utf-8") + body)


def _csv_field(value: object) -> str:
    """One value as Python's ``csv`` module writes it (pandas' writer), quoted if need be."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator=os.linesep).writerow([value, ""])
    return buf.getvalue()[:-1 - len(os.linesep)]


def _workbook_rows(table: pd.DataFrame, blocks: pd.DataFrame) -> pd.DataFrame:
    """The block sheet's rows: every block up to :data:`XLSX_MAX_BLOCK_ROWS`, else that many
    lacking most (most categories lacking, most people, then block id: the order of the
    report's deficiency list)."""
    if len(table) <= XLSX_MAX_BLOCK_ROWS:
        return table
    return table.iloc[deficiency_order(blocks)[:XLSX_MAX_BLOCK_ROWS]].reset_index(drop=True)


def _write_xlsx(path: Path, blocks: pd.DataFrame, categories: pd.DataFrame,
                indicators: pd.DataFrame | None, lang: str, *, total: int) -> None:
    import xlsxwriter

    t = messages("table", lang)
    n_minutes = sum(1 for c in blocks.columns[2:] if pd.api.types.is_float_dtype(blocks[c]))
    sheets = [(t["sheet_blocks"], blocks), (t["sheet_categories"], categories)]
    if indicators is not None:
        sheets.append((t["sheet_indicators"], indicators))
    # xlsxwriter, not pandas' to_excel (which formats every cell through several layers), in
    # constant_memory mode (rows streamed to disk, cells as inline strings), the data rows of
    # each sheet written column by column (._sheet.ColumnSheet: the same XML as xlsxwriter's
    # own cell by cell, a fifth of the time)
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_urls": False,
                                      "strings_to_formulas": False,
                                      "strings_to_numbers": False})
    try:
        for name, frame in sheets:
            formats = {}
            if frame is blocks:  # people as whole numbers, minutes to one decimal (on screen)
                formats = {2: "#,##0", **{j: "0.0" for j in range(3, 3 + n_minutes)}}
            _write_sheet(book, name, _header(frame), formats)
        if len(blocks) < total:
            note = book.add_worksheet(t["sheet_about"])
            note.set_column(0, 0, 100)
            note.write_string(0, 0, t["rows_limited"].format(
                sheet=t["sheet_blocks"], n=f"{len(blocks):,}", total=f"{total:,}",
                csv=CSV_NAME, gpkg="lifecircle.gpkg"))
    finally:
        book.close()


def _header(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with control characters in its column names as U+FFFD (Excel refuses them;
    :class:`._sheet.ColumnSheet` does the same for the cells)."""
    return frame.rename(columns=lambda c: XML_ILLEGAL.sub("\ufffd", str(c)))


def _write_sheet(book: Any, name: str, frame: pd.DataFrame,
                 formats: Mapping[int, str]) -> None:
    """One sheet: bold frozen header, a filter, readable widths and the given number formats
    (by 1-based column), then the rows (written column by column, :mod:`._sheet`)."""
    ws = book.add_worksheet(name, ColumnSheet)
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, len(frame), max(len(frame.columns) - 1, 0))
    for j, label in enumerate(frame.columns):
        longest = max([display_width(str(label)) // 2 + 2,
                       *(display_width(_shown(x)) + 2 for x in frame[label].head(200))])
        number = book.add_format({"num_format": formats[j + 1]}) if j + 1 in formats else None
        ws.set_column(j, j, min(max(longest, 8), 60), number)
    ws.write_row(0, 0, [str(c) for c in frame.columns], header)
    ws.write_frame(frame, 1)


def _shown(value: Any) -> str:
    """A cell's text as the column width measures it (control characters as U+FFFD)."""
    return XML_ILLEGAL.sub("\ufffd", value) if isinstance(value, str) else str(value)
