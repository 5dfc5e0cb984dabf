"""Population from rasters: hand-computed zonal sums, mass conservation across CRSs, bad rasters."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from lifecircle._errors import InputError, InputFileError
from lifecircle.sources.population import households, population_from_raster
from tests.helpers import write_geotiff

UTM = "EPSG:32650"
X0, Y0 = 500_000.0, 3_500_000.0  # top-left corner of the synthetic rasters


def write_raster(
    path: Path,
    data: np.ndarray,
    *,
    crs: str | None = UTM,
    transform=None,
    nodata: float | None = None,
    dtype: str = "float32",
) -> Path:
    if transform is None:
        transform = from_origin(X0, Y0, 100, 100)
    return write_geotiff(path, data.astype(dtype), transform, crs=crs, nodata=nodata)


def blocks_frame(polys, crs=UTM, ids=None) -> gpd.GeoDataFrame:
    ids = ids or [f"b{i + 1}" for i in range(len(polys))]
    return gpd.GeoDataFrame({"block_id": ids}, geometry=polys, crs=crs)


@pytest.fixture
def tens(tmp_path):
    """4 × 4 pixels of 100 m, 10 people each (160 people), top-left at (X0, Y0)."""
    return write_raster(tmp_path / "pop.tif", np.full((4, 4), 10.0))


def test_blocks_cutting_pixels_in_halves(tens):
    # b1: x 0..150, y 0..-400 (one and a half pixel columns): 4 rows × 1.5 × 10 = 60
    # b2: x 150..400: 4 × 2.5 × 10 = 100; b3: a 50 × 50 square inside one pixel = 2.5
    b1 = shapely.box(X0, Y0 - 400, X0 + 150, Y0)
    b2 = shapely.box(X0 + 150, Y0 - 400, X0 + 400, Y0)
    b3 = shapely.box(X0 + 1000, Y0 - 50, X0 + 1050, Y0)  # outside the raster: 0
    b4 = shapely.box(X0 + 25, Y0 - 75, X0 + 75, Y0 - 25)  # a quarter pixel, overlaps b1
    pop = population_from_raster(blocks_frame([b1, b2, b3, b4]), tens)
    # b4 overlaps b1 inside pixel (0,0): that pixel's shares are 1 (b1) + 0.25 (b4), scaled
    # to 0.8 and 0.2 so its 10 people are counted once: b1 = 60 - 10 + 8 = 58, b4 = 2
    assert pop.tolist() == pytest.approx([58.0, 100.0, 0.0, 2.0], abs=1e-9)
    assert pop.sum() == pytest.approx(160.0)
    stats = pop.attrs["raster_stats"]
    assert stats["people_in_blocks"] == pytest.approx(160.0)
    assert stats["people_outside_blocks"] == pytest.approx(0.0, abs=1e-6)


def test_index_kept_and_people_outside_counted(tens):
    # one block over the left half only; the blocks' extent is that half: 80 people in it
    gdf = blocks_frame([shapely.box(X0, Y0 - 400, X0 + 200, Y0)]).set_index(
        pd.Index([42], name="row")
    )
    pop = population_from_raster(gdf, tens)
    assert list(pop.index) == [42]
    assert pop.loc[42] == pytest.approx(80.0)
    # a second block at the right end widens the extent to the whole raster: 160 people in
    # the extent, 80 + 5 (half a pixel column of one row) in blocks
    gdf = blocks_frame(
        [shapely.box(X0, Y0 - 400, X0 + 200, Y0), shapely.box(X0 + 350, Y0 - 100, X0 + 400, Y0)]
    )
    pop = population_from_raster(gdf, tens)
    assert pop.tolist() == pytest.approx([80.0, 5.0])
    assert pop.attrs["raster_stats"]["people_outside_blocks"] == pytest.approx(75.0)


def test_nodata_pixels_count_zero(tmp_path):
    data = np.full((4, 4), 10.0)
    data[0, 0] = -9999.0
    data[1, 1] = np.nan
    path = write_raster(tmp_path / "nd.tif", data, nodata=-9999.0)
    pop = population_from_raster(blocks_frame([shapely.box(X0, Y0 - 400, X0 + 400, Y0)]), path)
    assert pop.iloc[0] == pytest.approx(140.0)
    assert pop.attrs["raster_stats"]["pixels_nodata"] == 2


def test_nodata_unset_negative_sentinel_ignored(tmp_path):
    data = np.full((2, 2), 5.0)
    data[0, 1] = -3.4e38
    path = write_raster(tmp_path / "neg.tif", data)
    pop = population_from_raster(blocks_frame([shapely.box(X0, Y0 - 200, X0 + 200, Y0)]), path)
    assert pop.iloc[0] == pytest.approx(15.0)
    assert pop.attrs["raster_stats"]["pixels_negative_ignored"] == 1


def _random_tiling(rng: np.random.Generator, x0, y0, x1, y1, n=40):
    """Voronoi cells of random points clipped to the box: blocks that tile it exactly."""
    pts = shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n))
    box = shapely.box(x0, y0, x1, y1)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box))
    return [c for c in shapely.intersection(cells, box) if not c.is_empty]


def test_mass_conserved_raster_in_4326_blocks_in_utm(tmp_path):
    # a WGS 84 raster of 30 × 40 pixels (0.001°, about 100 m), random counts
    rng = np.random.default_rng(7)
    data = rng.uniform(0, 50, (30, 40))
    lon0, lat0 = 118.77, 32.06
    path = write_raster(
        tmp_path / "wgs.tif", data, crs="EPSG:4326", transform=from_origin(lon0, lat0, 1e-3, 1e-3)
    )
    # blocks tiling the raster's footprint, built in UTM from the raster's outline
    outline = gpd.GeoSeries([shapely.box(lon0, lat0 - 0.03, lon0 + 0.04, lat0)], crs=4326)
    outline_utm = outline.to_crs(UTM).iloc[0]
    x0, y0, x1, y1 = outline_utm.bounds
    cells = _random_tiling(rng, x0 - 500, y0 - 500, x1 + 500, y1 + 500)
    pop = population_from_raster(blocks_frame(cells), path)
    total = float(data.sum())
    assert pop.sum() == pytest.approx(total, rel=0.005)
    # in practice densified edges make it far closer than the 0.5 % the issue asks for
    assert abs(pop.sum() - total) / total < 1e-4
    assert (pop >= 0).all()


def test_mass_conserved_raster_in_utm_blocks_in_4326(tmp_path):
    rng = np.random.default_rng(11)
    data = rng.uniform(0, 50, (25, 35))
    path = write_raster(tmp_path / "utm.tif", data)  # 100 m pixels in UTM 50N
    outline = gpd.GeoSeries([shapely.box(X0, Y0 - 2500, X0 + 3500, Y0)], crs=UTM).to_crs(4326)
    x0, y0, x1, y1 = outline.total_bounds
    cells = _random_tiling(rng, x0 - 0.01, y0 - 0.01, x1 + 0.01, y1 + 0.01)
    pop = population_from_raster(blocks_frame(cells, crs="EPSG:4326"), path)
    total = float(data.sum())
    assert abs(pop.sum() - total) / total < 0.005
    assert abs(pop.sum() - total) / total < 1e-4


def test_block_values_agree_with_supersampled_reference(tmp_path):
    """An independent check: each block's sum against a 20×-supersampled centre count."""
    rng = np.random.default_rng(3)
    data = rng.uniform(0, 20, (8, 8))
    path = write_raster(tmp_path / "ref.tif", data)
    cells = _random_tiling(rng, X0, Y0 - 800, X0 + 800, Y0, n=12)
    pop = population_from_raster(blocks_frame(cells), path)
    k = 20
    fine = np.repeat(np.repeat(data, k, axis=0), k, axis=1) / (k * k)
    xs = X0 + (np.arange(8 * k) + 0.5) * (100 / k)
    ys = Y0 - (np.arange(8 * k) + 0.5) * (100 / k)
    gx, gy = np.meshgrid(xs, ys)
    pts = shapely.points(gx.ravel(), gy.ravel())
    for cell, got in zip(cells, pop, strict=True):
        ref = fine.ravel()[shapely.contains(cell, pts)].sum()
        assert got == pytest.approx(ref, rel=0.03, abs=0.5)


