"""``report.json`` and ``report.md``: coverage by category, population-weighted, in en or zh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._atomic import write_json_atomic

__all__ = ["render_markdown", "write_reports"]

_T = {
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
        "min": "min",
        "credit": "Street network and facilities © OpenStreetMap contributors (ODbL).",
        "notes": "Notes",
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
        "min": "分钟",
        "credit": "路网与设施数据 © OpenStreetMap 贡献者（ODbL 许可）。",
        "notes": "说明",
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
        f"| {t['category']} | {t['facilities']} | {t['threshold']} | {t['speed_used']} | "
        f"{t['covered_blocks']} | {t['covered_pop']} | {t['median']} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for _c, v in s["categories"].items():
        label = v["label_zh"] if lang == "zh" and v["label_zh"] else v["label_en"]
        mark = ""
        if not v.get("verified", True):
            notes.append(f"{label}: " + t["unverified"].format(src=v.get("source") or "–"))
            mark = " †"
        median = "–" if v["median_walk_min"] is None else f"{v['median_walk_min']:.1f} {t['min']}"
        fac = str(v["facilities"]) if v["facilities"] else f"0 ({t['none']})"
        lines.append(
            f"| {label}{mark} | {fac} | {v['threshold_min']:g} {t['min']} | "
            f"{v['speed_kmh']:g} km/h | {v['blocks_covered']} / {v['blocks']} "
            f"({_pct(v['share_blocks_covered'])}) | {v['population_covered']:,.0f} "
            f"({_pct(v['share_population_covered'])}) | {median} |"
        )
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
            lines.append(f"| {row['block_id']} | {row['population']:,.0f} | {row['lacks']} |")
    for section in extra_sections or []:
        lines += ["", section]
    if notes:
        lines += ["", f"## {t['notes']}", ""] + [f"- † {n}" for n in notes]
    lines += ["", t["credit"], ""]
    return "\n".join(lines)


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
