"""``report.json`` and ``report.md``: coverage by category and tier, population-weighted,
deficiency lists and plan indicators against targets, in en or zh.

Every word of ``report.md`` comes from the message catalogue (``locales/report.toml``) or from
the profile: category, tier, group and target labels (``label_en``/``label_zh``), and source
and note texts (``source``/``note``, with ``source_zh``/``note_zh`` for Chinese reports).
Category ids never reach the reader: deficiency lists name the categories by their labels,
grouped by tier.

Unverified figures (a profile entry with ``verified = false``) carry a dagger and a footnote
with their source. Categories whose data are incomplete (status ``no_data``, or no facility at
all) show no coverage figure and are listed with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..i18n import label_of, messages, percent
from ._atomic import write_json_atomic

__all__ = ["REPORT_VERSION", "category_status", "localised_lacks", "render_markdown",
           "write_reports"]

#: ``report_version`` of ``report.json``. 2: ``deficiencies`` lists the
#: :data:`~lifecircle.coverage.DEFICIENCY_LIST_MAX` blocks lacking most (version 1, without
#: the key, listed every lacking block), and ``deficiency_summary`` gives, over every block,
#: how many blocks and people lack anything, the combinations they lack (``patterns``) and
#: where every block's list is (the blocks layer's ``tier_lacks_<tier>``, ``blocks.csv``).
REPORT_VERSION = 2



def _block_origin(b: Mapping[str, Any], t: Mapping[str, Any]) -> str:
    """How derived blocks were made and split, and the people by estimation method."""
    d = b.get("derivation")
    if not d:
        return ""
    named = ", ".join(
        str(t["block_named"]).format(
            id=r["block_id"], pop=r["population"], ha=r["area_ha"],
            reason=t["block_reasons"].get(r["reason"], r["reason"]))
        for r in d["above_max_blocks"][:5]
    )
    pop = ", ".join(f"`{k}` {percent(v)}" for k, v in (b.get("pop_method_share") or {}).items())
    return " — " + str(t["block_origin"]).format(
        n=sum(d["blocks_by_method"].values()), ways=d["split_by_ways"],
        grid=d["split_by_buildings"], res=d["max_block_residents"], ha=d["max_block_area_ha"],
        left=d["above_max"], named=f" ({named})" if named else "", pop=pop or "–")



def category_status(v: Mapping[str, Any]) -> str | None:
    """Why a category's coverage is not known, or ``None`` when it is.

    ``"no_facilities"`` or ``"sparse"`` from the report's ``status_reason`` when the category's
    ``status`` is ``"no_data"``; ``"no_facilities"`` as well for a category without any facility
    (an absent category in the data is no evidence that residents lack it).
    """
    if v.get("status", "ok") == "no_data":
        return str(v.get("status_reason") or "no_facilities")
    if not v.get("facilities"):
        return "no_facilities"
    return None


def localised_lacks(lacks: str | list[str] | None, summary: Mapping[str, Any], lang: str) -> str:
    """A block's missing categories by their labels, grouped by tier, in ``lang``.

    ``lacks`` is the blocks layer's comma-separated category list (or a list); the result is
    e.g. ``十五分钟生活圈：养老服务、托育服务；五分钟生活圈：幼儿园``.
    """
    t = messages("report", lang)
    names = lacks.split(",") if isinstance(lacks, str) else list(lacks or [])
    names = [n.strip() for n in names if n and n.strip()]
    cats = summary.get("categories") or {}
    tiers = summary.get("tiers") or {}
    by_tier: dict[str, list[str]] = {}
    for c in names:
        v = cats.get(c, {})
        by_tier.setdefault(str(v.get("tier") or ""), []).append(label_of(v, lang) if v else c)
    order = [k for k in tiers if k in by_tier] + [k for k in by_tier if k not in tiers]
    parts = []
    for tier in order:
        joined = t["list_sep"].join(by_tier[tier])
        if len(tiers) > 1 and tier in tiers:
            joined = t["item"].format(label=label_of(tiers[tier], lang), text=joined)
        parts.append(joined)
    return t["group_sep"].join(parts)


class _Writer:
    """The report's language, catalogue, profile texts and footnotes while rendering."""

    def __init__(self, report: Mapping[str, Any], lang: str, profile: Any) -> None:
        self.lang = "zh" if lang == "zh" else "en"
        self.t = messages("report", self.lang)
        self.report = report
        self.summary = report["summary"]
        raw = getattr(profile, "raw", None)
        self.raw: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        self.notes: list[str] = []

    def text(self, section: str, name: str, field: str, v: Mapping[str, Any]) -> str:
        """The profile's ``field`` (``source``/``note``) of an entry in the report language."""
        if self.lang == "zh":
            entry = (self.raw.get(section) or {}).get(name) or {}
            if entry.get(f"{field}_zh"):
                return str(entry[f"{field}_zh"])
        return str(v.get(field) or "")

    def dagger(self, section: str, name: str, v: Mapping[str, Any], label: str) -> str:
        """`` †`` and a footnote for an unverified figure, else ''."""
        if v.get("verified", True):
            return ""
        t = self.t
        body = t["unverified"].format(src=self.text(section, name, "source", v) or "–")
        if note := self.text(section, name, "note", v):
            body += t["group_sep"] + note
        line = "† " + t["item"].format(label=label, text=body)
        if line not in self.notes:
            self.notes.append(line)
        return " †"

    def tier_label(self, tier: str | None) -> str:
        tiers = self.summary.get("tiers") or {}
        return label_of(tiers[tier], self.lang) if tier in tiers else "–"


