"""What the ``lifecircle`` command prints on the terminal: step progress and the summary table.

Kept apart from :mod:`lifecircle.cli` (options and error handling) so the command's module
stays about its arguments; both print through rich, imported when first needed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Progress", "percent", "print_summary"]


class Progress:
    """Step-by-step progress on stderr (silent with -q)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._console: Any = None  # rich, imported at the first line shown (never with -q)
        self._status: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def __call__(self, kind: str, message: str) -> None:
        if self.quiet:
            return
        if kind == "start":
            self._status = self.console.status(message + " …")
            self._status.start()
        else:
            if self._status is not None:
                self._status.stop()
                self._status = None
            self.console.print(f"[green]✓[/green] {message}")

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def print_summary(result: Any, lang: str) -> None:
    """One screen: coverage per category, then the complete life circle."""
    from rich.console import Console
    from rich.table import Table

    from .i18n import messages

    s = result.report["summary"]
    zh = lang == "zh"
    t = messages("cli", "zh" if zh else "en")
    title = t["title"].format(blocks=s["blocks"], people=f"{s['population']:,.0f}")
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(t["headers"]):
        # long category names (GB 50180 facility types) wrap; the figures never do
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=i > 0,
                         min_width=None if i == 0 else len(name) + 1)
    for v in s["categories"].values():
        label = v["label_zh"] if zh and v["label_zh"] else v["label_en"]
        median = "–" if v["median_walk_min"] is None else f"{v['median_walk_min']:.1f}′"
        if v.get("status", "ok") != "ok":  # no data in the source: not a finding, never 0 %
            covered = [t["no_data"], "", "", ""]
        else:
            covered = [str(v["blocks_covered"]), percent(v["share_blocks_covered"]),
                       f"{v['population_covered']:,.0f}",
                       percent(v["share_population_covered"])]
        table.add_row(label, str(v["facilities"]), f"{round(v['threshold_min'], 1):g}′",
                      *covered, median)
    comp = s["complete_life_circle"]
    table.caption = t["complete"] + (
        f"{comp['population']:,.0f} ({percent(comp['share_population'])})")
    table.caption_justify = "left"
    Console().print(table)


def percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.0f}%"