# ---------------------------------------------------------------------------------------------
# bad rasters: clear errors


def test_no_overlap_names_both_extents_in_one_crs(tens):
    far = blocks_frame([shapely.box(X0 + 50_000, Y0, X0 + 50_100, Y0 + 100)])
    with pytest.raises(InputFileError) as exc:
        population_from_raster(far, tens)
    msg = str(exc.value)
    assert "does not overlap" in msg
    assert "raster extent (500000, 3.4996e+06, 500400, 3.5e+06)" in msg
    assert "blocks extent (550000, 3.5e+06, 550100, 3.5001e+06)" in msg
    assert "EPSG:32650" in msg


def test_no_overlap_with_blocks_in_other_crs(tens):
    far = blocks_frame([shapely.box(2.0, 48.0, 2.01, 48.01)], crs="EPSG:4326")
    with pytest.raises(InputFileError, match="both in EPSG:32650"):
        population_from_raster(far, tens)


def test_nodata_everywhere(tmp_path):
    path = write_raster(tmp_path / "empty.tif", np.full((3, 3), -1.0), nodata=-1.0)
    with pytest.raises(InputFileError, match="every pixel under the blocks is nodata"):
        population_from_raster(blocks_frame([shapely.box(X0, Y0 - 300, X0 + 300, Y0)]), path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.tif"
    path.write_bytes(b"II*\x00" + b"\x17" * 200)
    with pytest.raises(InputFileError, match="cannot be read as a raster"):
        population_from_raster(blocks_frame([shapely.box(X0, Y0 - 300, X0 + 300, Y0)]), path)


def test_html_page_saved_as_tif(tmp_path):
    path = tmp_path / "page.tif"
    path.write_text("<html><body>404</body></html>")
    with pytest.raises(InputFileError, match="corrupt or not a GeoTIFF"):
        population_from_raster(blocks_frame([shapely.box(X0, Y0 - 300, X0 + 300, Y0)]), path)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        population_from_raster(blocks_frame([shapely.box(0, 0, 1, 1)]), tmp_path / "nope.tif")


def test_no_crs(tmp_path):
    path = write_raster(tmp_path / "nocrs.tif", np.ones((2, 2)), crs=None)
    with pytest.raises(InputFileError, match="no CRS"):
        population_from_raster(blocks_frame([shapely.box(X0, Y0 - 200, X0 + 200, Y0)]), path)


def test_no_georeferencing(tmp_path):
    path = tmp_path / "plain.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32", crs=UTM
    ) as dst:
        dst.write(np.ones((1, 2, 2), dtype="float32"))
    with pytest.raises(InputFileError, match="no georeferencing"):
        population_from_raster(blocks_frame([shapely.box(0, 0, 1, 1)]), path)