def _threshold_text(meta: Mapping[str, Any], summary: Mapping[str, Any],
                    t: Mapping[str, Any]) -> str:
    """The default threshold, and the range actually applied where categories have their own
    (a GB 50180 radius at its group's speed is 16.7 min, not 15)."""
    text = f"{meta['threshold_min']:g} {t['min']}"
    used = sorted({round(float(v["threshold_min"]), 1)
                   for v in summary["categories"].values()})
    if used and used != [round(float(meta["threshold_min"]), 1)]:
        text += t["thresholds_used"].format(low=f"{used[0]:g}", high=f"{used[-1]:g}")
    return text


def render_markdown(
    report: Mapping[str, Any],
    *,
    lang: str = "en",
    worst: list[dict[str, Any]] | None = None,
    extra_sections: list[str] | None = None,
    profile: Any = None,
) -> str:
    """The human-readable report as Markdown.

    Parameters
    ----------
    report
        ``Result.report`` (or a parsed ``report.json``).
    lang
        ``"en"`` or ``"zh"``.
    worst
        Rows (``block_id``, ``population``, ``lacks``) of the blocks lacking most.
    extra_sections
        Markdown sections appended before the notes (e.g. siting).
    profile
        The run's :class:`~lifecircle.profiles.Profile`: its title and its Chinese source and
        note texts (``source_zh``/``note_zh``). Without it those fall back to ``report``'s.
    """
    w = _Writer(report, lang, profile)
    t, s, meta = w.t, w.summary, report["run"]
    title = getattr(profile, "title_zh" if w.lang == "zh" else "title_en", "") or ""
    prof = f"`{meta['profile']}` ({meta.get('profile_version', '')})"
    lines = [
        f"# {t['title']}",
        "",
        "- " + t["item"].format(label=t["profile"], text=f"{title} {prof}" if title else prof),
        "- " + t["item"].format(label=t["speed"], text=f"{meta['walk_speed_kmh']:g} km/h"),
        *(["- " + t["item"].format(label=t["groups_used"], text=g)] if (g := _groups_text(w))
          else []),
        "- " + t["item"].format(label=t["threshold"], text=_threshold_text(meta, s, t)),
        "- " + t["item"].format(label=t["blocks"], text=str(s["blocks"])
                                + _block_origin(meta.get("blocks") or {}, t)),
        "- " + t["item"].format(label=t["population"], text=f"{s['population']:,.0f}"),
    ]
    lines += _coverage_section(w)
    lines += _no_data_section(w)
    lines += _tier_section(w)
    lines += _indicator_section(w)
    comp = s["complete_life_circle"]
    lines += [
        "",
        f"## {t['complete']}",
        "",
        "- " + t["item"].format(label=t["share_blocks"], text=(
            f"{comp['blocks']} / {s['blocks']} ({percent(comp['share_blocks'])})")),
        "- " + t["item"].format(label=t["share_pop"], text=(
            f"{comp['population']:,.0f} ({percent(comp['share_population'])})")),
    ]
    if excluded := [c for c, v in s["categories"].items() if v.get("status") == "no_data"]:
        lines.append("- " + t["complete_excludes"].format(cats=t["list_sep"].join(
            label_of(s["categories"][c], w.lang) for c in excluded)))
    if worst:
        lines += [
            "",
            f"## {t['worst']}",
            "",
            f"| {t['block']} | {t['population']} | {t['lacks']} |",
            "|---|---:|---|",
        ]
        for row in worst:
            lacks = localised_lacks(row.get("lacks"), s, w.lang)
            lines.append(f"| {row['block_id']} | {row['population']:,.0f} | {lacks} |")
    for section in extra_sections or []:
        lines += ["", section]
    if w.notes:
        lines += ["", f"## {t['notes']}", ""] + [f"- {n}" for n in w.notes]
    lines += ["", t["credit"], ""]
    return "\n".join(lines)


