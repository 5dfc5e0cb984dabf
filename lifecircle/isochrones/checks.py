"""The isochrone options a user gives, checked before any work (``ConfigError`` naming the
option and a valid value)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .._errors import ConfigError

__all__ = ["check_bands", "check_run_options"]


def check_bands(bands_min: Sequence[float]) -> tuple[float, ...]:
    """Band upper bounds in minutes, ascending and positive (``ConfigError`` otherwise)."""
    try:
        bands = tuple(float(b) for b in bands_min)
    except (TypeError, ValueError):
        raise ConfigError(
            f"isochrone bands must be numbers of minutes, got {bands_min!r}; e.g. 5,10,15"
        ) from None
    if not bands:
        raise ConfigError("give at least one isochrone band in minutes, e.g. 5,10,15")
    if not all(np.isfinite(b) and b > 0 for b in bands):
        raise ConfigError(f"isochrone bands must be positive minutes, got {list(bands)}")
    if any(b2 <= b1 for b1, b2 in itertools.pairwise(bands)):
        raise ConfigError(
            f"isochrone bands must rise strictly, got {list(bands)}; e.g. 5,10,15")
    return bands


def _check_walk_in(walk_in_m: float) -> float:
    w = float(walk_in_m)
    if not (np.isfinite(w) and w > 0):
        raise ConfigError(f"walk_in_m must be a positive number of metres, got {walk_in_m!r}")
    return w


def check_run_options(
    bands_min: Sequence[float], walk_in_m: float, horizon_min: float, *,
    cell_m: float | None = None,
) -> tuple[float, ...]:
    """Validate a run's isochrone options up front (before any heavy work)."""
    bands = check_bands(bands_min)
    walk_in = _check_walk_in(walk_in_m)
    if cell_m is not None and not (np.isfinite(cell_m) and 0 < cell_m <= walk_in / 4.0):
        raise ConfigError(
            f"the isochrone cell must be positive and at most a quarter of walk_in_m "
            f"({walk_in / 4.0:g} m), got {cell_m!r}; e.g. 5 or 10")
    if bands[-1] > horizon_min:
        raise ConfigError(
            f"isochrone band {bands[-1]:g} min is beyond the profile's search horizon of "
            f"{horizon_min:g} min; use shorter bands or raise horizon_min in the profile"
        )
    return bands
