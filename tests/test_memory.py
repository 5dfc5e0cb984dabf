"""Freed heap memory goes back to the system between steps (lifecircle._memory)."""

from __future__ import annotations

import sys

import pytest

from lifecircle._memory import release_freed


def _rss_kb() -> int:
    with open("/proc/self/status") as fh:
        return int(fh.read().split("VmRSS:")[1].split()[0])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_freed_returns_fragmented_heap_memory() -> None:
    # 300 MB of 5 kB objects (malloc'd in the heap arena, below the mmap threshold); keeping
    # every tenth pins the arena, so free() alone gives nothing back
    blobs = [bytes(5000) + i.to_bytes(8, "little") for i in range(60_000)]
    keep = blobs[::10]
    del blobs
    before = _rss_kb()
    assert release_freed() is True
    after = _rss_kb()
    assert before - after > 150_000  # most of the 270 MB freed goes back
    assert len(keep) == 6_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_finding_the_c_library_forks_no_process(monkeypatch) -> None:
    """The first trim comes after a city's network is loaded: finding libc there must not
    fork the run (``ctypes.util.find_library`` runs ldconfig in a subprocess)."""
    import subprocess

    from lifecircle import _memory

    started: list[object] = []
    real = subprocess.Popen.__init__

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started.append(args[0] if args else kwargs.get("args"))
        real(self, *args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    _memory._libc.cache_clear()
    assert release_freed() is True
    assert started == []


def test_long_lived_objects_are_frozen_within_and_handed_back_after() -> None:
    import gc

    from lifecircle._memory import frozen_long_lived

    assert gc.get_freeze_count() == 0
    held = [[k] for k in range(1000)]  # tracked objects alive when frozen
    with frozen_long_lived() as freeze:
        assert gc.get_freeze_count() == 0  # nothing before freeze() is asked for
        freeze()
        assert gc.get_freeze_count() >= len(held)
    assert gc.get_freeze_count() == 0
    # objects somebody froze before are theirs: not frozen again nor handed back here
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with frozen_long_lived() as freeze:
            extra = [[k] for k in range(1000)]
            freeze()  # (frozen objects freed meanwhile leave the count: it may only fall)
            assert 0 < gc.get_freeze_count() <= before
        assert 0 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()
    del held, extra


def test_the_collector_is_paused_until_freeze_and_given_back_as_it_was() -> None:
    # what is made before freeze() is frozen before any collection walks it
    import gc

    from lifecircle._memory import frozen_long_lived

    assert gc.isenabled()
    with frozen_long_lived() as freeze:
        assert not gc.isenabled()
        made = [[k] for k in range(1000)]
        freeze()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)
    assert gc.isenabled()
    # a step that fails before freeze() gives the collector back too
    with pytest.raises(RuntimeError), frozen_long_lived():
        assert not gc.isenabled()
        raise RuntimeError("failed in the load")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    # where the caller had paused it, it stays paused
    gc.disable()
    try:
        with frozen_long_lived() as freeze:
            freeze()
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    del made


def test_a_run_freezes_what_it_holds_and_hands_it_back(tmp_path, monkeypatch) -> None:
    # the analysis (after the load) and the outputs freeze what they hold; the caller's
    # process gets its collector back as it was
    import gc

    from tests.helpers import make_grid_case

    calls: list[int] = []
    real_freeze = gc.freeze

    def counted() -> None:
        calls.append(1)
        real_freeze()

    monkeypatch.setattr(gc, "freeze", counted)
    case = make_grid_case(tmp_path)
    assert gc.get_freeze_count() == 0
    case.run(out=tmp_path / "o", isochrones=False, map=False, figures=False, rasters=False)
    assert len(calls) >= 2
    assert gc.get_freeze_count() == 0


def test_fewer_young_collections_on_the_command_line_only(monkeypatch, tmp_path) -> None:
    """The library leaves the collector's thresholds alone; ``lifecircle run`` raises the
    youngest generation's (the older ratios kept)."""
    import gc
    import subprocess

    from click.testing import CliRunner

    from lifecircle import _memory
    from lifecircle.cli import cli

    def threshold(imports: str) -> list[str]:  # in a fresh interpreter: this one may have
        code = f"import gc{imports}; print(*gc.get_threshold())"  # run the CLI already
        return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                              text=True).stdout.split()

    assert threshold(", lifecircle.pipeline, lifecircle.cli") == threshold("")
    before = gc.get_threshold()
    try:
        _memory.collect_young_less()
        assert gc.get_threshold() == (_memory.YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
    calls: list[int] = []
    monkeypatch.setattr(_memory, "collect_young_less", lambda: calls.append(1))
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "missing.osm.pbf"),
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code != 0 and calls == [1]
