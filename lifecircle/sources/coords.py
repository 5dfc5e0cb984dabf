"""Convert Chinese "obfuscated" coordinates (GCJ-02, BD-09) to and from WGS 84.

POI tables exported from commercial Chinese map services are rarely in WGS 84: AMap (Gaode)
and Tencent publish GCJ-02 ("Mars coordinates"), Baidu publishes BD-09. Both are WGS 84
longitudes and latitudes pushed by a smooth, position-dependent offset of roughly 100–700 m,
enough to put a facility on the wrong side of a street block. This module undoes (and applies)
those offsets so that facilities can be joined to an OpenStreetMap walking network.

The formulas are the widely published reverse-engineered ones:

* GCJ-02 adds to a WGS 84 point an offset built from sine series in ``lon - 105`` and
  ``lat - 35``, expressed in metres-like units and turned into degrees with the meridian and
  prime-vertical radii of the Krasovsky 1940 ellipsoid (``a = 6378245.0``,
  ``e² = 0.00669342162296594323``).
* BD-09 perturbs a GCJ-02 point in polar form (radius ``+ 0.00002 sin(lat·x_pi)``, angle
  ``+ 0.000003 cos(lon·x_pi)`` with ``x_pi = π·3000/180``) and then adds ``0.0065`` degrees of
  longitude and ``0.006`` degrees of latitude.

Neither formula has a closed-form inverse. The inverses here solve the forward equation by
fixed-point iteration, starting from the usual one-step approximation, until no coordinate moves
by more than :data:`TOLERANCE_DEG` (or :data:`MAX_ITERATIONS` is reached). Both forward maps
are the identity plus a term whose derivative is far below one, so the iteration is a strong
contraction: three to five steps reach the tolerance, and a forward-then-inverse round trip is
back to within nanometres, where the one-step GCJ-02 approximation is typically half a metre
and up to about 5 m off (BD-09: a few centimetres, up to a few decimetres).

Where the offsets apply
-----------------------
Points are shifted only inside the rough bounding box that nearly every published
implementation uses: longitude 72.004–137.8347 °E and latitude 0.8293–55.8271 °N (edges
included, see :func:`in_china_box`). Outside it every conversion is the identity. The box is a
convention, not a border:

* Taiwan, Hong Kong and Macau lie inside it and **are shifted**, as in the common
  implementations. Whether a given provider actually offsets its data there varies; check a
  few known points before trusting converted data from those regions.
* It also covers neighbouring countries (for example Mongolia, the Korean peninsula, western
  Japan, most of South-East Asia, Nepal, Bangladesh and northern India), whose points would be
  shifted too. lifecircle is meant for study areas in mainland China, where this does not
  matter.
* Its edges lie outside Chinese territory, so the discontinuity at the edge (a point a few
  hundred metres inside may map to one outside, which the inverse then leaves alone) never
  touches mainland data.

BD-09 follows the same rule: outside the box a BD-09 coordinate is taken to be WGS 84. Baidu's
own behaviour abroad is not part of the published algorithm.

All functions take longitudes and latitudes in degrees as scalars or array-likes (broadcast
against each other), never modify their inputs, and return new float64 NumPy arrays of the
broadcast shape (0-d arrays for scalar inputs; use ``float()`` for a Python float). A point with
NaN in either coordinate comes out as NaN in both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyproj
from pyproj.exceptions import CRSError

from .._errors import ConfigError, InputError, did_you_mean

__all__ = [
    "CHINA_BOX",
    "MAX_ITERATIONS",
    "SYSTEMS",
    "TOLERANCE_DEG",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china_box",
    "parse_facilities_crs",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Semi-major axis (m) of the Krasovsky 1940 ellipsoid, as used by GCJ-02.
_KRASOVSKY_A = 6378245.0
#: First eccentricity squared of the Krasovsky 1940 ellipsoid, as used by GCJ-02.
_KRASOVSKY_E2 = 0.00669342162296594323
#: Scale (radians per degree, times 3000) inside the BD-09 perturbation terms.
_BD_X_PI = math.pi * 3000.0 / 180.0
_BD_RADIUS_TERM = 0.00002
_BD_ANGLE_TERM = 0.000003
_BD_DLON = 0.0065
_BD_DLAT = 0.006

#: (west, south, east, north) in degrees: the conventional "inside China" box. Points inside
#: it (edges included) are shifted; all others are returned unchanged.
CHINA_BOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: An inverse stops iterating once no coordinate moved by more than this (degrees; about
#: 0.1 µm on the ground), well inside the 1e-9 degree (0.1 mm) target.
TOLERANCE_DEG = 1e-12
#: Upper bound on inverse iterations. Convergence normally takes 3–5 steps; near longitude
#: 105 °E the ``sqrt(|lon - 105|)`` term slows the last digits, and the cap ends the loop with
#: the residual already below 1e-11 degrees.
MAX_ITERATIONS = 30

#: Names accepted by :func:`to_wgs84` (after lower-casing and dropping ``-``, ``_``, spaces).
SYSTEMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")
_SYSTEM_ALIASES = {
    "wgs84": "wgs84",
    "epsg:4326": "wgs84",
    "gcj02": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
}

_Transform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


# --------------------------------------------------------------------------------------------
# input handling


def _prepare(lon: Any, lat: Any) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Return flat float64 copies of ``lon`` and ``lat`` broadcast together, and their shape.

    Raises
    ------
    InputError
        When the values are not numeric or their shapes do not broadcast.
    """
    try:
        lon_arr = np.asarray(lon, dtype=np.float64)
        lat_arr = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"coordinates must be numbers in degrees ({exc}); convert text columns with "
            "pandas.to_numeric(..., errors='coerce') first"
        ) from exc
    try:
        lon_b, lat_b = np.broadcast_arrays(lon_arr, lat_arr)
    except ValueError as exc:
        raise InputError(
            f"longitude shape {lon_arr.shape} and latitude shape {lat_arr.shape} do not "
            "match; pass one longitude per latitude"
        ) from exc
    shape = lon_b.shape
    # reshape(-1) on a broadcast view may share memory with the input, so copy explicitly.
    lon_flat = np.array(lon_b, dtype=np.float64, copy=True).reshape(-1)
    lat_flat = np.array(lat_b, dtype=np.float64, copy=True).reshape(-1)
    missing = np.isnan(lon_flat) | np.isnan(lat_flat)
    lon_flat[missing] = np.nan
    lat_flat[missing] = np.nan
    return lon_flat, lat_flat, shape


