"""The noded lines' segments read off their WKB are those of ``shapely.get_coordinates``."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.sources._planar_kernels import kernel
from lifecircle.sources.planar import _line_segments, _segments

_coord = st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.25, 1e-300, 7e12])
_line = st.lists(st.tuples(_coord, _coord), min_size=0, max_size=5)


def _geometry(parts: list[list[tuple[float, float]]], multi: bool) -> shapely.Geometry:
    ok = [p for p in parts if len(p) >= 2]
    if multi:
        if not ok:
            return shapely.from_wkt("MULTILINESTRING EMPTY")
        return shapely.multilinestrings([shapely.linestrings(p) for p in ok])
    return shapely.linestrings(ok[0]) if ok else shapely.from_wkt("LINESTRING EMPTY")


def _same(x: tuple[np.ndarray, np.ndarray], y: tuple[np.ndarray, np.ndarray]) -> bool:
    """Equal shapes and bit patterns (-0.0 is not 0.0 here)."""
    return all(p.shape == q.shape and np.array_equal(p.view(np.int64), q.view(np.int64))
               for p, q in zip(x, y, strict=True))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(_line, min_size=0, max_size=4), st.booleans()),
                min_size=1, max_size=8))
def test_segments_read_off_the_wkb_are_those_of_the_coordinates(geoms):
    lines = np.array([_geometry(parts, multi) for parts, multi in geoms], dtype=object)
    got = _line_segments(lines)
    assert _same(got, _segments(lines))
    # an independent count: a part of k vertices gives its k - 1 steps of positive length
    steps = sum(int((np.diff(shapely.get_coordinates(p), axis=0) != 0).any(axis=1).sum())
                for g in lines for p in shapely.get_parts(g))
    assert got[0].shape == (steps, 2)


def test_two_parts_are_not_joined_by_a_segment():
    lines = np.array([shapely.from_wkt("MULTILINESTRING ((0 0, 1 0), (5 5, 6 5, 6 6))"),
                      shapely.from_wkt("LINESTRING (9 9, 9 8)")], dtype=object)
    a, b = _line_segments(lines)
    assert a.tolist() == [[0, 0], [5, 5], [6, 5], [9, 9]]
    assert b.tolist() == [[1, 0], [6, 5], [6, 6], [9, 8]]


def test_anything_but_lines_goes_to_get_coordinates():
    mixed = np.array([shapely.from_wkt("LINESTRING (0 0, 2 0)"),
                      shapely.from_wkt("POLYGON ((0 0, 1 0, 1 1, 0 0))"),
                      shapely.from_wkt("LINESTRING Z (3 3 1, 4 4 2)")], dtype=object)
    assert _same(_line_segments(mixed), _segments(mixed))
    assert _line_segments(mixed)[0].shape == (5, 2)
    missing = np.array([shapely.from_wkt("LINESTRING (0 0, 2 0)"), None], dtype=object)
    assert _same(_line_segments(missing), _segments(missing))


def test_the_kernel_refuses_what_it_cannot_read():
    read = kernel("lines")
    line = shapely.to_wkb(shapely.from_wkt("LINESTRING (0 0, 2 1)"), byte_order=1)
    raw, first, ok = read(np.frombuffer(line, dtype=np.uint8))
    assert ok and first.tolist() == [True, False]
    assert raw.view("<f8").tolist() == [0.0, 0.0, 2.0, 1.0]
    big_endian = shapely.to_wkb(shapely.from_wkt("LINESTRING (0 0, 2 1)"), byte_order=0)
    assert not read(np.frombuffer(big_endian, dtype=np.uint8))[2]
    assert not read(np.frombuffer(line[:-3], dtype=np.uint8))[2]  # cut short
    point = shapely.to_wkb(shapely.from_wkt("POINT (1 2)"), byte_order=1)
    assert not read(np.frombuffer(line + point, dtype=np.uint8))[2]


def test_a_lone_3d_line_is_read_off_its_2d_wkb(monkeypatch):
    # the WKB is written 2D, so the kernel reads a 3D line itself (not _segments): the same
    # segments as _segments gives, Z dropped
    from lifecircle.sources import planar

    lines = np.array([shapely.from_wkt("LINESTRING Z (0 0 5, 2 0 6, 2 3 7, 2 3 8)")],
                     dtype=object)
    expected = _segments(lines)
    assert expected[0].tolist() == [[0, 0], [2, 0]] and expected[1].tolist() == [[2, 0], [2, 3]]

    def refuse(_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise AssertionError("left to _segments")

    monkeypatch.setattr(planar, "_segments", refuse)
    assert _same(_line_segments(lines), expected)
