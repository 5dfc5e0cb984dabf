"""The message catalogue speaks every language in every domain, and whole runs speak one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle import columns as col
from lifecircle._errors import ConfigError
from lifecircle.i18n import LANGS, domains, messages, untranslated


def test_the_outputs_have_catalogues():
    assert {"report", "map", "figures", "table", "cli"} <= set(domains())


@pytest.mark.parametrize("domain", domains())
def test_every_key_is_translated(domain):
    assert untranslated(domain) == {}


@pytest.mark.parametrize("domain", domains())
def test_placeholders_agree_between_languages(domain):
    import string

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    def walk(en, zh, path=""):
        for k, v in en.items():
            if isinstance(v, str):
                assert fields(v) == fields(zh[k]), f"{domain}.{path}{k}"
            elif isinstance(v, list):  # e.g. column headers: one per column in each language
                assert len(v) == len(zh[k]), f"{domain}.{path}{k}"
            else:
                walk(v, zh[k], f"{path}{k}.")

    walk(messages(domain, "en"), messages(domain, "zh"))


def test_an_unknown_language_is_a_clear_error():
    with pytest.raises(ConfigError, match="--lang must be one of en, zh"):
        messages("report", "fr")
    assert LANGS == ("en", "zh")


# -- whole runs: a zh run speaks Chinese, an en run English -----------------------------------

#: Latin words a Chinese report may show: proper names of data, standards and software
PROPER_NAMES = {"OpenStreetMap", "ODbL", "OSM", "lifecircle", "GB", "TD", "T", "US", "MUTCD"}
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def english_words(text: str) -> list[str]:
    """Latin words in ``text`` other than proper names, units, ids, code spans and files."""
    text = re.sub(r"`[^`]*`", " ", text)  # ids, tags, option and column names
    text = re.sub(r"[\w.-]+\.(?:png|csv|xlsx|json|md|gpkg|html|tif|toml)\b", " ", text)
    text = re.sub(r"(?<![A-Za-z])(?:km/h|m/min|m/s|ft/s|m²|km|m)(?![A-Za-z])", " ", text)
    words = re.findall(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9_'-]*", text)
    return [w for w in words if w not in PROPER_NAMES and not any(ch.isdigit() for ch in w)]


def chinese_outside(text: str, names: set[str]) -> list[str]:
    """Chinese characters in ``text`` once the given names (from the data) are removed."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return _CJK.findall(text)


def test_the_word_checks_catch_what_they_should():
    assert english_words("缺少：min15: health_centre、托育服务") == ["health_centre"]
    assert english_words("步行速度 4.8 km/h；`walk15`；b14；© OpenStreetMap 贡献者（ODbL）") == []
    assert english_words("来源：15-minute-city practice") == ["minute-city", "practice"]
    assert chinese_outside("a clinic named 卫生院 counts", {"卫生院"}) == []
    assert chinese_outside("Health care (医疗卫生)", set()) == list("医疗卫生")


def _profile_names(profile) -> set[str]:
    """Name fragments the profile matches facility names with (they are names, not prose)."""
    out = set()
    for c in profile.categories.values():
        out |= set(c.name_keywords)
        for rule in c.tags:
            out |= set(rule.name_contains) | set(rule.name_excludes)
    return out


def _gb_case(folder: Path):
    """The hand-computable grid with GB 50180-2018 facilities (one has a floor area)."""
    from tests.helpers import CRS, X0, Y0, make_grid_case

    case = make_grid_case(folder)
    rows = [("k1", "kindergarten", 150, 20, None), ("s1", "community_service_station", 150, 20,
                                                    120.0),
            ("h1", "health_station", 250, 90, None), ("c1", "convenience_store", 50, 190, None),
            # a 15-minute facility on the island, out of every block's reach: the 15-minute
            # tier is evaluated (categories with no facility at all are no data, in no tier)
            ("j1", "junior_middle_school", 1050, 1010, None)]
    fac = gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "category": [r[1] for r in rows],
         "name": ["幼儿园一", "社区服务站一", "卫生站一", "便利店一", "初中一"],
         "area_m2": [r[4] for r in rows]},
        geometry=[shapely.Point(X0 + r[2], Y0 + r[3]) for r in rows], crs=CRS)
    path = folder / "gb_facilities.gpkg"
    fac.to_file(path, engine="pyogrio")
    return case, path