def _groups_text(w: _Writer) -> str:
    """Which group each category was judged for, at what speed and on which ways, from the
    report's own data (``--group`` judges every category for one group)."""
    t, s = w.t, w.summary
    groups = s.get("groups") or {}
    by_group: dict[str, list[str]] = {}
    for c, v in s["categories"].items():
        if v.get("group") in groups:
            by_group.setdefault(str(v["group"]), []).append(c)
    if not by_group:
        return ""
    # the group of most categories is "the other categories" (every category when alone)
    rest = max(by_group, key=lambda g: len(by_group[g]))
    parts = []
    for g in [*(g for g in by_group if g != rest), rest]:
        restriction = (w.report.get("step_free") or {}).get(g) or {}
        net = [t["net_step_free"]] if restriction.get("step_free") else []
        if restriction.get("max_incline_pct") is not None:
            net.append(t["net_incline"].format(pct=restriction["max_incline_pct"]))
        cats = (t["group_all"] if len(by_group) == 1 else t["group_rest"] if g == rest
                else t["list_sep"].join(label_of(s["categories"][c], w.lang)
                                        for c in by_group[g]))
        parts.append(t["group_judged"].format(
            cats=cats, group=label_of(groups[g], w.lang), v=groups[g]["speed_kmh"],
            net=t["group_net"].format(parts=t["net_sep"].join(net)) if net else ""))
    return t["group_sep"].join(parts)


