"""The figures of a small run drawn in a forked worker process while the run writes the rest.

On a small network a run's outputs cost about as much as its analysis, and the figures
(matplotlib's import, drawing and PNG compression; a third of the output step on Monaco) need
nothing the other outputs compute: a worker forked from the run draws them into the staging
folder while the run computes the isochrones and writes the GeoPackage, map, rasters, reports
and tables on the other core. Python threads cannot share that work (drawing holds the GIL);
a forked process shares the run's tables without copying or pickling them.

Only where ``fork`` exists (Linux, macOS) and the network has at most
:data:`BACKGROUND_MAX_NODES` nodes: above that, the figures are a small part of a run and a
second process holding a city's tables would add to the peak memory.
"""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path
from typing import Any

from .. import _errors
from .._errors import LifecircleError, OutputError

__all__ = ["BACKGROUND_MAX_NODES", "FiguresJob", "start_figures"]

#: Networks up to this many nodes draw their figures in a forked worker process.
BACKGROUND_MAX_NODES = 100_000


class FiguresJob:
    """A worker process drawing a run's figures; :meth:`wait` for it (it re-raises the
    worker's error) or :meth:`cancel` it."""

    def __init__(self, process: Any, conn: Any) -> None:
        self._process = process
        self._conn = conn

    def wait(self) -> None:
        """Wait for the figures; raise the worker's :class:`LifecircleError`, or an
        :class:`OutputError` naming what went wrong in it."""
        try:
            message = self._conn.recv()
        except EOFError:
            message = ("OutputError", "figures: the worker process drawing them stopped; "
                       "rerun, or pass --no-figures")
        finally:
            self._conn.close()
            self._process.join()
        if message is None:
            return
        name, text = message
        if name == "KeyboardInterrupt":
            raise KeyboardInterrupt
        error = getattr(_errors, name, None)
        if not (isinstance(error, type) and issubclass(error, LifecircleError)) \
                or error is _errors.InputFileError:  # takes (path, problem, fix): its text
            error = OutputError
        raise error(text)

    def cancel(self) -> None:
        """Stop the worker (the run failed elsewhere; its staging folder is discarded)."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._conn.close()


def start_figures(result: Any, folder: str | Path, *, lang: str) -> FiguresJob | None:
    """Start drawing ``folder/figures/*.png`` of ``result`` in a forked worker process.

    Returns ``None`` (the caller draws them itself) where ``fork`` is not available or the
    network has more than :data:`BACKGROUND_MAX_NODES` nodes.
    """
    if ("fork" not in multiprocessing.get_all_start_methods()
            or result.network.n_nodes > BACKGROUND_MAX_NODES):
        return None
    _ = result.edges  # built once, before the fork, for the worker and the GeoPackage alike
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_draw, args=(send, result, Path(folder), lang), daemon=True,
                          name="lifecircle-figures")
    process.start()
    send.close()
    return FiguresJob(process, receive)


def _draw(conn: Any, result: Any, folder: Path, lang: str) -> None:  # pragma: no cover - child
    """In the worker: draw the figures and send ``None`` or the error (its class name and
    text: an exception object need not survive pickling) back."""
    message: tuple[str, str] | None = None
    try:
        from .plots import write_figures

        write_figures(result, folder, lang=lang)
    except LifecircleError as exc:
        message = (type(exc).__name__, str(exc))
    except KeyboardInterrupt:
        message = ("KeyboardInterrupt", "")
    except BaseException as exc:  # an unexpected bug: its traceback, for --debug reports
        message = ("OutputError", f"figures: {type(exc).__name__}: {exc}\n"
                   + traceback.format_exc())
    conn.send(message)
    conn.close()