def _box_mask(lon: FloatArray, lat: FloatArray) -> BoolArray:
    west, south, east, north = CHINA_BOX
    # Comparisons with NaN are False, so missing points are never "inside".
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def in_china_box(lon: npt.ArrayLike, lat: npt.ArrayLike) -> BoolArray:
    """Whether points fall in the conventional GCJ-02 box, the only place offsets apply.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees, broadcast against each other.

    Returns
    -------
    numpy.ndarray of bool
        True inside :data:`CHINA_BOX` (edges included); False outside and for NaN.

    Notes
    -----
    The box is a rough convention (see the module docstring): it includes Taiwan, Hong Kong,
    Macau and parts of neighbouring countries.
    """
    lon_f, lat_f, shape = _prepare(lon, lat)
    return _box_mask(lon_f, lat_f).reshape(shape)


# --------------------------------------------------------------------------------------------
# forward formulas, applied everywhere (no box test); callers select the points


def _slow_ripples(base: FloatArray, t: FloatArray, long_amplitude: float) -> FloatArray:
    """``base`` plus the two slower ripples of one GCJ-02 component along ``t``.

    Periods 2 and 6 (amplitude 40/3), then 24 and 60 (``long_amplitude``); added term by term
    in the published order, so the sums round as the reference formula's do.
    """
    pi = np.pi
    out = base + 40.0 / 3.0 * (np.sin(pi * t) + 2.0 * np.sin(pi * t / 3.0))
    return out + long_amplitude * (np.sin(pi * t / 12.0) + 2.0 * np.sin(pi * t / 30.0))


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS 84, in degrees, at WGS 84 points ``lon``, ``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    # A fast ripple in longitude shared by both components, then a slower one per component.
    ripple = 40.0 / 3.0 * (np.sin(6.0 * pi * x) + np.sin(2.0 * pi * x))
    north = _slow_ripples(
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + ripple,
        y, 320.0 / 3.0,
    )
    east = _slow_ripples(
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + ripple,
        x, 100.0,
    )
    # Turn the "metre" terms into degrees with the Krasovsky radii of curvature at ``lat``.
    phi = np.radians(lat)
    w2 = 1.0 - _KRASOVSKY_E2 * np.sin(phi) ** 2
    meridian_radius = _KRASOVSKY_A * (1.0 - _KRASOVSKY_E2) / (w2 * np.sqrt(w2))
    parallel_radius = _KRASOVSKY_A / np.sqrt(w2) * np.cos(phi)
    return np.degrees(east / parallel_radius), np.degrees(north / meridian_radius)


def _gcj_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """BD-09 of GCJ-02 points (polar perturbation, then a constant shift)."""
    radius = np.hypot(lon, lat) + _BD_RADIUS_TERM * np.sin(lat * _BD_X_PI)
    angle = np.arctan2(lat, lon) + _BD_ANGLE_TERM * np.cos(lon * _BD_X_PI)
    return radius * np.cos(angle) + _BD_DLON, radius * np.sin(angle) + _BD_DLAT


