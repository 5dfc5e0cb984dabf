"""The planner's tables: ``blocks.csv`` and ``report.xlsx``, in the run's language.

* ``blocks.csv``: one row per residential block: its id, population, walking minutes per
  category, how many categories it lacks, which (by their labels) and, with a tiered profile,
  its deficiencies tier by tier;
* ``report.xlsx``: the same block sheet, a per-category summary sheet (facilities, limits,
  coverage of blocks and residents, median walk, whether the data are complete) and, where the
  profile sets plan targets, an indicator sheet.

Headers and labels come from the message catalogue (``locales/table.toml``) and the profile;
values are the blocks layer's (minutes unrounded in the workbook, shown to one decimal).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import columns as col
from .._errors import OutputError
from ..i18n import check_lang, display_width, label_of, messages
from .report import category_status, localised_lacks

__all__ = [
    "CSV_NAME",
    "XLSX_NAME",
    "block_table",
    "category_table",
    "indicator_table",
    "table_names",
    "write_tables",
]

CSV_NAME = "blocks.csv"
XLSX_NAME = "report.xlsx"



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
    """
    t = messages("table", check_lang(lang, option="lang"))
    cats = summary["categories"]
    out: dict[str, Any] = {
        t["block_id"]: blocks["block_id"].astype(str).to_numpy(),
        t["population"]: blocks["population"].to_numpy(dtype=float),
    }
    for c, v in cats.items():
        if col.walk_min(c) in blocks.columns:
            out[t["minutes"].format(label=label_of(v, lang))] = blocks[col.walk_min(c)].to_numpy(
                dtype=float, na_value=np.nan)
    out[t["n_lacking"]] = blocks["n_lacking"].to_numpy(dtype=np.int64)
    lacks = blocks["lacks"].fillna("").astype(str)
    out[t["lacks"]] = [_lacks(x, summary, lang) for x in lacks]
    if len(summary.get("tiers") or {}) > 1:
        out[t["deficiencies"]] = [localised_lacks(x, summary, lang) for x in lacks]
    out[t["complete"]] = [t["yes"] if x else t["no"] for x in blocks["complete"].astype(bool)]
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
    csv, xlsx = base / CSV_NAME, base / XLSX_NAME
    try:
        # UTF-8 with a byte-order mark: Excel reads a CSV without one in the system's legacy
        # code page (GBK on Chinese Windows), which garbles Chinese headers and labels.
        blocks.to_csv(csv, index=False, encoding="utf-8-sig", float_format="%.2f")
        _write_xlsx(xlsx, blocks, category_table(summary, lang=lang),
                    indicator_table(result.report, lang=lang), lang)
    except OSError as exc:
        raise OutputError(f"{exc.filename or base}: cannot write the table "
                          f"({exc.strerror or exc})") from exc
    return [csv, xlsx]


def _write_xlsx(path: Path, blocks: pd.DataFrame, categories: pd.DataFrame,
                indicators: pd.DataFrame | None, lang: str) -> None:
    t = messages("table", lang)
    n_minutes = sum(1 for c in blocks.columns[2:] if pd.api.types.is_float_dtype(blocks[c]))
    sheets = [(t["sheet_blocks"], blocks), (t["sheet_categories"], categories)]
    if indicators is not None:
        sheets.append((t["sheet_indicators"], indicators))
    # xlsxwriter, not openpyxl: a column's number format applies to every cell of it, where
    # openpyxl styles cell by cell and builds a cell object each (31 s of a 268k-node run's
    # outputs went into openpyxl for 91,000 blocks).
    with pd.ExcelWriter(path, engine="xlsxwriter",
                        engine_kwargs={"options": {"strings_to_urls": False,
                                                   "strings_to_formulas": False}}) as writer:
        for name, frame in sheets:
            safe = _excel_safe(frame)
            safe.to_excel(writer, sheet_name=name, index=False)
            formats = {}
            if frame is blocks:  # people as whole numbers, minutes to one decimal (on screen)
                formats = {2: "#,##0", **{j: "0.0" for j in range(3, 3 + n_minutes)}}
            _format_sheet(writer.book, writer.sheets[name], safe, formats)


def _excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Control characters (a BEL in a label or block id) as U+FFFD: Excel refuses them."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    out = frame.rename(columns=lambda c: ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(c)))
    for c in out.columns[[not pd.api.types.is_numeric_dtype(t) for t in out.dtypes]]:
        out[c] = out[c].map(lambda v: ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
                            if isinstance(v, str) else v)
    return out


def _format_sheet(book: Any, ws: Any, frame: pd.DataFrame, formats: Mapping[int, str]) -> None:
    """Bold frozen header, a filter, readable widths and the given number formats (by 1-based
    column)."""
    header = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    ws.freeze_panes(1, 1)
    ws.autofilter(0, 0, len(frame), max(len(frame.columns) - 1, 0))
    for j, name in enumerate(frame.columns):
        ws.write(0, j, str(name), header)
        longest = max([display_width(str(name)) // 2 + 2,
                       *(display_width(str(x)) + 2 for x in frame[name].head(200))])
        number = book.add_format({"num_format": formats[j + 1]}) if j + 1 in formats else None
        ws.set_column(j, j, min(max(longest, 8), 60), number)
