"""Report sections for the residents each service serves and for step-free groups.

Rendered from ``report.json`` alone (``summary.categories.<c>.served``, ``step_free``) and
appended to ``report.md`` after the main sections; the text is the ``groups`` domain of the
message catalogue (``lifecircle/locales/groups.toml``).
"""

from __future__ import annotations

from typing import Any

from ..i18n import label_of, messages, percent

__all__ = ["served_sections"]




def served_sections(report: dict[str, Any], lang: str = "en") -> list[str]:
    """Markdown sections (possibly none) for ``render_markdown(extra_sections=...)``."""
    t = messages("groups", lang)
    cats = report["summary"]["categories"]
    out: list[str] = []
    served = [(c, v) for c, v in cats.items() if v.get("served")]
    if served:
        lines = [f"## {t['served']}", ""]
        for _c, v in served:
            if v.get("status", "ok") != "ok":  # no data in the source: not a finding
                lines.append(t["served_no_data"].format(cat=label_of(v, lang)))
                continue
            s = v["served"]
            how = ", ".join(t["how"].get(m, m) for m in s.get("methods", []))
            lines.append(t["served_line"].format(
                cat=label_of(v, lang), share=percent(s["share_population_covered"]),
                who=label_of(s, lang), all=percent(v.get("share_population_covered")), how=how))
        out.append("\n".join(lines))
    groups = report.get("step_free") or {}
    if groups:
        lines = [f"## {t['step_free']}", ""]
        for g in groups.values():
            lines.append(t["group_line"].format(group=label_of(g, lang), n=g["edges_barred"],
                                                steps=g["edges_barred_steps"],
                                                col=g["edges_column"]))
            for c, v in g["categories"].items():
                quiet = not (v["blocks_reachable_only_by_barred_ways"]
                             or v["blocks_covered_only_by_barred_ways"])
                if quiet or cats[c].get("status", "ok") != "ok":
                    continue  # only the categories where the restriction changes a verdict
                ids = v["block_ids_reachable_only"] + [
                    b for b in v["block_ids_covered_only"]
                    if b not in v["block_ids_reachable_only"]]
                lines.append(t["only_line"].format(
                    cat=label_of(cats[c], lang), reach=v["blocks_reachable_only_by_barred_ways"],
                    cover=v["blocks_covered_only_by_barred_ways"],
                    ids=t["ids"].format(ids=t["sep"].join(ids[:10])) if ids else ""))
        out.append("\n".join(lines))
    return out