def _bd_first_guess(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The usual one-step approximate BD-09 → GCJ-02 (off by centimetres, at most decimetres)."""
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    radius = np.hypot(x, y) - _BD_RADIUS_TERM * np.sin(y * _BD_X_PI)
    angle = np.arctan2(y, x) - _BD_ANGLE_TERM * np.cos(x * _BD_X_PI)
    return radius * np.cos(angle), radius * np.sin(angle)


def _gcj_first_guess(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The usual one-step approximate GCJ-02 → WGS 84 (subtract the offset taken at GCJ)."""
    dlon, dlat = _gcj_offset(lon, lat)
    return lon - dlon, lat - dlat


def _solve(
    forward: _Transform,
    target_lon: FloatArray,
    target_lat: FloatArray,
    guess_lon: FloatArray,
    guess_lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Find ``p`` with ``forward(p) == target`` by the fixed-point step ``p += target - f(p)``.

    Each point stops as soon as its own step is below :data:`TOLERANCE_DEG`; the loop ends
    when all points have, or after :data:`MAX_ITERATIONS` steps.
    """
    lon = guess_lon.copy()
    lat = guess_lat.copy()
    active = np.arange(lon.size)
    for _ in range(MAX_ITERATIONS):
        if active.size == 0:
            break
        f_lon, f_lat = forward(lon[active], lat[active])
        step_lon = target_lon[active] - f_lon
        step_lat = target_lat[active] - f_lat
        lon[active] += step_lon
        lat[active] += step_lat
        moving = np.maximum(np.abs(step_lon), np.abs(step_lat)) > TOLERANCE_DEG
        active = active[moving]
    return lon, lat


def _convert(
    lon: Any,
    lat: Any,
    apply: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
) -> tuple[FloatArray, FloatArray]:
    """Run ``apply`` on the points inside the box; leave the others (and NaN) as they are."""
    lon_f, lat_f, shape = _prepare(lon, lat)
    inside = _box_mask(lon_f, lat_f)
    if inside.any():
        new_lon, new_lat = apply(lon_f[inside], lat_f[inside])
        lon_f[inside] = new_lon
        lat_f[inside] = new_lat
    return lon_f.reshape(shape), lat_f.reshape(shape)


def _gcj_inverse(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _solve(_gcj_forward, lon, lat, *_gcj_first_guess(lon, lat))


def _bd_inverse(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _solve(_bd_forward, lon, lat, *_bd_first_guess(lon, lat))


# --------------------------------------------------------------------------------------------
# public conversions


#: the numpydoc sections every public conversion shares (added by :func:`_converts`)
_SECTIONS = """
    Parameters
    ----------
    lon, lat : array_like
        {source} longitudes and latitudes in degrees; scalars or arrays that broadcast
        together.

    Returns
    -------
    lon, lat : numpy.ndarray
        New float64 {target} arrays of the broadcast shape (0-d for scalar inputs). Points
        outside :data:`CHINA_BOX` are returned unchanged; a point with NaN in either
        coordinate is NaN in both.

    Raises
    ------
    InputError
        Non-numeric values or shapes that do not broadcast.
"""

_F = TypeVar("_F", bound=Callable[..., Any])


def _converts(source: str, target: str) -> Callable[[_F], _F]:
    """Complete a conversion's docstring (what it does, examples) with the shared sections."""

    def document(func: _F) -> _F:
        head, examples, tail = (func.__doc__ or "").partition("    Examples\n")
        sections = _SECTIONS.format(source=source, target=target)
        func.__doc__ = head.rstrip() + "\n" + sections + (
            "\n" + examples + tail if examples else "    ")
        return func

    return document


@_converts("WGS 84", "GCJ-02")
def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS 84 longitudes and latitudes to GCJ-02 (AMap/Gaode, Tencent).

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.410244, 39.916404)
    """
    return _convert(lon, lat, _gcj_forward)


@_converts("GCJ-02", "WGS 84")
def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 longitudes and latitudes to WGS 84 with the exact (iterative) inverse.

    Starts from the common one-step approximation (subtract the offset evaluated at the GCJ-02
    point; typically half a metre and up to about 5 m off) and applies fixed-point steps until
    the WGS 84 point maps forward onto the given GCJ-02 point to within :data:`TOLERANCE_DEG`.
    """
    return _convert(lon, lat, _gcj_inverse)


@_converts("GCJ-02", "BD-09")
def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 longitudes and latitudes to BD-09 (Baidu).
    """
    return _convert(lon, lat, _bd_forward)


@_converts("BD-09", "GCJ-02")
def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 longitudes and latitudes to GCJ-02 with the exact (iterative) inverse.

    The common one-step inverse is off by centimetres (at most a few decimetres); a few
    fixed-point steps make it exact to :data:`TOLERANCE_DEG`, so BD-09 and GCJ-02 round trips close.
    """
    return _convert(lon, lat, _bd_inverse)


@_converts("WGS 84", "BD-09")
def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS 84 longitudes and latitudes to BD-09 (through GCJ-02).
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


@_converts("BD-09", "WGS 84")
def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 longitudes and latitudes to WGS 84 (exact inverses, through GCJ-02).
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# --------------------------------------------------------------------------------------------
# names


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.strip().lower())


