"""The differential of a projection on a lattice of WGS 84 points: footprints measured in a
local affine frame instead of projecting every vertex.

A footprint is at most a few hundred metres across, over which a map projection is affine to
within a millimetre: its area in metres is the area of its lon/lat ring mapped by the
projection's differential ``J`` at the ring's centroid to a relative ~1e-5 (the chords
between projected vertices bend away from the affine image by about size / Earth radius),
and with the second-order term ``H`` as well to ~1e-9 (measured on Monaco's 23,327
footprints, in UTM 32N and in Web Mercator: at most 5.6e-9 relative). ``J`` varies slowly,
so it is computed by pyproj on a lattice of :data:`STEP_DEG` (a few thousand points for a
city, central differences) and interpolated biquadratically, ``H`` taken per cell from it,
and only one point per footprint is projected
(:func:`~lifecircle.sources.buildings.buildings_from_osm`: projecting every vertex cost
5.6 s of pyproj at a million nodes). The step is fixed: a lattice coarsened to span a stray
building far away measured the others to only 1e-7; a lattice covers at most
:data:`MAX_SPAN_DEG` per axis (:func:`lattice_box`) and footprints off it are projected
vertex by vertex. Hand-written because the interpolation runs inside the compiled loop over
the rings (:mod:`._footprint_kernels`) and the central differences use the same transformer
as the exact path (:func:`._osm_columns.projected_xy`); pyproj's ``Proj.get_factors`` gives
the derivatives at given points but does not interpolate them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._osm_columns import projected_xy

__all__ = ["MAX_SPAN_DEG", "Frame", "lattice_box", "local_frame"]

#: lattice spacing in degrees (about two kilometres)
STEP_DEG = 0.02
#: the widest box a lattice covers, degrees per axis (at most 129 nodes along an axis)
MAX_SPAN_DEG = 2.5
#: the offset of the central differences, degrees (about 11 m: truncation ~1e-12 relative)
DIFF_DEG = 1e-4


class Frame(NamedTuple):
    """A projection's differential on a lattice, and bounds on what the local frame misses.

    ``grid``: west, south, longitude step, latitude step; ``jac[j, i]``: dx/dlon, dx/dlat,
    dy/dlon, dy/dlat (metres per degree) at node ``(i, j)``; ``hess[j, i]``: the second
    derivatives in cell ``(i, j)`` (x: lon-lon, lon-lat, lat-lat, then y's), from the nodes'
    differentials; ``curve``: metres per square degree bounding how far a point ``rho``
    degrees from a ring's centroid strays from the local frame (``curve * rho**2``: the
    affine part's Taylor remainder plus the quadratic term, each bounded by the second
    derivatives, doubled), ``slope``: metres per degree bounding the interpolation error of
    ``J`` (``slope * rho``: twice bilinear's, above the biquadratic one used).
    """

    grid: np.ndarray
    jac: np.ndarray
    hess: np.ndarray
    curve: float
    slope: float


def _differential(lon: np.ndarray, lat: np.ndarray, crs: Any) -> np.ndarray:
    """``J`` (..., 4) at the points by central differences of the projection."""
    h = DIFF_DEG
    pts = np.stack([np.column_stack([lon.ravel() + dx, lat.ravel() + dy])
                    for dx, dy in ((h, 0), (-h, 0), (0, h), (0, -h))])
    xy = projected_xy(pts[..., 0].ravel(), pts[..., 1].ravel(), crs).reshape(4, -1, 2)
    d_lon, d_lat = (xy[0] - xy[1]) / (2 * h), (xy[2] - xy[3]) / (2 * h)
    jac = np.column_stack([d_lon[:, 0], d_lat[:, 0], d_lon[:, 1], d_lat[:, 1]])
    return jac.reshape(*lon.shape, 4)


def lattice_box(box: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The part of ``box`` (west, south, east, north; finite) a lattice covers: each axis
    wider than :data:`MAX_SPAN_DEG` narrowed to that span round the median of ``lon`` or
    ``lat`` (the footprints about to be measured: finite, at least one), within the box."""
    out = box.astype(np.float64)
    for axis, values in ((0, lon), (1, lat)):
        lo, hi = out[axis], out[axis + 2]
        if hi - lo > MAX_SPAN_DEG:
            mid = float(np.median(values))
            start = min(max(mid - MAX_SPAN_DEG / 2, lo), hi - MAX_SPAN_DEG)
            out[axis], out[axis + 2] = start, start + MAX_SPAN_DEG
    return out


def local_frame(west: float, south: float, east: float, north: float,
                crs: Any) -> Frame | None:
    """The lattice of :data:`STEP_DEG` over the box (at most :data:`MAX_SPAN_DEG` wide: see
    :func:`lattice_box`); None where the projection is not finite on it."""
    if not (east - west <= MAX_SPAN_DEG + 1e-9 and north - south <= MAX_SPAN_DEG + 1e-9):
        raise ValueError("local_frame: box wider than MAX_SPAN_DEG or not finite")
    sx = sy = STEP_DEG
    x0, y0 = np.floor(west / sx) * sx, np.floor(south / sy) * sy
    nx, ny = int(np.ceil((east - x0) / sx)) + 3, int(np.ceil((north - y0) / sy)) + 3
    gx, gy = x0 + sx * np.arange(nx), y0 + sy * np.arange(ny)
    lon, lat = np.meshgrid(gx, gy)
    # the cell centres too: bilinear J there against the exact J bounds the interpolation
    # (the kernel's biquadratic interpolation is closer still)
    mid_lon, mid_lat = np.meshgrid(gx[:-1] + sx / 2, gy[:-1] + sy / 2)
    jac = _differential(np.concatenate([lon.ravel(), mid_lon.ravel()]),
                        np.concatenate([lat.ravel(), mid_lat.ravel()]), crs)
    if not np.isfinite(jac).all():
        return None
    mid = jac[lon.size :].reshape(ny - 1, nx - 1, 4)
    jac = np.ascontiguousarray(jac[: lon.size].reshape(ny, nx, 4))
    bilinear = (jac[:-1, :-1] + jac[:-1, 1:] + jac[1:, :-1] + jac[1:, 1:]) / 4
    slope = 2.0 * float(np.abs(mid - bilinear).sum(axis=2).max())
    # second derivatives from neighbouring nodes: d/dlon of both columns, d/dlat of dP/dlat
    along = np.diff(jac, axis=1) / sx
    up = np.diff(jac, axis=0) / sy
    second = (np.hypot(along[..., 0], along[..., 2]).max() + 2 * np.hypot(
        along[..., 1], along[..., 3]).max() + np.hypot(up[..., 1], up[..., 3]).max())
    # per cell: the lon-derivatives averaged over its two rows, the lat-derivative over its
    # two columns (the cell centre's to first order in the step)
    d_lon = (along[:-1] + along[1:]) / 2
    d_lat = (up[:, :-1] + up[:, 1:]) / 2
    hess = np.ascontiguousarray(np.stack(
        [d_lon[..., 0], d_lon[..., 1], d_lat[..., 1], d_lon[..., 2], d_lon[..., 3],
         d_lat[..., 3]], axis=-1))
    # each of the two terms is at most half the second derivatives' bound: 2 x (1/2 + 1/2)
    return Frame(np.array([x0, y0, sx, sy]), jac, hess, 2.0 * float(second), slope)