def test_blocks_without_crs(tens):
    gdf = gpd.GeoDataFrame({"block_id": ["a"]}, geometry=[shapely.box(X0, Y0 - 1, X0 + 1, Y0)])
    with pytest.raises(InputError, match="no CRS"):
        population_from_raster(gdf, tens)


def test_missing_band(tens):
    with pytest.raises(InputFileError, match="no band 2"):
        population_from_raster(
            blocks_frame([shapely.box(X0, Y0 - 100, X0 + 100, Y0)]), tens, band=2
        )


def test_huge_sparse_raster_reads_windows_only(tmp_path):
    """A 200 000 × 200 000 pixel tiled, sparse GeoTIFF (40 G pixels): only windows are read."""
    path = tmp_path / "huge.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=200_000,
        width=200_000,
        count=1,
        dtype="float32",
        crs=UTM,
        transform=from_origin(X0, Y0, 1, 1),
        nodata=0,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        sparse_ok=True,
        compress="deflate",
    ) as dst:
        from rasterio.windows import Window

        ones = np.full((1, 10, 10), 3.0, dtype="float32")
        dst.write(ones, window=Window(100_000, 100_000, 10, 10))
    assert path.stat().st_size < 50_000_000
    block = shapely.box(X0 + 99_995, Y0 - 100_010, X0 + 100_005, Y0 - 99_995)  # 5 × 10 of them
    pop = population_from_raster(blocks_frame([block]), path)
    assert pop.iloc[0] == pytest.approx(5 * 10 * 3.0)


# ---------------------------------------------------------------------------------------------
# households


def test_households_from_size_and_column():
    frame = pd.DataFrame({"block_id": ["a", "b"], "population": [250.0, 10.0]})
    hh, method = households(frame, household_size=2.5)
    assert hh.tolist() == [100.0, 4.0]
    assert set(method) == {"population/household_size"}
    frame["households"] = [90, 3]
    hh, method = households(frame, household_size=2.5)
    assert hh.tolist() == [90.0, 3.0]
    assert set(method) == {"column"}
    frame["households"] = [90, "many"]
    with pytest.raises(InputError, match="block b: households 'many'"):
        households(frame, household_size=2.5)


# ---------------------------------------------------------------------------------------------
# the pipeline and the CLI


def run_grid_cli(grid_case, *options: str):
    """``lifecircle run -q`` on the grid fixture with further options."""
    from click.testing import CliRunner

    from lifecircle.cli import cli

    args = ["run", "--osm", str(grid_case.graphml), "--facilities", str(grid_case.facilities)]
    args += ["--blocks", str(grid_case.blocks), "-q", *options]
    return CliRunner().invoke(cli, args)


def _grid_raster(folder: Path) -> Path:
    """8 people per 10 m pixel over the grid's blocks: B1..B3 are 20 m squares → 32 each."""
    from tests.helpers import X0 as GX0
    from tests.helpers import Y0 as GY0

    # covers x -50..350, y -250..250 of the grid (B4 at 2500, 2500 stays outside: 0 people)
    return write_raster(
        folder / "grid_pop.tif",
        np.full((50, 40), 8.0),
        transform=from_origin(GX0 - 50, GY0 + 250, 10, 10),
    )


