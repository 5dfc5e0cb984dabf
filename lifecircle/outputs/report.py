"""``report.json`` and ``report.md``: coverage by category and tier, population-weighted,
deficiency lists and plan indicators against targets, in en or zh.

Unverified figures (a profile entry with ``verified = false``) carry a dagger and a footnote
with their source.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..i18n import messages
from ._atomic import write_json_atomic

__all__ = ["render_markdown", "write_reports"]



def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def render_markdown(
    report: Mapping[str, Any],
    *,
    lang: str = "en",
    worst: list[dict[str, Any]] | None = None,
    extra_sections: list[str] | None = None,
) -> str:
    """The human-readable report as Markdown."""
    t = messages("report", "zh" if lang == "zh" else "en")
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


def _dagger(v: dict[str, Any], label: str, t: Mapping[str, Any], notes: list[str]) -> str:
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
    report: Mapping[str, Any], t: Mapping[str, Any], lang: str, notes: list[str]
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
    report: Mapping[str, Any], t: Mapping[str, Any], lang: str, notes: list[str]
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
    report: Mapping[str, Any],
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
