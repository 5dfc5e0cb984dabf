"""The tables' text built column by column is what pandas and xlsxwriter write cell by cell:
``blocks.csv`` byte for byte as ``DataFrame.to_csv``, each sheet's XML byte for byte as
xlsxwriter's own ``write_number``/``write_string``/``write_boolean`` in ``constant_memory``
mode, on awkward values (texts to quote or escape, rounding ties, blanks, negatives)."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecircle.outputs import _row_text, table
from lifecircle.outputs._sheet import ColumnSheet
from lifecircle.outputs.table import CSV_NAME, XLSX_NAME, block_table, write_tables

AWKWARD = ["b1", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " lead", "trail ", "", "x&<y>",
           "_x0041_", "bell\x07", "中文、标签", "é", "emoji \U0001f600", "\t", "1,5", "-3",
           "\ufffe", "a_b", "a_x0041_b"]
FLOATS = [0.125, 0.375, 1.005, 2.675, 0.005, 0.015, 1e-9, 12.344999999999999, 12.345,
          -0.001, -3.14159, 0.0, -0.0, np.nan, 99999.995, 1e17, 123456789.125, 7.0,
          float("inf"), 4.999999999999999, 1 / 3]


def _frame(texts: list[str], floats: list[float], ints: list[int]) -> pd.DataFrame:
    n = min(len(texts), len(floats), len(ints))
    return pd.DataFrame({"id, \"quoted\"": texts[:n], "n": ints[:n], "minutes": floats[:n],
                         "label": [t.upper() for t in texts[:n]]})


def _pandas_csv(frame: pd.DataFrame, path: Path) -> bytes:
    frame.to_csv(path, index=False, encoding="utf-8-sig", float_format="%.2f")
    return path.read_bytes()


def test_fixed_two_decimals_is_python_percent_f():
    x = np.array(FLOATS + [k / 200 for k in range(-50, 2000)] + [k / 8 for k in range(400)])
    got = _row_text.fixed(x, 2).to_pylist()
    assert got == [None if v != v else f"{v:.2f}" for v in x.tolist()]


def test_csv_is_pandas_to_csv_byte_for_byte(tmp_path):
    n = len(AWKWARD)
    frame = _frame(AWKWARD, (FLOATS * 2)[:n], list(range(-5, n - 5)))
    table._write_csv(tmp_path / "new.csv", frame)
    assert (tmp_path / "new.csv").read_bytes() == _pandas_csv(frame, tmp_path / "old.csv")


def _any_values(n: int):
    """Hypothesis: texts, floats and integers for a frame of up to ``n`` rows."""
    return given(texts=st.lists(st.text(max_size=12), min_size=1, max_size=n),
                 floats=st.lists(st.floats(), min_size=n, max_size=n),
                 ints=st.lists(st.integers(-10**17, 10**17), min_size=n, max_size=n))


ANY = settings(max_examples=50, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


@ANY
@_any_values(30)
def test_csv_matches_pandas_on_any_values(tmp_path, texts, floats, ints):
    frame = _frame(texts, floats, ints)
    table._write_csv(tmp_path / "new.csv", frame)
    assert (tmp_path / "new.csv").read_bytes() == _pandas_csv(frame, tmp_path / "old.csv")


def _cell_by_cell(path: Path, frame: pd.DataFrame, formats: dict[int, str]) -> None:
    """The oracle: xlsxwriter writing each value by its type, as the tables once did."""
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = book.add_worksheet("S")
    for j in range(len(frame.columns)):
        ws.set_column(j, j, 10, book.add_format({"num_format": formats[j]}) if j in formats
                      else None)
    ws.write_row(0, 0, list(frame.columns), book.add_format({"bold": True}))
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        for j, v in enumerate(row):
            if isinstance(v, (bool, np.bool_)):
                ws.write_boolean(i, j, bool(v))
            elif isinstance(v, str):
                if v:
                    ws.write_string(i, j, table.XML_ILLEGAL.sub("\ufffd", v))
            elif v is not None and v is not pd.NA and math.isfinite(v):
                ws.write_number(i, j, v)
    book.close()


def _by_columns(path: Path, frame: pd.DataFrame, formats: dict[int, str]) -> None:
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = book.add_worksheet("S", ColumnSheet)
    for j in range(len(frame.columns)):
        ws.set_column(j, j, 10, book.add_format({"num_format": formats[j]}) if j in formats
                      else None)
    ws.write_row(0, 0, list(frame.columns), book.add_format({"bold": True}))
    ws.write_frame(frame, 1)
    book.close()


def _sheet_xml(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read("xl/worksheets/sheet1.xml")


def _same_sheet(tmp_path: Path, frame: pd.DataFrame) -> None:
    formats = {1: "#,##0", 2: "0.0"}
    _cell_by_cell(tmp_path / "old.xlsx", frame, formats)
    _by_columns(tmp_path / "new.xlsx", frame, formats)
    assert _sheet_xml(tmp_path / "new.xlsx") == _sheet_xml(tmp_path / "old.xlsx")


def test_sheet_xml_is_xlsxwriters_cell_by_cell(tmp_path):
    n = len(AWKWARD)
    frame = _frame(AWKWARD, (FLOATS * 2)[:n], [(-1) ** k * 7**k for k in range(n)])
    frame["flag"] = [k % 3 == 0 for k in range(n)]
    frame["long"] = ["x" * 40000 if k == 2 else "y" for k in range(n)]  # cut to 32,767
    _same_sheet(tmp_path, frame)


@ANY
@_any_values(25)
def test_sheet_xml_matches_xlsxwriter_on_any_values(tmp_path, texts, floats, ints):
    _same_sheet(tmp_path, _frame(texts, floats, ints))


def test_an_empty_frame_leaves_the_header_alone(tmp_path):
    _same_sheet(tmp_path, _frame([], [], []))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_both_files_read_back_as_the_block_table(tmp_path, lang):
    rng = np.random.default_rng(5)
    n = 400
    lacks = rng.choice(["", "shop", "care", "shop,care"], n)
    blocks = pd.DataFrame({
        "block_id": [f"b{k}" if k % 7 else f"b {k}, \"x\"" for k in range(n)],
        "population": rng.uniform(0, 2000, n),
        "walk_min_shop": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 40, n)),
        "walk_min_care": rng.uniform(0, 40, n).round(3),
        "lacks": lacks, "n_lacking": [len([c for c in x.split(",") if c]) for x in lacks],
        "complete": lacks == "",
    })
    cat = {"tier": "t15", "facilities": 3, "threshold_min": 15.0, "limit_m": None,
           "speed_kmh": 4.8, "blocks_covered": 2, "share_blocks_covered": 0.4,
           "population_covered": 10.0, "share_population_covered": 0.5,
           "median_walk_min": 9.5, "status": "ok"}
    summary = {"categories": {"shop": {**cat, "label_en": "Shop", "label_zh": "商业"},
                              "care": {**cat, "label_en": "Care", "label_zh": "养老"}},
               "tiers": {"t15": {"label_en": "15 min", "label_zh": "15分钟",
                                 "categories": ["shop", "care"]}}}
    result = type("R", (), {"blocks": blocks,
                            "report": {"summary": summary, "indicators": {}}})()
    write_tables(result, tmp_path, lang=lang)
    expect = block_table(blocks, summary, lang=lang)
    csv = pd.read_csv(tmp_path / CSV_NAME, encoding="utf-8-sig", keep_default_na=False,
                      na_values=[""], dtype={expect.columns[0]: str})
    assert list(csv.columns) == list(expect.columns)
    ws = openpyxl.load_workbook(tmp_path / XLSX_NAME).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(expect.columns)
    assert len(rows) == n + 1 and ws.freeze_panes == "B2"
    for j, name in enumerate(expect.columns):
        want, got_csv = expect[name].tolist(), csv[name].tolist()
        got_xlsx = [r[j] for r in rows[1:]]
        if expect[name].dtype.kind == "f":
            assert [None if w != w else round(w, 2) for w in want] == \
                [None if g != g else g for g in got_csv]
            assert [g is None for g in got_xlsx] == [w != w for w in want]
            assert all(math.isclose(g, w, rel_tol=1e-15) for g, w in zip(got_xlsx, want,
                                                                 strict=True)
                       if g is not None)  # the cell holds %.16G of the value
            assert ws.cell(2, j + 1).number_format == "0.0"
        else:
            assert [None if w == "" else w for w in want] == \
                [None if g != g or g == "" else g for g in got_csv]
            assert [None if w == "" else w for w in want] == got_xlsx


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": ["x", None, "y,z", np.nan], "b": [1.0, 2.0, np.nan, 3.0]}),
    pd.DataFrame({"a": pd.Series(["x", None, "q"], dtype="str"), "b": [True, False, True]}),
    pd.DataFrame({"a": ["x", 5, None], "b": [1, 2, 3]}),
    # equal keys to pandas' factorize, written differently
    pd.DataFrame({"a": [True, 1, 1.0, "x"], "b": [0.0, -0.0, False, 2]}),
    pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": ["p", "q", "r"]}),
    pd.DataFrame({"a": np.array([2**63 + 5, 1, 0], dtype=np.uint64), "b": [1, 2, 3]}),
], ids=["missing texts", "booleans", "numbers among texts", "equal keys", "nullable ints",
        "unsigned past int64"])
def test_missing_values_booleans_and_mixed_columns(tmp_path, frame):
    table._write_csv(tmp_path / "new.csv", frame)
    assert (tmp_path / "new.csv").read_bytes() == _pandas_csv(frame, tmp_path / "old.csv")
    _same_sheet(tmp_path, frame)


def test_texts_shaped_as_markup_or_formulas_read_back_literally(tmp_path):
    """A block id or label that looks like a rich string's markup or a formula is a text
    in the cell, read back as it was written."""
    odd = ["<r><t>x</t></r>", "=1+1", "<f>SUM(A1)</f>", "@cmd", "+1", "<c r=\"A1\"/>"]
    frame = pd.DataFrame({"block_id": odd, "n": list(range(len(odd)))})
    _by_columns(tmp_path / "odd.xlsx", frame, {})
    ws = openpyxl.load_workbook(tmp_path / "odd.xlsx").worksheets[0]
    cells = [ws.cell(i + 2, 1) for i in range(len(odd))]
    assert [c.value for c in cells] == odd
    assert {c.data_type for c in cells} == {"s"}
    table._write_csv(tmp_path / "odd.csv", frame)
    assert (tmp_path / "odd.csv").read_bytes() == _pandas_csv(frame, tmp_path / "old.csv")
