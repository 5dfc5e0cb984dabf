"""Block times equal an independent networkx reference that snaps from the geometry itself
(scripts/validate_reference.py, issue 13.6): it reads only the GeoPackage's layers, snaps the
points with shapely by the README's rules and searches with networkx."""

from __future__ import annotations

import pytest

from scripts.validate_reference import compare_run
from tests.conftest import shared_osm


def test_nanjing_blocks_match_the_reference(nanjing_run):
    table = compare_run(nanjing_run.out / "lifecircle.gpkg", sample=150, seed=1)
    assert table["reached"].sum() > 100  # a real comparison, not an empty one
    assert (table["mismatch"] == 0).all(), table
    assert table["max_m"].max() <= 0.01, table


@pytest.mark.parametrize("name", ["taichung_xitun.osm.gz"])
def test_taichung_blocks_match_the_reference(name, tmp_path):
    from lifecircle.pipeline import run

    res = run(shared_osm(name), out=tmp_path / "o", map=False, figures=False, rasters=False,
              isochrones=False, categories=["health", "retail"])
    table = compare_run(res.out / "lifecircle.gpkg", sample=150, seed=2)
    assert table["reached"].sum() > 50
    assert (table["mismatch"] == 0).all(), table
    assert table["max_m"].max() <= 0.01, table