def _coverage_section(w: _Writer) -> list[str]:
    t, s = w.t, w.summary
    lines = [
        "",
        f"## {t['coverage']}",
        "",
        f"| {t['category']} | {t['tier']} | {t['facilities']} | {t['threshold']} | "
        f"{t['speed_used']} | {t['covered_blocks']} | {t['covered_pop']} | {t['median']} |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c, v in s["categories"].items():
        label = label_of(v, w.lang)
        mark = w.dagger("categories", c, v, label)
        median = "–" if v["median_walk_min"] is None else f"{v['median_walk_min']:.1f} {t['min']}"
        fac = str(v["facilities"]) if v["facilities"] else f"0 ({t['none']})"
        limit = f" ({v['limit_m']:g} m)" if v.get("limit_m") else ""
        if category_status(v):
            blocks = pop = t["no_data"]
        else:
            blocks = (f"{v['blocks_covered']} / {v['blocks']} "
                      f"({percent(v['share_blocks_covered'])})")
            pop = f"{v['population_covered']:,.0f} ({percent(v['share_population_covered'])})"
        lines.append(
            f"| {label}{mark} | {w.tier_label(v.get('tier'))} | {fac} | "
            f"{v['threshold_min']:.1f} {t['min']}{limit} | {v['speed_kmh']:g} km/h | "
            f"{blocks} | {pop} | {median} |"
        )
    return lines


def _no_data_section(w: _Writer) -> list[str]:
    """The categories whose data are incomplete, with the reason, in the report language."""
    t, cats = w.t, w.summary["categories"]
    rows = [(c, why) for c, v in cats.items() if (why := category_status(v))]
    if not rows:
        return []
    lines = ["", f"## {t['no_data_title']}", "", t["no_data_intro"], ""]
    for c, why in rows:
        v = cats[c]
        reason = t["no_data_reasons"].get(why, t["no_data_reasons"]["other"]).format(
            n=v.get("facilities") or 0)
        lines.append("- " + t["item"].format(label=label_of(v, w.lang), text=reason))
    return lines


def _tier_section(w: _Writer) -> list[str]:
    t, s, lang = w.t, w.summary, w.lang
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
        label = label_of(v, lang)
        mark = w.dagger("tiers", name, v, label)
        limit = " / ".join(
            x for x in (
                f"{v['distance_m']:g} m" if v.get("distance_m") else "",
                f"{v['minutes']:g} {t['min']}" if v.get("minutes") else "",
            ) if x
        ) or "–"
        reqs = []
        for c in v["categories"]:
            cv = s["categories"][c]
            reqs.append(f"{label_of(cv, lang)} ({cv['speed_kmh']:g} km/h)")
        lines.append(
            f"| {label}{mark} (`{name}`) | {limit} | {t['list_sep'].join(reqs)} | "
            f"{v['blocks_met']} / {s['blocks']} ({percent(v['share_blocks_met'])}) | "
            f"{v['population_met']:,.0f} ({percent(v['share_population_met'])}) |"
        )
    for gname, g in (s.get("groups") or {}).items():
        if not g.get("verified", True):
            w.notes.append("† " + t["unverified_speed"].format(
                g=label_of(g, lang), v=g["speed_kmh"],
                src=w.text("groups", gname, "source", g) or "–"))
    return lines


_PER_RESIDENTS = ("floor_area_per_100_residents", "staff_per_10000_residents")


def _figure(v: Mapping[str, Any]) -> str:
    value = v.get("value")
    if value is None:
        return "–"
    if v["kind"] == "floor_area_per_100_households":
        return f"{value:,.1f} m²"
    if v["kind"] in _PER_RESIDENTS:  # lifecircle.targets: m² or workers per residents
        return f"{value:,.1f} {v.get('unit', '')}".rstrip()
    return percent(value)


def _indicator_section(w: _Writer) -> list[str]:
    t, lang, report = w.t, w.lang, w.report
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
            label = label_of(v, lang)
            floor = v["kind"] == "floor_area_per_100_households"
            if floor:  # the plan words it per 100 households
                label = t["with_unit"].format(label=label, unit=t["per_100_households"])
            mark = w.dagger("targets", str(v.get("target", "")), v, label)
            goal = (
                f"≥ {v['target_value']:g} m²"
                if floor
                else f"≥ {v['target_value']:g} {v.get('unit', '')}".rstrip()
                if v["kind"] in _PER_RESIDENTS
                else f"≥ {percent(v['target_value'])}"
            )
            if v.get("meets") is None:
                why = t["reasons"].get(v.get("reason_code", ""))
                if why is None and lang != "zh":
                    why = v.get("reason", "")
                status = t["unknown"] + (t["because"].format(why=why) if why else "")
            else:
                status = t["met"] if v["meets"] else t["not_met"]
            extra = []
            if v.get("lower_bound"):
                extra.append(t["lower_bound"].format(
                    n=v["facilities_area_unknown"], m=v["facilities"]))
            if v.get("share_blocks_meeting") is not None:
                extra.append(t["per_block"].format(
                    min=v["catchment_min"], speed=v["catchment_speed_kmh"],
                    share=percent(v["share_blocks_meeting"])))
            if extra:
                status += t["aside"].format(text=t["group_sep"].join(extra))
            lines.append(f"| {label}{mark} | {_figure(v)} | {goal} | {status} |")
        floor_target = next((v for v in targets if "catchment_group" in v), None)
        if floor_target is not None:
            name = label_of(floor_target["catchment_group"], lang)
            lines += ["", t["speeds_note"].format(g=name, v=floor_target["catchment_speed_kmh"])]
    if fac.get("name_keyword"):
        w.notes.append(t["keyword"].format(n=fac["name_keyword"]))
    tm = fac.get("type_map")
    if tm and tm.get("unmatched"):
        w.notes.append(t["type_unmatched"].format(
            n=tm["unmatched"], m=tm["rows"], ex=", ".join(tm["unmatched_examples"])))
    return lines


def write_reports(
    folder: Path,
    report: Mapping[str, Any],
    *,
    lang: str = "en",
    worst: list[dict[str, Any]] | None = None,
    extra_sections: list[str] | None = None,
    profile: Any = None,
) -> None:
    """Write ``report.json`` and ``report.md`` into ``folder``."""
    write_json_atomic(folder / "report.json", report)
    md = render_markdown(report, lang=lang, worst=worst, extra_sections=extra_sections,
                         profile=profile)
    tmp = folder / ".report.md.tmp"
    tmp.write_text(md, encoding="utf-8")
    tmp.replace(folder / "report.md")
