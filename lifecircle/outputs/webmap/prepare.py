"""Checks of the input layers and their preparation for the web (simplify, reproject, round)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from ... import columns as col
from ..._errors import InputError
from ...i18n import check_lang, messages

SIMPLIFY_M = 1.5
DECIMALS = 6
#: the map's coordinates: longitude, latitude
_WGS84 = CRS.from_epsg(4326)


def _texts(lang: str) -> Mapping[str, str]:
    return messages("map", check_lang(lang, option="lang"))


def _check_blocks(blocks: gpd.GeoDataFrame, cats: Sequence[str]) -> None:
    needed = ["block_id", *(col.walk_min(c) for c in cats)]
    missing = [c for c in needed if c not in blocks.columns]
    if missing:
        raise InputError(
            f"blocks: missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, blocks.columns))}); pass the blocks table of a run made with "
            "the same profile"
        )


def _metres_per_unit(crs: Any) -> float:
    try:
        return float(crs.axis_info[0].unit_conversion_factor) or 1.0
    except (AttributeError, IndexError, TypeError):
        return 1.0


def _web_frame(
    gdf: gpd.GeoDataFrame, what: str, *, simplify: bool, merge_lines: bool = False,
    preserve_topology: bool = True,
) -> tuple[gpd.GeoDataFrame, Callable[[np.ndarray], np.ndarray] | None]:
    """Drop empty geometry and simplify in a projected CRS: the layer the map draws, and the
    function that takes its x, y to the map's rounded longitude, latitude (``None`` when the
    frame is already in them: 3-D or EPSG:4326 layers are reprojected here).

    A caller that only reads the coordinates applies the function to them itself
    (:func:`~lifecircle.outputs.webmap.binary.outlines`: a city's blocks, whose geometries
    rebuilt with new coordinates cost a second of CPU at a million nodes); :func:`_to_web`
    gives the frame with its geometries moved.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise InputError(
            f"{what}: the layer has no CRS; set the one its coordinates are in with "
            "gdf.set_crs(...) (the engine writes blocks, facilities and edges in a UTM CRS)"
        )
    geoms = gdf.geometry.values
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    frame = gdf if keep.all() else gdf.loc[keep]  # (a city's blocks, copied for nothing)
    if simplify and len(frame):
        if frame.crs.is_geographic:
            frame = frame.to_crs(frame.estimate_utm_crs())
        tolerance = SIMPLIFY_M / _metres_per_unit(frame.crs)
        # Lines simplify one by one (Douglas-Peucker keeps their end points, so junctions stay
        # joined); topology-preserving simplification of the merged network costs minutes on
        # a city, since it checks every part against every other, and on isochrone rings with
        # thousands of holes it is 4x slower than plain Douglas-Peucker.
        frame = frame.set_geometry(
            shapely.simplify(np.asarray(frame.geometry.values), tolerance,
                             preserve_topology=preserve_topology and not merge_lines),
            crs=frame.crs)
        frame = frame.loc[~shapely.is_empty(np.asarray(frame.geometry.values))]
    if merge_lines and len(frame):
        # The network needs no attributes: merge it into long lines (each shared junction is
        # then written once) and keep a single feature.
        parts = shapely.get_parts(np.asarray(frame.geometry.values))
        merged = shapely.line_merge(shapely.multilinestrings(parts))
        frame = gpd.GeoDataFrame(geometry=[merged], crs=frame.crs)
    geoms = np.asarray(frame.geometry.values)
    if shapely.has_z(geoms).any() or frame.crs.is_exact_same(_WGS84):
        frame = frame.to_crs(_WGS84)
        rounded = shapely.transform(np.asarray(frame.geometry.values),
                                    lambda xy: np.round(xy, DECIMALS))
        return frame.set_geometry(rounded, crs=4326), None
    # reprojected and rounded in one pass over the coordinates (as to_crs reprojects)
    to_deg = Transformer.from_crs(frame.crs, _WGS84, always_xy=True)

    def web(xy: np.ndarray) -> np.ndarray:
        return np.round(np.array(to_deg.transform(xy[:, 0], xy[:, 1])).T, DECIMALS)

    return frame, web


def _to_web(
    gdf: gpd.GeoDataFrame, what: str, *, simplify: bool, merge_lines: bool = False,
    preserve_topology: bool = True,
) -> gpd.GeoDataFrame:
    """Drop empty geometry, simplify in a projected CRS, reproject to EPSG:4326 and round
    (:func:`_web_frame`, the geometries moved)."""
    frame, web = _web_frame(gdf, what, simplify=simplify, merge_lines=merge_lines,
                            preserve_topology=preserve_topology)
    if web is None:
        return frame
    geoms = np.asarray(frame.geometry.values)
    points = shapely.get_type_id(geoms) == 0
    moved = geoms.copy()
    # points made anew from their moved coordinates: the same points as shapely.transform
    # gives, in a tenth of the time (it copies each geometry to set its coordinates; 0.6 s
    # of CPU for a city's 120,000 facilities)
    if points.any():
        moved[points] = shapely.points(web(shapely.get_coordinates(geoms[points])))
    if not points.all():
        moved[~points] = shapely.transform(geoms[~points], web)
    return frame.set_geometry(moved, crs=4326)


def _bounds(frames: Sequence[gpd.GeoDataFrame | np.ndarray]
            ) -> tuple[tuple[float, float], tuple[float, float]]:
    """South-west and north-east corners (latitude, longitude) of the frames and boxes
    (``[minx, miny, maxx, maxy]``, NaN when empty) given."""
    boxes = []
    for f in frames:
        box = f if isinstance(f, np.ndarray) else None if f.empty else f.total_bounds
        if box is not None and not np.isnan(box).any():
            boxes.append(box)
    if not boxes:
        raise InputError("nothing to map: blocks, facilities and edges are all empty")
    arr = np.vstack(boxes)
    minx, miny = arr[:, 0].min(), arr[:, 1].min()
    maxx, maxy = arr[:, 2].max(), arr[:, 3].max()
    return (float(miny), float(minx)), (float(maxy), float(maxx))


def _steps(xy: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Coordinates as integers of 10^-DECIMALS degrees, each the step from the previous one
    except at ``starts`` (the first vertex of each run), which stay absolute."""
    q = np.rint(xy * 10.0**DECIMALS).astype(np.int64)
    steps = q.copy()
    steps[1:] -= q[:-1]
    steps[starts] = q[starts]
    return steps


def packed_points(points: np.ndarray) -> list[int]:
    """Points as integers of 10^-DECIMALS degrees in one flat list ``[x0, y0, dx1, dy1, ...]``,
    each point the step from the previous (``unpackPoints`` in ``lifecircle-map.js``)."""
    xy = shapely.get_coordinates(points)
    return _steps(xy, np.zeros(1, dtype=np.int64)).ravel().tolist() if len(xy) else []


def _feature(geom: Any, props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _plain_collection(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    return _collection([_feature(g, {}) for g in frame.geometry.values])


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def _none_if_nan(x: float, digits: int | None = 1) -> float | int | None:
    if not np.isfinite(x):
        return None
    return round(float(x)) if digits is None else round(float(x), digits)