def _system_name(system: object) -> str | None:
    """The canonical system for ``system`` ("wgs84", "gcj02", "bd09"), or None."""
    if not isinstance(system, str):
        return None
    key = _normalise(system)
    return _SYSTEM_ALIASES.get(key)


def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, system: str) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates given in ``system`` to WGS 84.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees; scalars or arrays that broadcast together.
    system : str
        ``"wgs84"`` (also ``"EPSG:4326"``), ``"gcj02"`` or ``"bd09"`` (also ``"bd09ll"``).
        Case, spaces, ``-`` and ``_`` are ignored, so ``"GCJ-02"`` and ``"BD_09"`` work.

    Returns
    -------
    lon, lat : numpy.ndarray
        New float64 WGS 84 arrays (copies even for ``"wgs84"``), as for :func:`gcj02_to_wgs84`.

    Raises
    ------
    ConfigError
        ``system`` is not one of the names above (the message suggests the closest one).
    InputError
        Non-numeric values or shapes that do not broadcast.
    """
    name = _system_name(system)
    if name is None:
        given = _normalise(system) if isinstance(system, str) else repr(system)
        raise ConfigError(
            f"unknown coordinate system {system!r}"
            f"{did_you_mean(given, _SYSTEM_ALIASES)}; use one of "
            "'wgs84' (EPSG:4326), 'gcj02' (AMap/Gaode, Tencent) or 'bd09' (Baidu)"
        )
    if name == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84(lon, lat)
    lon_f, lat_f, shape = _prepare(lon, lat)
    return lon_f.reshape(shape), lat_f.reshape(shape)


def parse_facilities_crs(value: str) -> tuple[str, pyproj.CRS | None]:
    """Parse the ``--facilities-crs`` option: an obfuscated system or any horizontal CRS.

    Parameters
    ----------
    value : str
        ``"gcj02"`` or ``"bd09"`` (case, spaces, ``-`` and ``_`` ignored), ``"wgs84"``, or
        anything :meth:`pyproj.CRS.from_user_input` accepts: ``"EPSG:4547"``, a WKT or PROJ
        string, and so on.

    Returns
    -------
    kind : str
        ``"gcj02"`` or ``"bd09"`` for the obfuscated systems, otherwise ``"crs"``.
    crs : pyproj.CRS or None
        None for ``"gcj02"`` and ``"bd09"`` (their coordinates are longitude and latitude in
        degrees, to be converted with :func:`to_wgs84`); the parsed CRS for ``"crs"``
        (``"wgs84"`` gives EPSG:4326).

    Raises
    ------
    ConfigError
        Empty, unknown, or not a horizontal (geographic or projected) CRS; the message says
        which values work.

    Examples
    --------
    >>> parse_facilities_crs("GCJ-02")
    ('gcj02', None)
    >>> kind, crs = parse_facilities_crs("EPSG:4547")
    >>> kind, crs.to_epsg()
    ('crs', 4547)
    """
    fix = (
        "use --facilities-crs gcj02 (AMap/Gaode, Tencent), bd09 (Baidu) or a CRS such as "
        "EPSG:4326 (WGS 84 degrees) or EPSG:4547 (CGCS2000 metres)"
    )
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"--facilities-crs needs a value, got {value!r}; {fix}")
    name = _system_name(value)
    if name in ("gcj02", "bd09"):
        return name, None
    if name == "wgs84":
        return "crs", pyproj.CRS.from_epsg(4326)
    try:
        crs = pyproj.CRS.from_user_input(value.strip())
    except CRSError as exc:
        hint = did_you_mean(_normalise(value), _SYSTEM_ALIASES)
        raise ConfigError(
            f"--facilities-crs {value!r} is neither gcj02, bd09 nor a CRS pyproj knows"
            f"{hint} ({exc}); {fix}"
        ) from exc
    if not (crs.is_geographic or crs.is_projected):
        raise ConfigError(
            f"--facilities-crs {value!r} ({crs.name}) is not a horizontal CRS "
            f"(geographic or projected), so it cannot place facilities on a map; {fix}"
        )
    return "crs", crs
