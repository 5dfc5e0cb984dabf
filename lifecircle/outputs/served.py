"""Report sections for the residents each service serves and for step-free groups.

Rendered from ``report.json`` alone (``summary.categories.<c>.served``, ``step_free``) and
appended to ``report.md`` after the main sections; the text is the ``groups`` domain of the
message catalogue (``lifecircle/locales/groups.toml``).
"""

from __future__ import annotations

from typing import Any

from ..i18n import messages

__all__ = ["served_sections"]

def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _label(v: dict[str, Any], lang: str) -> str:
    return str(v["label_zh"] if lang == "zh" and v.get("label_zh") else v["label_en"])


def served_sections(report: dict[str, Any], lang: str = "en") -> list[str]:
    """Markdown sections (possibly none) for ``render_markdown(extra_sections=...)``."""
    t = messages("groups", lang)
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
