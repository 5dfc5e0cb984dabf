"""Giving freed memory back to the system between the steps of a run.

A city-scale run frees hundreds of megabytes of small objects after each step (the reader's
tag dictionaries, the block rules' intermediate geometries). glibc keeps such memory in its
heap arenas instead of returning it, so the resident size stays at the step's high-water mark
and every later step adds to it (on the 268k-node mosaic: 2.03 GB held after the analysis,
1.68 GB after a trim). ``malloc_trim`` hands the free pages back; it is the one way to ask
glibc for that, and it has no Python binding, hence ctypes.

glibc's mmap threshold is left to glibc. A fixed 1 MiB threshold (``mallopt``, which runs set
until December 2026) mapped every array of a megabyte or more afresh, so each was
page-faulted in again: on the 1M-node mosaic the network stage took 971,000 minor faults
instead of 355,000 (``load_network`` 12.5-14.1 s against 11.5-12.1 s) and the whole default
run 77.7 s instead of 66.2 s (``benchmark.py end2end``, same minutes), for a peak 114 MiB
lower (2,296 against 2,410 MiB). The trims between steps keep what the default gives up.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

__all__ = ["collect_young_less", "frozen_long_lived", "hugepage_switch", "no_cyclic_gc",
           "release_freed", "small_pages"]

@cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    # glibc's soname first: find_library runs ldconfig in a subprocess, a fork of a run that
    # may hold gigabytes by the time it first trims
    for find in (lambda: "libc.so.6", lambda: ctypes.util.find_library("c")):
        try:
            libc = ctypes.CDLL(find())
        except (OSError, TypeError):  # musl or an unusual libc: nothing to trim through
            continue
        return libc if hasattr(libc, "malloc_trim") else None
    return None


def release_freed() -> bool:
    """Return the heap's free pages to the system (glibc on Linux; elsewhere a no-op).

    Returns
    -------
    bool
        Whether a trim was attempted.
    """
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


#: the cyclic collector's youngest-generation threshold of a command-line run (Python's is 700)
YOUNG_THRESHOLD = 20_000


def collect_young_less(threshold: int = YOUNG_THRESHOLD) -> None:
    """Let the cyclic collector's youngest generation grow to ``threshold`` objects before a
    collection (the older generations' ratios as they are).

    A run makes its objects in bulk (frames, geometries, tables), most of them alive to the
    next step: each young collection traverses the survivors again and moves them on. On the
    268k-node mosaic the collections took 0.46 s of the run's CPU at Python's 700 and 0.28 s
    at 20,000 (its early worker's 0.20 -> 0.07 s); the memory a cycle holds until it is found
    is bounded by the threshold. Process-wide, so only the command line sets it, never the
    library.
    """
    gc.set_threshold(int(threshold), *gc.get_threshold()[1:])


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a step that makes millions of objects.

    Reading a file makes millions of tag dicts and tuples that live to the end, and each
    collection re-scans every live object (a third of the read's time on a city); the
    facility matching and snapping after it pay the same for the read's objects. Nothing
    made in these steps forms a cycle. On the way out the freed memory goes back to the
    system (:func:`release_freed`).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        release_freed()  # the step's temporaries go back to the system


@contextmanager
def frozen_long_lived() -> Iterator[Callable[[], None]]:
    """Within: the ``freeze()`` it gives takes every object alive at that moment out of the
    cyclic collector's scans (``gc.freeze``); on the way out they are handed back
    (``gc.unfreeze``). Until ``freeze()`` the collector is paused (where it ran).

    A run's network, OSM tables and frames hold millions of tracked objects that live to its
    end; every full collection re-scans them all (1.4 s of a 268,569-node run's collections,
    0.9 s frozen after the load), and in a forked output worker that scan writes to, and so
    copies, every page that holds one. Where objects were frozen already on the way in
    (somebody else's, or an outer run's), ``freeze()`` does nothing and nothing is handed
    back here.
    """
    mine = gc.get_freeze_count() == 0
    # until freeze(), the collector is paused: the objects made meanwhile (a city's read makes
    # millions) are frozen before any collection scans them. Re-enabled at once, the first
    # young collection walked every one of them (0.6 s and more at a million nodes)
    paused = mine and gc.isenabled()
    if paused:
        gc.disable()

    def freeze() -> None:
        nonlocal paused
        if mine:
            gc.freeze()
        if paused:
            gc.enable()
            paused = False

    try:
        yield freeze
    finally:
        if paused:
            gc.enable()
        if mine:
            gc.unfreeze()


def hugepage_switch() -> Callable[[bool], bool] | None:
    """numpy's runtime switch of its huge-page hint (it returns the setting it replaces):
    ``numpy._core.multiarray._set_madvise_hugepage`` (``numpy.core`` before numpy 2), or
    None."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        switch = getattr(module, "_set_madvise_hugepage", None)
        if switch is not None:
            return switch
    return None


@contextmanager
def small_pages() -> Iterator[None]:
    """Within: numpy asks for no transparent huge pages for its large arrays (it does by
    default, ``madvise(MADV_HUGEPAGE)`` on each array of 4 MiB or more, where the system's
    policy is ``madvise``); on the way out its setting is as it was.

    The read and the network build make hundreds of large arrays, most of them temporaries,
    and each huge page is cleared whole at its first touch: in ``perf``, the kernel's
    ``clear_page_erms`` was 17 % of the stage's CPU samples at 1M nodes. Measured there on
    this shared (loaded) machine, old and new alternating: ``WalkNetwork.from_osm_file``
    5.8-7.0 s of system CPU with huge pages, 3.3-3.4 s without (3 runs each), the same user
    CPU (16.0-18.2 and 16.1-16.4 s); ``read_pbf`` alone 1.65-3.09 against 0.80-0.88 s
    (2 each). Process-wide while it lasts (numpy has no
    per-array switch; its public switch, ``NUMPY_MADVISE_HUGEPAGE``, is read once at import),
    and only a hint to the kernel: no array changes. Nests; a no-op where numpy lacks the
    switch. One thread enters and leaves it (the run's main thread, around the read and the
    build, whose threads it waits for): two threads leaving out of order would leave the
    hint as the first found it.
    """
    switch = hugepage_switch()
    if switch is None:
        yield
        return
    was = switch(False)
    try:
        yield
    finally:
        switch(was)
