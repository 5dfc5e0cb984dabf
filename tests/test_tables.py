"""The planner's tables (blocks.csv, report.xlsx) on a hand-made result: whole people in both
files, and a block sheet bounded by its row budget that says where the full table is."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest

from lifecircle.outputs import table
from lifecircle.outputs.table import CSV_NAME, XLSX_NAME, write_tables


def _category(label: str, facilities: int) -> dict:
    return {"label_en": label, "label_zh": label, "tier": "t15", "facilities": facilities,
            "threshold_min": 15.0, "limit_m": None, "speed_kmh": 4.8, "blocks_covered": 2,
            "share_blocks_covered": 0.4, "population_covered": 10.0,
            "share_population_covered": 0.5, "median_walk_min": 9.5, "status": "ok"}


def _result() -> SimpleNamespace:
    blocks = pd.DataFrame({
        "block_id": ["a", "b", "c", "d", "e"],
        "population": [10.4, 1106.18, 7.5, 0.49, 300.0],
        "walk_min_shop": [3.0, np.nan, 20.0, 16.0, 1.25],
        "walk_min_care": [np.nan, np.nan, 4.0, 30.0, 2.0],
        "lacks": ["care", "shop,care", "shop", "shop,care", ""],
        "n_lacking": [1, 2, 1, 2, 0],
        "complete": [False, False, False, False, True],
    })
    summary = {"categories": {"shop": _category("Shop", 3), "care": _category("Care", 1)},
               "tiers": {"t15": {"label_en": "15 min", "categories": ["shop", "care"]}}}
    return SimpleNamespace(blocks=blocks, report={"summary": summary, "indicators": {}})


def test_people_are_whole_residents_in_both_files(tmp_path):
    write_tables(_result(), tmp_path)
    csv = pd.read_csv(tmp_path / CSV_NAME, encoding="utf-8-sig")
    book = pd.read_excel(tmp_path / XLSX_NAME, sheet_name="Blocks")
    # 10.4 -> 10, 1106.18 -> 1106, 7.5 -> 8 (half to even), 0.49 -> 0, 300 -> 300
    assert csv["Population (estimated)"].tolist() == [10, 1106, 8, 0, 300]
    assert book["Population (estimated)"].tolist() == [10, 1106, 8, 0, 300]
    # minutes: two decimals in the CSV, unrounded in the workbook, unreachable blank in both
    assert csv["Shop: walking time (min)"].tolist()[4] == 1.25
    assert np.isnan(book["Care: walking time (min)"][0])
    assert book["Lacks"].fillna("").tolist() == ["Care", "Shop, Care", "Shop", "Shop, Care", ""]
    assert list(pd.read_excel(tmp_path / XLSX_NAME, sheet_name=None)) == ["Blocks", "Categories"]


def test_block_sheet_keeps_the_blocks_lacking_most_within_its_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(table, "XLSX_MAX_BLOCK_ROWS", 3)
    write_tables(_result(), tmp_path)
    csv = pd.read_csv(tmp_path / CSV_NAME, encoding="utf-8-sig")
    assert csv["Block id"].tolist() == ["a", "b", "c", "d", "e"]  # the CSV: every block
    sheets = pd.read_excel(tmp_path / XLSX_NAME, sheet_name=None)
    assert list(sheets) == ["Blocks", "Categories", "About"]
    # most lacking first (b, d lack 2; b has more people), then a (10 people) before c (8)
    assert sheets["Blocks"]["Block id"].tolist() == ["b", "d", "a"]
    assert sheets["Blocks"]["Population (estimated)"].tolist() == [1106, 0, 10]
    note = openpyxl.load_workbook(tmp_path / XLSX_NAME)["About"]["A1"].value
    assert "3 blocks" in note and "of this run's 5" in note
    assert CSV_NAME in note and "lifecircle.gpkg" in note


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_budget_note_in_the_run_language(tmp_path, monkeypatch, lang):
    monkeypatch.setattr(table, "XLSX_MAX_BLOCK_ROWS", 2)
    write_tables(_result(), tmp_path, lang=lang)
    names = openpyxl.load_workbook(tmp_path / XLSX_NAME).sheetnames
    assert names[-1] == ("说明" if lang == "zh" else "About")
    book = openpyxl.load_workbook(tmp_path / XLSX_NAME)
    assert book[names[0]].max_row == 3  # header and two blocks
    assert book[names[0]]["B2"].number_format == "#,##0"
