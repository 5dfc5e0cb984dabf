"""Outputs written by forked worker processes while the run writes the rest.

A run's figures (matplotlib's import, drawing and PNG compression), tables (xlsxwriter) and
rasters (snapping every cell to the streets) need nothing the other outputs compute, so
workers forked from the run write them into the staging folder while the run writes the
GeoPackage, map and reports on the other core. Python threads cannot share that work
(drawing, spreadsheet cells and snapping hold the GIL); a forked process shares the run's
tables without copying or pickling them (copy-on-write), and the run waits for every worker
before it lists and hashes the folder.

Up to :data:`BACKGROUND_MAX_NODES` nodes each output has its worker (:func:`start`); above it
one worker writes them one after the other (:func:`start_together`): a worker's own memory
(what it allocates, and the inherited pages it writes to) adds to the run's peak, and one
output's at a time is what a city-scale run can spare (measured on the 268k-node mosaic by
``scripts/bench_memory.py``, which reads the workers' unique set size). Outputs that either
side may write go to the first to ask (:class:`Shared`).

A city-scale saving run also has an early worker (:func:`start_early`,
:mod:`lifecircle._early`), forked once the network is loaded, which reports milestones
(:func:`milestone`, :meth:`Job.wait_for`) as it goes: it writes the isochrones and the
rasters, so the one worker of the outputs writes the map first, then whichever of the
figures and tables the run has not begun. A small run forks its figures' worker as it starts
instead (:mod:`lifecircle.outputs._figure_worker`), which imports matplotlib while the run
analyses and draws what the run hands it at its outputs.

Only on Linux (macOS forks unsafely once system frameworks are loaded, Windows cannot fork),
from the main thread while no other non-daemon Python thread runs (a fork keeps only the
calling thread; locks other threads hold would never be released in the child), and outside
daemonic processes (a dask worker).
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .. import _errors
from .._errors import LifecircleError, OutputError
from .._memory import release_freed

__all__ = ["BACKGROUND_MAX_NODES", "Job", "Shared", "milestone", "start", "start_early",
           "start_together"]

log = logging.getLogger(__name__)

#: Networks up to this many nodes write their figures, tables and rasters in a worker each;
#: larger ones in one worker, one after the other.
BACKGROUND_MAX_NODES = 100_000

#: in a worker: the pipe to the run (:func:`milestone` sends on it) and the worker's start
_TO_RUN: tuple[Any, float] | None = None


class Job:
    """A worker process writing one output; :meth:`wait` for it (it re-raises the worker's
    error) or :meth:`cancel` it."""

    def __init__(self, what: str, process: Any, conn: Any) -> None:
        self.what = what
        #: the outputs it writes (``what`` alone, or those of :func:`start_together`)
        self.parts: tuple[str, ...] = (what,)
        self._process = process
        self._conn = conn
        #: the worker's wall and CPU seconds, once :meth:`wait` returned
        self.seconds: tuple[float, float] | None = None
        #: the shared outputs (:class:`Shared`) the worker took, with the wall seconds each
        #: took it, once :meth:`wait` returned (a small run's figures worker gives
        #: ``{"figures": seconds from the hand-over}``: :mod:`._figure_worker`)
        self.taken: dict[str, float] = {}
        #: the :func:`milestone` s the worker has passed, with its wall seconds then
        self.milestones: dict[str, float] = {}
        self._final: tuple[Any, ...] | None = None

    def _receive(self, until: str | None = None) -> None:
        """Read the worker's messages until ``until`` is among :attr:`milestones` or the
        worker has finished (its last message, or the pipe's end: it died)."""
        while self._final is None and (until is None or until not in self.milestones):
            try:
                item = json.loads(self._conn.recv_bytes())
            except EOFError:
                item = (("OutputError", f"{self.what}: the worker process writing them "
                         "stopped before it finished; rerun"), None, {})
            if item[0] == "milestone":
                self.milestones[item[1]] = item[2]
            else:
                self._final = item

    def wait_for(self, name: str) -> None:
        """Wait until the worker has passed :func:`milestone` ``name``; raise its error (as
        :meth:`wait`) when it failed (or finished) before."""
        self._receive(name)
        if name in self.milestones:
            return
        self.wait()  # raises the worker's error
        raise OutputError(f"{self.what}: the worker finished without reaching {name!r}")

    def wait(self) -> None:
        """Wait for the worker; raise its :class:`LifecircleError` (an :class:`OutputError`
        naming what went wrong when it was not one)."""
        try:
            self._receive()
        except BaseException:  # interrupted while waiting (a SIGINT sent to the run alone):
            self.cancel()  # stop the worker rather than wait for it to finish its outputs
            raise
        self._conn.close()
        self._process.join()
        assert self._final is not None
        message, seconds, self.taken = self._final
        self.seconds = None if seconds is None else (seconds[0], seconds[1])
        if self.seconds is not None:
            log.info("%s written by a worker process, %.2f s after its fork (%.2f s CPU)",
                     self.what, *self.seconds)
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


class Shared:
    """Outputs that either the run or its worker writes, whichever comes to it first.

    The run's own outputs (the GeoPackage layers, the isochrones) take longer than the
    worker's at a city's size (the worker is idle for half the run's outputs at a million
    nodes) but not at a district's. An output in a :class:`Shared` is written by the worker
    once its own are done, unless the run has :meth:`take`-n it already, and by the run
    after its own, unless the worker has: the one with time to spare writes it, at every size,
    without a guess at which that is. A flag per output in memory shared with the forked
    worker, under a lock.
    """

    def __init__(self, writes: dict[str, Callable[[], Any]]) -> None:
        # (the default context's: made wherever the run is, a fork context or none; a worker
        # forked later inherits both)
        self.writes = dict(writes)
        self._names = tuple(writes)
        self._lock = multiprocessing.Lock()
        self._taken = multiprocessing.RawArray("b", len(self._names))

    def take(self, what: str) -> bool:
        """Whether the caller is the first to ask for ``what`` (and so writes it)."""
        i = self._names.index(what)
        with self._lock:
            first = not self._taken[i]
            self._taken[i] = 1
        return first


def start(what: str, write: Callable[[], Any], *, nodes: int) -> Job | None:
    """Run ``write()`` in a forked worker process (``what`` names the output in errors).

    Returns ``None`` (the caller writes it itself) off Linux, in a daemonic process, in a
    process with more than one thread, where no process can be started or where the network
    has more than :data:`BACKGROUND_MAX_NODES` nodes.
    """
    if nodes > BACKGROUND_MAX_NODES:
        return None
    return _fork(what, write)


def start_together(writes: dict[str, Callable[[], Any]],
                   shared: Shared | None = None) -> Job | None:
    """Run every ``writes`` value, one after the other, in one forked worker process (a key
    names its output), then each of ``shared``'s that the run has not taken; ``None`` where
    :func:`start` would give ``None`` (but for the size) and where the system has less
    memory available than the run holds (see :func:`_room_for_a_copy`).
    """
    if not writes or not _room_for_a_copy():
        return None

    def write_all() -> dict[str, float]:
        for write in writes.values():
            write()
        taken: dict[str, float] = {}
        if shared is None:
            return taken
        for what, write in shared.writes.items():
            if shared.take(what):
                # what the worker's own outputs freed goes back first: its resident pages
                # are its peak's floor, and this process already counts the run's as its own
                gc.collect()
                release_freed()
                t0 = time.perf_counter()
                write()
                taken[what] = time.perf_counter() - t0
        return taken

    job = _fork(", ".join([*writes, *(shared.writes if shared is not None else ())]),
                write_all)
    if job is not None:
        job.parts = tuple(writes)
    return job


def start_early(what: str, write: Callable[[], Any]) -> Job | None:
    """Run ``write()`` in a forked worker process that the run follows through its
    :func:`milestone` s (:meth:`Job.wait_for`); ``None`` where :func:`start_together` would
    give ``None``. The early output worker of a city-scale run (:mod:`lifecircle._early`) and
    the figures' worker a small run forks as it starts
    (:mod:`lifecircle.outputs._figure_worker`)."""
    if not _room_for_a_copy():
        return None
    return _fork(what, write)


def milestone(name: str) -> None:
    """In a worker: tell the run that ``name`` is done (:meth:`Job.wait_for` returns), with
    the worker's wall seconds so far; nothing outside a worker."""
    if _TO_RUN is not None:
        conn, started = _TO_RUN
        _send(conn, ["milestone", name, time.perf_counter() - started])


def can_fork() -> bool:
    """Whether a worker can be forked here (see the module's notes): on Linux, not in a
    daemonic process (a dask worker may have no children), from the main thread alone."""
    return (sys.platform.startswith("linux")
            and not multiprocessing.current_process().daemon
            and _alone())


def _fork(what: str, write: Callable[[], Any]) -> Job | None:
    if not can_fork():
        return None
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_work, args=(send, what, write, os.getpid()), daemon=True,
                          name=f"lifecircle-{what}")
    # the collector of a worker would scan (and so copy, page by page) every object it
    # inherited: frozen, they stay shared with the run (and stay frozen in the run too where
    # it had frozen its long-lived objects already: see _memory.frozen_long_lived)
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        process.start()
    except (OSError, AssertionError):  # no process to spare: write it in this one
        receive.close()
        send.close()
        return None
    finally:
        if not frozen_before:
            gc.unfreeze()
    send.close()
    return Job(what, process, receive)


