"""Report sections for the residents each service serves and for step-free groups.

Rendered from ``report.json`` alone (``summary.categories.<c>.served``, ``step_free``) and
appended to ``report.md`` after the main sections.
"""

from __future__ import annotations

from typing import Any

__all__ = ["served_sections"]

_T: dict[str, dict[str, Any]] = {
    "en": {
        "served": "Coverage of the residents each service serves",
        "served_line": "- {cat}: {share} of {who} covered ({all} of all residents; numbers "
        "from {how})",
        "how": {"column": "the block file", "share": "census shares", "none": "unknown"},
        "step_free": "Step-free walking",
        "group_line": "- {group}: {n} edges barred ({steps} of them steps); edges layer column "
        "`{col}`",
        "only_line": "  - {cat}: {reach} blocks reachable only by steps or barred ways, {cover} "
        "covered only by them{ids}",
    },
    "zh": {
        "served": "各项服务对其服务人群的覆盖",
        "served_line": "- {cat}：覆盖{who}的 {share}（全体居民 {all}；人数来自{how}）",
        "how": {"column": "街坊文件", "share": "普查比例", "none": "未知"},
        "step_free": "无障碍步行",
        "group_line": "- {group}：{n} 条路段不可通行（其中台阶 {steps} 条）；edges 图层列 `{col}`",
        "only_line": "  - {cat}：{reach} 个街坊仅能经台阶等不可通行路段到达，"
        "{cover} 个仅经其覆盖{ids}",
    },
}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _label(v: dict[str, Any], lang: str) -> str:
    return str(v["label_zh"] if lang == "zh" and v.get("label_zh") else v["label_en"])


def served_sections(report: dict[str, Any], lang: str = "en") -> list[str]:
    """Markdown sections (possibly none) for ``render_markdown(extra_sections=...)``."""
    t = _T.get(lang, _T["en"])
    cats = report["summary"]["categories"]
    out: list[str] = []
    served = [(c, v) for c, v in cats.items() if v.get("served")]
    if served:
        lines = [f"## {t['served']}", ""]
        for _c, v in served:
            s = v["served"]
            how = ", ".join(t["how"].get(m, m) for m in s.get("methods", []))
            lines.append(t["served_line"].format(
                cat=_label(v, lang), share=_pct(s["share_population_covered"]),
                who=_label(s, lang), all=_pct(v.get("share_population_covered")), how=how))
        out.append("\n".join(lines))
    groups = report.get("step_free") or {}
    if groups:
        lines = [f"## {t['step_free']}", ""]
        for g in groups.values():
            lines.append(t["group_line"].format(group=_label(g, lang), n=g["edges_barred"],
                                                steps=g["edges_barred_steps"],
                                                col=g["edges_column"]))
            for c, v in g["categories"].items():
                ids = v["block_ids_reachable_only"] + [
                    b for b in v["block_ids_covered_only"]
                    if b not in v["block_ids_reachable_only"]]
                lines.append(t["only_line"].format(
                    cat=_label(cats[c], lang), reach=v["blocks_reachable_only_by_barred_ways"],
                    cover=v["blocks_covered_only_by_barred_ways"],
                    ids=f": {', '.join(ids[:10])}" if ids else ""))
        out.append("\n".join(lines))
    return out
