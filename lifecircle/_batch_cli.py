"""What ``lifecircle batch`` shows: progress across regions and the summary table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ._console import percent

__all__ = ["BatchProgress", "summary_table"]

_STYLE = {"ok": "green", "skipped": "cyan", "failed": "red"}


class BatchProgress:
    """A progress bar over the regions on stderr, one line per finished region (silent -q)."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.quiet = quiet
        self.console = Console(stderr=True, highlight=False)
        self._bar = Progress(
            TextColumn("regions"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[tally]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=quiet,
        )
        self._counts = {"ok": 0, "skipped": 0, "failed": 0}
        self._task = self._bar.add_task("regions", total=total, tally="")

    def __enter__(self) -> BatchProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, row: dict[str, Any]) -> None:
        self._counts[row["status"]] += 1
        tally = " ".join(f"{k} {v}" for k, v in self._counts.items() if v)
        self._bar.update(self._task, advance=1, tally=tally)
        if not self.quiet:
            style = _STYLE[row["status"]]
            # names and reasons (paths, error text) are printed literally, never as markup
            line = f"[{style}]{row['status']:>7}[/{style}] {escape(row['name'])}"
            if row["status"] == "failed":
                line += f": {escape(row['reason'])}"
            self._bar.console.print(line, markup=True, soft_wrap=True)


def summary_table(rows: list[dict[str, Any]], summary_path: Any) -> None:
    """One row per region (status, seconds, population shares covered), then the failures."""
    categories: list[str] = []
    for r in rows:
        for c in r.get("share_population_covered", {}):
            if c not in categories:
                categories.append(c)
    table = Table(title=f"Batch: {len(rows)} regions", title_justify="left")
    for name in ("region", "status", "s", "blocks", "complete", *categories):
        table.add_column(name, justify="left" if name == "region" else "right", no_wrap=True)
    for r in rows:
        shares = r.get("share_population_covered", {})
        style = _STYLE[r["status"]]
        table.add_row(
            escape(r["name"]),
            f"[{style}]{r['status']}[/{style}]",
            f"{r['seconds']:.1f}",
            str(r.get("blocks", "–")),
            percent(r.get("complete_share_population")),
            *[percent(shares.get(c)) if c in shares else "–" for c in categories],
        )
    table.caption = "complete = share of the population with every category covered"
    table.caption_justify = "left"
    console = Console()
    console.print(table)
    for r in rows:
        if r["status"] == "failed":
            console.print(f"[red]failed[/red] {escape(r['name'])}: {escape(r['reason'])}",
                          soft_wrap=True)
    console.print(f"Summary: {escape(str(summary_path))}", soft_wrap=True)