@pytest.fixture(scope="module", params=["zh", "en"])
def runs(request, tmp_path_factory):
    """A run on the bundled data (walk15) and one on the GB fixture, in one language."""
    from lifecircle.pipeline import run

    lang = request.param
    folder = tmp_path_factory.mktemp(f"i18n-{lang}")
    options = {"lang": lang, "map": False, "rasters": False, "figures": False}
    default = run(out=folder / "default", **options)
    case, fac = _gb_case(folder / "grid")
    gb = run(case.graphml, profile="gb50180-2018", facilities=fac, blocks=case.blocks,
             out=folder / "gb", **options)
    return lang, [default, gb]


def _labels(node, key: str):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from _labels(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from _labels(v, key)


def test_reports_speak_one_language(runs):
    lang, results = runs
    for result in results:
        md = (result.out / "report.md").read_text(encoding="utf-8")
        report = json.loads((result.out / "report.json").read_text(encoding="utf-8"))
        names = _profile_names(result.profile) | set(result.facilities["name"].dropna())
        if lang == "zh":
            assert english_words(md) == [], result.profile.name
            assert all(english_words(x) == [] for x in _labels(report, "label_zh"))
            # deficiencies are named by their Chinese labels, tier by tier
            assert "缺项最多的街坊" in md
        else:
            assert chinese_outside(md, names) == [], result.profile.name
            assert all(chinese_outside(x, set()) == [] for x in _labels(report, "label_en"))
        # no category id reaches the reader outside code spans
        prose = re.sub(r"`[^`]*`", " ", md)
        for c in result.profile.categories:
            if "_" in c:
                assert c not in prose, c


def test_the_gb_report_words_the_plan(runs):
    lang, (_, gb) = runs
    md = (gb.out / "report.md").read_text(encoding="utf-8")
    if lang == "zh":
        assert "社区综合服务设施面积（每百户 m²）" in md
        assert "十五分钟生活圈：" in md and "五分钟生活圈：" in md  # deficiencies by tier
        assert "数据不完整的设施类别" in md and "社区卫生服务中心：数据中没有此类设施" in md
        assert "GB 50180-2018 配套设施附录" in md  # the † sources in Chinese
    else:
        assert "Community service floor area (m² per 100 households)" in md
        assert "Categories with incomplete data" in md
        assert "Community health service centre: no facility of this category in the data" in md


def test_tables_have_headers_in_the_run_language_and_the_layer_values(runs):
    from lifecircle.outputs.table import CSV_NAME, XLSX_NAME

    lang, results = runs
    t = messages("table", lang)
    for result in results:
        raw = (result.out / CSV_NAME).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Chinese headers
        csv = pd.read_csv(result.out / CSV_NAME, encoding="utf-8-sig",
                          dtype={t["block_id"]: str})
        sheets = pd.read_excel(result.out / XLSX_NAME, sheet_name=None,
                               dtype={t["block_id"]: str})
        blocks = gpd.read_file(result.out / "lifecircle.gpkg", layer="blocks")
        expected_sheets = [t["sheet_blocks"], t["sheet_categories"]]
        if result.profile.targets:
            expected_sheets.append(t["sheet_indicators"])
        assert list(sheets) == expected_sheets
        book = sheets[t["sheet_blocks"]]
        for frame in (csv, book):
            headers = " ".join(frame.columns)
            if lang == "zh":
                assert english_words(headers) == []
            else:
                assert chinese_outside(headers, set()) == []
            assert frame[t["block_id"]].tolist() == blocks["block_id"].tolist()
            # whole residents in both files: the layer's estimate rounded to the person
            assert frame[t["population"]].tolist() == np.rint(
                blocks["population"].to_numpy(dtype=float)).astype(int).tolist()
            assert frame[t["n_lacking"]].tolist() == blocks["n_lacking"].tolist()
            for c, cat in result.profile.categories.items():
                got = frame[t["minutes"].format(label=cat.label(lang))].to_numpy(dtype=float)
                want = blocks[col.walk_min(c)].to_numpy(dtype=float)
                assert got == pytest.approx(want, abs=0.005, nan_ok=True), c
        # the workbook keeps the unrounded minutes
        c0 = next(iter(result.profile.categories))
        got = book[t["minutes"].format(label=result.profile.categories[c0].label(lang))]
        assert got.to_numpy(dtype=float) == pytest.approx(
            blocks[col.walk_min(c0)].to_numpy(dtype=float), rel=1e-9, nan_ok=True)
        # the lacks column names the categories by label, in the layer's order
        sep = messages("report", lang)["list_sep"]
        labels = [sep.join(result.profile.categories[c].label(lang) for c in x.split(",") if c)
                  for x in blocks["lacks"].fillna("")]
        assert book[t["lacks"]].fillna("").tolist() == labels
        # on screen: people as whole numbers, minutes to one decimal; header row frozen
        import openpyxl

        ws = openpyxl.load_workbook(result.out / XLSX_NAME)[t["sheet_blocks"]]
        assert ws["B2"].number_format == "#,##0"
        n_cat = len(result.profile.categories)  # minutes follow id and people; NaN is blank
        minutes = [c for column in ws.iter_cols(min_col=3, max_col=2 + n_cat, min_row=2)
                   for c in column if c.value is not None]
        assert minutes and all(c.number_format == "0.0" for c in minutes)
        assert ws.freeze_panes == "B2"
        summary = sheets[t["sheet_categories"]]
        assert summary[t["category"]].tolist() == [
            c.label(lang) for c in result.profile.categories.values()]
        assert summary[t["facilities"]].tolist() == [
            result.report["summary"]["categories"][c]["facilities"]
            for c in result.profile.categories]


def test_a_no_data_status_is_explained_in_both_languages(runs):
    """The coverage contract's ``status``/``status_reason``: no shares shown, the reason in the
    report's language, and the category named as left out of the complete life circle."""
    import copy

    from lifecircle.outputs.report import render_markdown

    lang, (default, _) = runs
    report = copy.deepcopy(default.report)
    health = report["summary"]["categories"]["health"]
    health.update(status="no_data", status_reason="sparse", share_blocks_covered=None,
                  share_population_covered=None)
    md = render_markdown(report, lang=lang, profile=default.profile)
    label = default.profile.categories["health"].label(lang)
    row = next(line for line in md.splitlines() if line.startswith(f"| {label} "))
    cells = [c.strip() for c in row.split("|")]
    if lang == "zh":
        assert cells.count("无数据") == 2
        assert f"- 医疗卫生：数据中仅有 {health['facilities']} 处设施，相对街坊数量过少" in md
        # (the bundled data's childcare is no data of its own: both are listed)
        assert any("因数据不足未计入完整生活圈的类别：" in line and "医疗卫生" in line
                   for line in md.splitlines())
        assert english_words(md) == []
    else:
        assert cells.count("no data") == 2
        assert ("- Health care: too few facilities in the data for the blocks "
                f"({health['facilities']};") in md
        assert any("left out of the complete life circle for want of data: " in line
                   and "Health care" in line for line in md.splitlines())


def test_report_header_gives_the_thresholds_applied():
    """GB radii walked at their groups' speeds are not the 15-minute default: the header says
    which limits were applied, in both languages."""
    from lifecircle.outputs.report import _threshold_text

    cats = {"a": {"threshold_min": 16.6667}, "b": {"threshold_min": 18.5185}}
    meta = {"threshold_min": 15.0}
    en = _threshold_text(meta, {"categories": cats}, messages("report", "en"))
    zh = _threshold_text(meta, {"categories": cats}, messages("report", "zh"))
    assert en.startswith("15 min by default; 16.7–18.5 min")
    assert zh.startswith("15 分钟（默认值）；各类别实际采用 16.7–18.5 分钟")
    same = {"a": {"threshold_min": 15.0}}
    assert _threshold_text(meta, {"categories": same}, messages("report", "en")) == "15 min"
