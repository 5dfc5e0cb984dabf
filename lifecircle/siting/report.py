"""``lifecircle site`` in Python: run, site, and write the siting layers and report section."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .scenario import Siting, scenario_layer, site

if TYPE_CHECKING:
    from ..outputs._atomic import StagedOutput
    from ..result import Result

__all__ = ["run_site", "siting_markdown"]

#: keywords of :func:`run_site` that go to :func:`site` (the rest go to the run)
SITE_OPTIONS = tuple(n for n, prm in inspect.signature(site).parameters.items()
                     if prm.kind is inspect.Parameter.KEYWORD_ONLY)


def run_site(
    osm: str | Path | None = None,
    *,
    category: str,
    out: str | Path | None = None,
    overwrite: bool = False,
    lang: str = "en",
    progress: Any = None,
    **options: Any,
) -> tuple[Result, Siting]:
    """Run the analysis, site new facilities of ``category``, write everything to ``out``.

    The Python form of ``lifecircle site``: :func:`lifecircle.pipeline.run`, then
    :func:`site`. ``options`` named in :data:`SITE_OPTIONS` (``new``, ``target_share``,
    ``candidates``, ``method``, ``capacity``, ``existing_capacity``, ``solver``, ...) go to
    :func:`site`, the others to the run. With ``out`` the folder holds the run's outputs plus
    the ``proposed_sites`` and ``siting_blocks`` (before / after per block) layers in
    ``lifecircle.gpkg``, the siting figures under ``"siting"`` in ``report.json`` and
    ``siting_before_after.csv``; written atomically like a run.

    Returns
    -------
    result, siting
        ``result.proposed_sites`` holds the proposed sites (the map draws them from there).
    """
    from ..outputs._atomic import StagedOutput
    from ..pipeline import run, write_outputs

    site_kw = {k: options.pop(k) for k in SITE_OPTIONS if k in options}
    run_options = options
    cats = list(run_options.pop("categories", None) or [category])
    if category not in cats:
        cats.append(category)
    inputs = [p for p in (osm, run_options.get("facilities"), run_options.get("blocks"))
              if p is not None]
    candidates = site_kw.get("candidates")
    if isinstance(candidates, str | Path) and str(candidates) != "osm":
        inputs.append(candidates)
    staged = StagedOutput(out, overwrite=overwrite, inputs=inputs) if out is not None else None
    result = run(osm, categories=cats, lang=lang, progress=progress, **run_options)
    if progress:
        progress("start", f"Siting {category}")
    t0 = time.perf_counter()
    siting = site(result, category, **site_kw)
    if progress:
        progress("done", f"Siting {category} ({time.perf_counter() - t0:.2f} s)")
    result.proposed_sites = siting.proposed_sites
    result.report["siting"] = siting.report
    result.metadata["siting"] = {k: siting.report[k] for k in (
        "category", "model", "new_requested", "target_share", "capacity", "existing_capacity",
        "candidates")}
    result.metadata["siting"]["method"] = siting.solution.method
    result.metadata["siting"]["solver"] = siting.solution.solver
    if staged is not None:
        with staged:
            write_outputs(result, staged, lang=lang, extras=[_siting_writer(siting)])
            with open(staged.path("report.md"), "a", encoding="utf-8") as md:
                md.write(siting_markdown(siting.report, lang=lang))
            result.out = staged.commit({"lifecircle_version": result.metadata[
                "lifecircle_version"]})
    return result, siting


def _siting_writer(siting: Siting) -> Any:
    """An ``extras`` writer: the ``siting_blocks`` layer and the before / after CSV."""

    def write_siting(res: Result, stage: StagedOutput) -> None:
        from ..outputs.geopackage import GPKG_NAME, write_layer

        write_layer(stage.path(GPKG_NAME), "siting_blocks",
                    scenario_layer(res, siting.scenario_blocks))
        siting.scenario_blocks.to_csv(stage.path("siting_before_after.csv"), index=False)

    return write_siting


def siting_markdown(report: dict[str, Any], *, lang: str = "en") -> str:
    """A report.md section for a siting report (``Siting.report``)."""
    zh = lang == "zh"
    sol = report["solution"]
    ba = report["before_after"]
    lines = [
        "",
        f"## {'设施选址' if zh else 'Siting'}: {report['category']}",
        "",
        (f"模型 {report['model']}，方法 {sol['method']}（{sol['status']}），候选点 "
         f"{report['candidates']} 个，阈值 {report['threshold_min']:g} 分钟。" if zh else
         f"Model {report['model']}, method {sol['method']} ({sol['status']}), "
         f"{report['candidates']} candidates, {report['threshold_min']:g}-minute walk."),
        "",
        "| rank | candidate | gain_population |" if not zh else "| 排名 | 候选点 | 新增覆盖人口 |",
        "|---:|---|---:|",
    ]
    lines += [f"| {r['rank']} | {r['candidate_id']} | {r['gain_population']:,.0f} |"
              for r in report["sites"]]
    lines += ["", "| | before | after | change |" if not zh else "| | 之前 | 之后 | 变化 |",
              "|---|---:|---:|---:|"]
    for k in ("facilities", "population_covered", "share_population_covered",
              "blocks_covered", "median_walk_min"):
        b, a, c = ba["before"][k], ba["after"][k], ba["change"][k]
        lines.append(f"| {k} | {'–' if b is None else b} | {'–' if a is None else a} | "
                     f"{'–' if c is None else c} |")
    return "\n".join(lines) + "\n"