def _room_for_a_copy() -> bool:
    """Whether the system has as much memory available (``MemAvailable``) as this process
    holds resident: the most a worker can come to own (the pages it and the run write to
    stop being shared). Linux only; ``False`` where ``/proc`` does not say."""
    try:
        with open("/proc/meminfo") as fh:
            available = next(int(line.split()[1]) for line in fh
                             if line.startswith("MemAvailable:"))
        with open("/proc/self/status") as fh:
            resident = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return False
    return available > resident


def _alone() -> bool:
    """Whether a fork is safe here: called from the main thread, and every other thread is a
    daemon (an I/O helper such as a test runner's or a notebook kernel's).

    A fork copies only the calling thread, so a lock a working thread holds then (logging, a
    thread pool's queue, a library's) would stay held in the child for ever: ``lifecircle
    batch`` runs regions on (non-daemon) pool threads, and a fork there hung a CI run.
    Native threads the libraries start themselves (pyarrow's jemalloc background thread, a
    BLAS pool) are not seen here: those libraries prepare for a fork on their own
    (``pthread_atfork`` handlers).
    """
    me = threading.current_thread()
    return me is threading.main_thread() and all(
        t.daemon for t in threading.enumerate() if t is not me)


def _die_with(parent: int) -> None:  # pragma: no cover - child
    """Have the kernel kill this worker when the run dies (``PR_SET_PDEATHSIG``), so that a
    killed run leaves no worker writing into a staging folder the next run cleans up."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the run died before the call above
        os._exit(1)


def _work(conn: Any, what: str, write: Callable[[], Any],
          parent: int) -> None:  # pragma: no cover - child
    """In the worker: write, then send ``None`` or the error (its class name and text, as
    JSON: nothing crosses the pipe as pickle) back, with the wall and CPU seconds taken and
    the shared outputs written (what ``write`` returns when it is a dict, see
    :func:`start_together`)."""
    global _TO_RUN
    wall, cpu = time.perf_counter(), time.process_time()
    _die_with(parent)
    _TO_RUN = (conn, wall)
    message: tuple[str, str] | None = None
    taken: Any = None
    try:
        taken = write()
    except LifecircleError as exc:
        message = (type(exc).__name__, str(exc))
    except KeyboardInterrupt:
        message = ("KeyboardInterrupt", "")
    except BaseException as exc:  # an unexpected bug: its traceback, for --debug reports
        message = ("OutputError", f"{what}: {type(exc).__name__}: {exc}\n"
                   + traceback.format_exc())
    _send(conn, [message, [time.perf_counter() - wall, time.process_time() - cpu],
                 taken if isinstance(taken, dict) else {}])
    conn.close()


def _send(conn: Any, item: list[Any]) -> None:  # pragma: no cover - child
    """Send a message to the run as JSON bytes (``Connection.send`` would pickle it)."""
    conn.send_bytes(json.dumps(item).encode("utf-8"))
