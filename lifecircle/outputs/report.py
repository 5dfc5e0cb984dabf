"""``report.json`` and ``report.md``: coverage by category and tier, population-weighted,
deficiency lists and plan indicators against targets, in en or zh.

Unverified figures (a profile entry with ``verified = false``) carry a dagger and a footnote
with their source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._atomic import write_json_atomic

__all__ = ["render_markdown", "write_reports"]

_T: dict[str, dict[str, Any]] = {
    "en": {
        "title": "lifecircle report",
        "profile": "Profile",
        "speed": "Walking speed",
        "threshold": "Threshold",
        "blocks": "Residential blocks",
        "population": "Population (estimated)",
        "coverage": "Coverage by category",
        "category": "Category",
        "facilities": "Facilities",
        "covered_blocks": "Blocks covered",
        "covered_pop": "Population covered",
        "median": "Median walk",
        "speed_used": "Speed used",
        "complete": "Complete life circle (every category covered)",
        "share_pop": "share of population",
        "share_blocks": "share of blocks",
        "worst": "Blocks lacking the most categories",
        "block": "Block",
        "lacks": "Lacks",
        "unverified": "unverified figure (source: {src})",
        "none": "no facility found",
        "no_data": "{c}: no data in the source — not a finding ({why}); left out of the "
        "complete life circle",
        "min": "min",
        "credit": "Street network and facilities © OpenStreetMap contributors (ODbL).",
        "notes": "Notes",
        "tier": "Tier",
        "tiers": "Compliance by tier (tiers do not substitute for each other)",
        "limit": "Limit",
        "requirements": "Requirements (speed used)",
        "met_blocks": "Blocks meeting the tier",
        "met_pop": "Population meeting the tier",
        "indicators": "Plan indicators (14th Five-Year Plan targets)",
        "indicator": "Indicator",
        "figure": "Figure",
        "target": "Target",
        "status": "Status",
        "met": "met",
        "not_met": "not met",
        "unknown": "cannot be computed",
        "lower_bound": "lower bound: floor area unknown for {n} of {m} facilities",
        "per_block": "blocks meeting it within {min:g} min at {speed:g} km/h: {share}",
        "keyword": "{n} facilities were recognised by their name only (no matching OSM tag)",
        "type_unmatched": "{n} of {m} rows of the facility table match no type prefix "
        "(e.g. {ex}) and were left out",
        "deficiencies": "Deficiencies",
        "reasons": {
            "not_evaluated": "its categories were not evaluated (--category)",
            "no_facility": "no facility of its categories found",
            "area_unknown": "floor area unknown for every facility; give an area_m2 column "
            "or OSM buildings with building:levels",
        },
        "speeds_note": "Each category is judged at its group's speed (see the tier table); "
        "floor-area catchments use the {g} speed ({v:g} km/h).",
        "unverified_speed": "walking speed of {g} ({v:g} km/h) unverified (source: {src})",
    },
    "zh": {
        "title": "lifecircle 生活圈评估报告",
        "profile": "标准配置",
        "speed": "步行速度",
        "threshold": "时间阈值",
        "blocks": "居住街坊",
        "population": "人口（估算）",
        "coverage": "分类覆盖情况",
        "category": "设施类别",
        "facilities": "设施数",
        "covered_blocks": "覆盖街坊",
        "covered_pop": "覆盖人口",
        "median": "步行时间中位数",
        "speed_used": "采用速度",
        "complete": "完整生活圈（全部类别均覆盖）",
        "share_pop": "人口占比",
        "share_blocks": "街坊占比",
        "worst": "缺项最多的街坊",
        "block": "街坊",
        "lacks": "缺少",
        "unverified": "未核实数据（来源：{src}）",
        "none": "未发现设施",
        "no_data": "{c}：数据源中无数据——并非评估结论（{why}）；未计入完整生活圈",
        "min": "分钟",
        "credit": "路网与设施数据 © OpenStreetMap 贡献者（ODbL 许可）。",
        "notes": "说明",
        "tier": "层级",
        "tiers": "分层级达标情况（各层级不可相互替代）",
        "limit": "限值",
        "requirements": "配置要求（采用速度）",
        "met_blocks": "达标街坊",
        "met_pop": "达标人口",
        "indicators": "规划指标（“十四五”规划目标）",
        "indicator": "指标",
        "figure": "现状值",
        "target": "目标值",
        "status": "评价",
        "met": "达标",
        "not_met": "未达标",
        "unknown": "无法计算",
        "lower_bound": "下限值：{m} 处设施中有 {n} 处面积未知",
        "per_block": "按 {speed:g} km/h 步行 {min:g} 分钟范围内达标的街坊：{share}",
        "keyword": "{n} 处设施仅按名称识别（无对应 OSM 标签）",
        "type_unmatched": "设施表中 {m} 行有 {n} 行未匹配任何类型前缀（如 {ex}），已剔除",
        "deficiencies": "缺项（按层级）",
        "reasons": {
            "not_evaluated": "相关类别未参与评估（--category）",
            "no_facility": "未发现相关类别的设施",
            "area_unknown": "全部设施面积未知；请提供 area_m2 列或带 building:levels 的 OSM 建筑",
        },
        "speeds_note": "各类设施按其人群步行速度评估（见分层级表）；"
        "设施面积服务范围按{g}速度（{v:g} km/h）计算。",
        "unverified_speed": "{g}步行速度 {v:g} km/h 未核实（来源：{src}）",
    },
}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def render_markdown(
    report: dict[str, Any],
    *,
    lang: str = "en",
    worst: list[dict[str, Any]] | None = None,
    extra_sections: list[str] | None = None,
) -> str:
    """The human-readable report as Markdown."""
    t = _T["zh" if lang == "zh" else "en"]
    s = report["summary"]
    meta = report["run"]
    lines = [
        f"# {t['title']}",
        "",
        f"- {t['profile']}: `{meta['profile']}` ({meta.get('profile_version', '')})",
        f"- {t['speed']}: {meta['walk_speed_kmh']:g} km/h",
        f"- {t['threshold']}: {meta['threshold_min']:g} {t['min']}",
        f"- {t['blocks']}: {s['blocks']}",
        f"- {t['population']}: {s['population']:,.0f}",
        "",
        f"## {t['coverage']}",
        "",
        f"| {t['category']} | {t['tier']} | {t['facilities']} | {t['threshold']} | "
        f"{t['speed_used']} | {t['covered_blocks']} | {t['covered_pop']} | {t['median']} |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for _c, v in s["categories"].items():
        label = v["label_zh"] if lang == "zh" and v["label_zh"] else v["label_en"]
        mark = _dagger(v, label, t, notes)
        if v.get("status", "ok") == "no_data":
            notes.append(t["no_data"].format(c=label, why=v.get("status_detail") or "–"))
        median = "–" if v["median_walk_min"] is None else f"{v['median_walk_min']:.1f} {t['min']}"
        fac = str(v["facilities"]) if v["facilities"] else f"0 ({t['none']})"
        tier = v.get("tier", "")
        limit = f" ({v['limit_m']:g} m)" if v.get("limit_m") else ""
        lines.append(
            f"| {label}{mark} | {tier} | {fac} | {v['threshold_min']:.1f} {t['min']}{limit} | "
            f"{v['speed_kmh']:g} km/h | {v['blocks_covered']} / {v['blocks']} "
            f"({_pct(v['share_blocks_covered'])}) | {v['population_covered']:,.0f} "
            f"({_pct(v['share_population_covered'])}) | {median} |"
        )
    lines += _tier_section(report, t, lang, notes)
    lines += _indicator_section(report, t, lang, notes)
    comp = s["complete_life_circle"]
    lines += [
        "",
        f"## {t['complete']}",
        "",
        f"- {t['share_blocks']}: {comp['blocks']} / {s['blocks']} ({_pct(comp['share_blocks'])})",
        f"- {t['share_pop']}: {comp['population']:,.0f} ({_pct(comp['share_population'])})",
    ]
    if worst:
        lines += [
            "",
            f"## {t['worst']}",
            "",
            f"| {t['block']} | {t['population']} | {t['lacks']} |",
            "|---|---:|---|",
        ]
        for row in worst:
            lacks = row.get("deficiencies") or row["lacks"]
            lines.append(f"| {row['block_id']} | {row['population']:,.0f} | {lacks} |")
    for section in extra_sections or []:
        lines += ["", section]
    if notes:
        lines += ["", f"## {t['notes']}", ""] + [f"- {n}" for n in notes]
    lines += ["", t["credit"], ""]
    return "\n".join(lines)


def _label(v: dict[str, Any], lang: str) -> str:
    return str(v["label_zh"] if lang == "zh" and v.get("label_zh") else v["label_en"])


def _dagger(v: dict[str, Any], label: str, t: dict[str, Any], notes: list[str]) -> str:
    """`` †`` and a footnote for an unverified figure, else ''."""
    if v.get("verified", True):
        return ""
    note = f"† {label}: " + t["unverified"].format(src=v.get("source") or "–")
    if v.get("note"):
        note += f"; {v['note']}"
    if note not in notes:
        notes.append(note)
    return " †"


def _tier_section(
    report: dict[str, Any], t: dict[str, Any], lang: str, notes: list[str]
) -> list[str]:
    s = report["summary"]
    tiers = s.get("tiers") or {}
    if not tiers:
        return []
    lines = [
        "",
        f"## {t['tiers']}",
        "",
        f"| {t['tier']} | {t['limit']} | {t['requirements']} | {t['met_blocks']} | "
        f"{t['met_pop']} |",
        "|---|---:|---|---:|---:|",
    ]
    for name, v in tiers.items():
        label = _label(v, lang)
        mark = _dagger(v, label, t, notes)
        limit = " / ".join(
            x for x in (
                f"{v['distance_m']:g} m" if v.get("distance_m") else "",
                f"{v['minutes']:g} {t['min']}" if v.get("minutes") else "",
            ) if x
        ) or "–"
        reqs = []
        for c in v["categories"]:
            cv = s["categories"][c]
            reqs.append(f"{_label(cv, lang)} ({cv['speed_kmh']:g} km/h)")
        lines.append(
            f"| {label}{mark} (`{name}`) | {limit} | {'; '.join(reqs)} | "
            f"{v['blocks_met']} / {s['blocks']} ({_pct(v['share_blocks_met'])}) | "
            f"{v['population_met']:,.0f} ({_pct(v['share_population_met'])}) |"
        )
    for g in (s.get("groups") or {}).values():
        if not g.get("verified", True):
            notes.append("† " + t["unverified_speed"].format(
                g=g["label_zh"] if lang == "zh" and g.get("label_zh") else g["label_en"],
                v=g["speed_kmh"], src=g.get("source") or "–"))
    return lines


def _figure(v: dict[str, Any]) -> str:
    value = v.get("value")
    if value is None:
        return "–"
    if v["kind"] == "floor_area_per_100_households":
        return f"{value:,.1f} m²"
    return _pct(value)


def _indicator_section(
    report: dict[str, Any], t: dict[str, Any], lang: str, notes: list[str]
) -> list[str]:
    ind = report.get("indicators") or {}
    targets = ind.get("targets") or []
    fac = report.get("facilities") or {}
    lines: list[str] = []
    if targets:
        lines += [
            "",
            f"## {t['indicators']}",
            "",
            f"| {t['indicator']} | {t['figure']} | {t['target']} | {t['status']} |",
            "|---|---:|---:|---|",
        ]
        for v in targets:
            label = _label(v, lang)
            mark = _dagger(v, label, t, notes)
            goal = (
                f"≥ {v['target_value']:g} m²"
                if v["kind"] == "floor_area_per_100_households"
                else f"≥ {_pct(v['target_value'])}"
            )
            if v.get("meets") is None:
                why = t["reasons"].get(v.get("reason_code", ""), v.get("reason", ""))
                status = t["unknown"] + (f": {why}" if why else "")
            else:
                status = t["met"] if v["meets"] else t["not_met"]
            extra = []
            if v.get("lower_bound"):
                extra.append(t["lower_bound"].format(
                    n=v["facilities_area_unknown"], m=v["facilities"]))
            if v.get("share_blocks_meeting") is not None:
                extra.append(t["per_block"].format(
                    min=v["catchment_min"], speed=v["catchment_speed_kmh"],
                    share=_pct(v["share_blocks_meeting"])))
            if extra:
                status += " (" + "; ".join(extra) + ")"
            lines.append(f"| {label}{mark} | {_figure(v)} | {goal} | {status} |")
        floor = next((v for v in targets if "catchment_group" in v), None)
        if floor is not None:
            name = _label(floor["catchment_group"], lang)
            lines += ["", t["speeds_note"].format(g=name, v=floor["catchment_speed_kmh"])]
    if fac.get("name_keyword"):
        notes.append(t["keyword"].format(n=fac["name_keyword"]))
    tm = fac.get("type_map")
    if tm and tm.get("unmatched"):
        notes.append(t["type_unmatched"].format(
            n=tm["unmatched"], m=tm["rows"], ex=", ".join(tm["unmatched_examples"])))
    return lines


def write_reports(
    folder: Path,
    report: dict[str, Any],
    *,
    lang: str = "en",
    worst: list[dict[str, Any]] | None = None,
    extra_sections: list[str] | None = None,
) -> None:
    """Write ``report.json`` and ``report.md`` into ``folder``."""
    write_json_atomic(folder / "report.json", report)
    md = render_markdown(report, lang=lang, worst=worst, extra_sections=extra_sections)
    tmp = folder / ".report.md.tmp"
    tmp.write_text(md, encoding="utf-8")
    tmp.replace(folder / "report.md")
