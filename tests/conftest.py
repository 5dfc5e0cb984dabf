"""Shared fixtures: the shared OSM extracts, a hand-computable grid, an oracle."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import GridCase, make_grid_case

ROOT = Path(__file__).resolve().parent.parent
SHARED_OSM = ROOT.parent / "shared" / "data" / "osm"


def shared_osm(name: str) -> Path:
    """Path of a shared extract; skip when absent, fail when CI requires shared data."""
    path = SHARED_OSM / name
    if not path.is_file():
        if os.environ.get("LIFECIRCLE_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"shared extract {path} is missing but LIFECIRCLE_REQUIRE_SHARED_DATA=1")
        pytest.skip(f"shared extract {path} not present (../shared/data/osm is outside the repo)")
    return path


@pytest.fixture
def grid_case(tmp_path: Path) -> GridCase:
    return make_grid_case(tmp_path)


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory):
    """One run on the bundled default data, shared by the tests that only read it."""
    from lifecircle.pipeline import run

    out = tmp_path_factory.mktemp("default") / "out"
    return run(out=out)


@pytest.fixture(scope="session")
def nanjing_run(tmp_path_factory: pytest.TempPathFactory):
    from lifecircle.pipeline import run

    out = tmp_path_factory.mktemp("nanjing") / "out"
    return run(shared_osm("nanjing_xinjiekou.osm.gz"), out=out)