def test_run_with_population_raster(grid_case):
    from lifecircle.outputs.geopackage import read_metadata

    raster = _grid_raster(grid_case.folder)
    res = grid_case.run(population=raster, categories=["retail"], out=grid_case.folder / "out")
    b = res.blocks.set_index("block_id")
    # the raster replaces the file's population column (100, 200, 300, 50)
    assert b["population"].tolist() == pytest.approx([32.0, 32.0, 32.0, 0.0])
    assert set(b["pop_method"]) == {"raster"}
    # households = population / 2.5 (walk15 [population] household_size)
    assert b["households"].tolist() == pytest.approx([12.8, 12.8, 12.8, 0.0])
    meta = read_metadata(res.out / "lifecircle.gpkg")
    stats = meta["blocks"]["population_raster"]
    assert stats["people_in_blocks"] == pytest.approx(96.0)
    assert len(meta["inputs"]["population"]["sha256"]) == 64
    assert res.report["summary"]["population"] == pytest.approx(96.0)


def test_households_column_of_user_blocks(grid_case, tmp_path):
    from lifecircle.pipeline import run

    blocks = gpd.read_file(grid_case.blocks)
    blocks["households"] = [40, 80, 120, 20]
    path = tmp_path / "blocks_hh.gpkg"
    blocks.to_file(path)
    res = run(
        grid_case.graphml, facilities=grid_case.facilities, blocks=path, categories=["retail"]
    )
    b = res.blocks.set_index("block_id")
    assert b["households"].tolist() == [40.0, 80.0, 120.0, 20.0]
    assert set(b["households_method"]) == {"column"}
    assert set(b["pop_method"]) == {"column"}


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"II*\x00garbage" * 10, "cannot be read as a raster"), (None, "no CRS")],
)
def test_cli_bad_population_raster_one_line(grid_case, content, needle):
    path = grid_case.folder / "bad.tif"
    if content is None:
        write_raster(path, np.ones((2, 2)), crs=None)
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    out = grid_case.folder / "out"
    res = run_grid_cli(grid_case, "--population", str(path), "--out", str(out))
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("lifecircle: error: ")
    assert str(path) in lines[0] and needle in lines[0]
    assert "Traceback" not in res.output
    assert not (out / "_SUCCESS.json").exists()
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# property: zonal sums conserve mass on any tiling, in either CRS


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    n_cells=st.integers(1, 25),
    seed=st.integers(0, 2**16),
    raster_in_4326=st.booleans(),
)
def test_property_mass_conserved_on_tilings(tmp_path, h, w, n_cells, seed, raster_in_4326):
    rng = np.random.default_rng(seed)
    data = rng.uniform(0, 100, (h, w)).astype(np.float32).astype(np.float64)  # as stored
    if raster_in_4326:
        tf = from_origin(116.3, 39.99, 1e-3, 1e-3)
        path = write_raster(tmp_path / f"p{seed}.tif", data, crs="EPSG:4326", transform=tf)
        outline = gpd.GeoSeries(
            [shapely.box(116.3, 39.99 - h * 1e-3, 116.3 + w * 1e-3, 39.99)], crs=4326
        ).to_crs(UTM)
    else:
        path = write_raster(tmp_path / f"p{seed}.tif", data)
        outline = gpd.GeoSeries([shapely.box(X0, Y0 - 100 * h, X0 + 100 * w, Y0)], crs=UTM)
    x0, y0, x1, y1 = outline.total_bounds
    cells = _random_tiling(rng, x0 - 50, y0 - 50, x1 + 50, y1 + 50, n=n_cells)
    pop = population_from_raster(blocks_frame(cells), path)
    assert (pop >= 0).all()
    assert pop.sum() == pytest.approx(data.sum(), rel=1e-4)
    # each block gets at most what the pixels it touches hold
    assert pop.max() <= data.sum() * (1 + 1e-9)


def test_big_block_windows_are_tiled(tmp_path, monkeypatch):
    import lifecircle.sources.population as population

    rng = np.random.default_rng(9)
    data = rng.uniform(0, 10, (30, 30)).astype(np.float32).astype(np.float64)
    path = write_raster(tmp_path / "t.tif", data, transform=from_origin(X0, Y0, 10, 10))
    cells = _random_tiling(rng, X0 - 5, Y0 - 305, X0 + 305, Y0 + 5, n=6)
    whole = population_from_raster(blocks_frame(cells), path)
    monkeypatch.setattr(population, "_TILE", 7)
    tiled = population_from_raster(blocks_frame(cells), path)
    assert tiled.to_numpy() == pytest.approx(whole.to_numpy(), rel=1e-12)
    assert tiled.sum() == pytest.approx(data.sum(), rel=1e-9)
