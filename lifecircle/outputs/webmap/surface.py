"""The streets of a large network as images: one per category, coloured by walking time.

A Leaflet page draws every street it holds as a path on each pan and zoom, and a city's streets
in GeoJSON are much of the file (21.2 of the 51.6 MB of the 268k-node mosaic's map). Above
:data:`STREET_IMAGE_ABOVE_EDGES` edges the map therefore shows the streets as images instead:
the edges are burnt once into a grid in Web Mercator pixel space (EPSG:3857, the space Leaflet
stretches an ``L.imageOverlay`` in, so the image stays aligned at every zoom and latitude), and
each category colours that grid by the walking time at each edge's midpoint, in the map's time
bins and colours. A grey image of the whole network stands in for the street lines in the first
view. The images are palette PNGs (a few colours, index 0 transparent) embedded in
the page as ``data:`` URLs, so the map stays one file that opens offline.

The threshold: the streets as lines cost about 57 bytes of page an edge (21.2 MB for the
368,298 edges of the 268k-node Nanjing mosaic, whose map held 51 MB and took twice as long to
open as with images), so at 50,000 edges about 3 MB, which Leaflet's canvas still redraws
smoothly, and lines stay sharp when zoomed in. Above it the images win: their size grows with
the streets per pixel, not the edges (3.4 MB for the mosaic's grey image and five categories
with data at 4096 x 3268 pixels of 25 Web Mercator metres, as PNG; 6.9 MB as WebP for 2 x 2
copies of it, 1.47 million edges, at 4096 x 3305 pixels of 50 m).

The images are hidden by the page once zoomed in more than two levels past their own detail
(an image pixel four screen pixels wide), where they would be smeared bands over the blocks.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from .._png import palette_png
from .style import BIN_COLORS, UNREACHABLE_COLOR, classify_minutes

__all__ = [
    "FINEST_PX_M",
    "ISO_IMAGE_MAX_VERTICES",
    "MAX_IMAGE_PX",
    "STREET_IMAGE_ABOVE_EDGES",
    "band_images",
    "edge_minutes",
    "image_grid",
    "street_images",
    "use_street_images",
]

#: Networks with more edges than this are drawn as images, not lines.
STREET_IMAGE_ABOVE_EDGES = 50_000
#: The longer side of a street image, in pixels: 4096 px (16.8 M one-byte pixels before PNG
#: compression, 67 MB decoded as RGBA by a browser for the one image on show) over a 40 km city
#: is about 10 Web Mercator metres a pixel, one pixel a street at zoom 14.
MAX_IMAGE_PX = 4096
#: Never finer than this many Web Mercator units a pixel (zoom 16's pixel, 2.39 m at the
#: equator): a district does not need a larger image than its streets at zoom 16.
FINEST_PX_M = 156_543.033928 / 2**16
#: Isochrones with more vertices than this are not burnt into images: rasterio reads every
#: vertex through Python (about 4 s a million on a busy 2-core machine), and a city's bands
#: have tens of millions (4.1 million for 7 x 7 copies of one Nanjing district).
ISO_IMAGE_MAX_VERTICES = 1_000_000
#: Colour of the streets in the first view (the grey of the street lines).
NETWORK_COLOR = "#5f6b73"


def use_street_images(n_edges: int, street_image: bool | None) -> bool:
    """Whether the map draws the streets as images: ``street_image``, or by size when ``None``."""
    return n_edges > STREET_IMAGE_ABOVE_EDGES if street_image is None else bool(street_image)


def edge_minutes(
    network: Any, access: Mapping[str, Any], profile: Any = None,
) -> dict[str, np.ndarray]:
    """Walking minutes at the midpoint of every edge, per category.

    Parameters
    ----------
    network
        The :class:`~lifecircle.network.WalkNetwork` searched (edge ``i`` is row ``i`` of its
        ``edges_gdf()``).
    access
        ``{category: CategoryAccess}``: the node distances of each category's search.
    profile
        The run's profile: an edge its category's group may not use (``usable_<group>``) is
        left uncoloured. Without it every edge is coloured.

    Returns
    -------
    dict
        ``{category: minutes per edge}``, NaN where neither end is reached or the category's
        group may not use the edge. The midpoint is nearer one end than the walk along the
        edge, so its time is ``min(d_u, d_v) + length / 2`` at the category's speed (slope
        weights aside: these colour the map, the block times are the figures).
    """
    u, v = network.edge_u, network.edge_v
    half = np.asarray(network.edge_length_m, dtype=np.float64) / 2.0
    masks = getattr(network, "group_masks", {}) or {}
    out: dict[str, np.ndarray] = {}
    for c, a in access.items():
        dist = np.asarray(a.nodes.dist_m, dtype=np.float64)
        # in place: a city's 1.5 million edges a category
        minutes = np.minimum(dist[u], dist[v])
        minutes += half
        minutes /= float(a.speed_kmh) * 1000.0 / 60.0
        minutes[~np.isfinite(minutes)] = np.nan
        group = profile.group_of(c).name if profile is not None else None
        if group in masks:
            minutes[~np.asarray(masks[group], dtype=bool)] = np.nan
        out[c] = minutes
    return out


def _image(index: np.ndarray, colors: Sequence[str], alphas: Sequence[float] | None = None) -> str:
    """An image (index 0 transparent, ``k`` the colour ``colors[k - 1]``, with opacity
    ``alphas[k - 1]`` when given) as a palette PNG data URL (:func:`~lifecircle.outputs._png.
    palette_png`: four times faster to write than lossless WebP for 5 % more bytes)."""
    return "data:image/png;base64," + base64.b64encode(
        palette_png(index, colors, alphas)).decode("ascii")


def image_grid(bounds_3857: Sequence[float]) -> tuple[float, int, int]:
    """Pixel size (Web Mercator units) and ``width``, ``height`` of the grid over ``bounds``."""
    minx, miny, maxx, maxy = (float(b) for b in bounds_3857)
    span = max(maxx - minx, maxy - miny, FINEST_PX_M)
    px = max(span / MAX_IMAGE_PX, FINEST_PX_M)
    width = max(1, int(np.ceil((maxx - minx) / px)))
    height = max(1, int(np.ceil((maxy - miny) / px)))
    return px, width, height


def _burn_kernel(burnt: np.ndarray, pixels: np.ndarray,
                 line: np.ndarray) -> None:  # pragma: no cover - compiled
    """Burn the segments between consecutive vertices of the same line into ``burnt``, in
    order: ``1 + line`` at every sample, at most a pixel apart, clipped to the grid."""
    height, width = burnt.shape
    for i in range(line.shape[0] - 1):
        if line[i + 1] != line[i]:
            continue
        ax, ay = pixels[i, 0], pixels[i, 1]
        dx, dy = pixels[i + 1, 0] - ax, pixels[i + 1, 1] - ay
        steps = np.int64(np.ceil(max(abs(dx), abs(dy)))) + 1
        div = steps - 1 if steps > 1 else 1
        value = line[i] + 1
        for k in range(steps):
            t = k / div
            col = min(max(np.int64(np.floor(ax + t * dx)), 0), width - 1)
            row = min(max(np.int64(np.floor(ay + t * dy)), 0), height - 1)
            burnt[row, col] = value


@cache
def _burner() -> Any:
    from ..._kernels import compile_kernel

    return compile_kernel(_burn_kernel)


def _burn(pixels: np.ndarray, line: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A grid of ``shape`` holding 1 + the line burnt into each pixel (0: none).

    ``pixels`` are the lines' vertices in pixel units (column, row from the top-left corner),
    ``line`` the line of each vertex. Each segment is sampled at most a pixel apart (a DDA
    line, 8-connected), in order (where lines cross, the later line's number stays).
    Hand-written because rasterio's ``rasterize`` reads every geometry through Python (about
    150 us each: minutes for a million edges), and datashader would be a large dependency for
    this one use; compiled (numba) because numpy's version held ~100 bytes of temporaries a
    sample and took 4x the time.
    """
    burnt = np.zeros(shape, dtype=np.int32)
    _burner()(burnt, np.ascontiguousarray(pixels, dtype=np.float64),
              np.ascontiguousarray(line, dtype=np.int64))
    return burnt


def street_images(
    edges: Any, cats: Sequence[str], minutes: Mapping[str, np.ndarray] | None,
) -> dict[str, Any] | None:
    """The street images of the map's data block, or ``None`` when there is no street.

    Parameters
    ----------
    edges
        The edges as a GeoDataFrame in any projected or geographic CRS, rows in the order of
        the arrays in ``minutes``.
    cats
        The profile's categories, in the map's order.
    minutes
        ``{category: minutes per edge}`` (see :func:`edge_minutes`); a category without an
        entry gets no image (its view then shows the grey network).

    Returns
    -------
    dict or None
        ``bounds`` ``[[south, west], [north, east]]`` of the images in degrees (the grid's
        corners, exact in EPSG:3857), ``px`` the pixel size in Web Mercator units, ``size``
        ``[width, height]``, ``grid`` ``[west, north, px, width, height]`` in Web Mercator
        units (for :func:`band_images`; not for the page), ``network`` the grey image and
        ``cats`` one image (or ``None``) per category, all as ``data:image/png`` URLs.
    """
    import shapely
    from pyproj import Transformer

    geoms = np.asarray(edges.geometry.values)
    xy, row_of = shapely.get_coordinates(geoms, return_index=True)
    if not len(xy):
        return None
    if edges.crs is None or not edges.crs.equals(3857):
        # in place: a city's vertices are hundreds of MB in each copy
        to_web = Transformer.from_crs(edges.crs or 4326, 3857, always_xy=True)
        x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
        to_web.transform(x, y, inplace=True)
        xy[:, 0], xy[:, 1] = x, y
    else:
        x, y = xy[:, 0], xy[:, 1]
    # the box from each column alone (a reduction along the rows of xy takes 3x as long)
    minx, maxx, miny, maxy = x.min(), x.max(), y.min(), y.max()
    del x, y
    px, width, height = image_grid((minx, miny, maxx, maxy))
    # centre the grid on the streets' box (it is at most a pixel larger); the vertices in
    # pixel units (column, row from the top-left corner), in place
    x0 = (minx + maxx - width * px) / 2.0
    y1 = (miny + maxy + height * px) / 2.0
    xy[:, 0] -= x0
    xy[:, 1] = y1 - xy[:, 1]
    xy /= px
    burnt = _burn(xy, row_of, (height, width))
    del xy, row_of
    street = burnt > 0
    at = np.flatnonzero(street)  # the street pixels, found once for every category's image
    row = burnt.ravel()[at] - 1
    del burnt
    colours = [*BIN_COLORS, UNREACHABLE_COLOR]

    def coloured(values: np.ndarray) -> str:
        index = np.zeros(height * width, dtype=np.uint8)
        index[at] = (classify_minutes(values).astype(np.uint8) + 1)[row]
        return _image(index.reshape(height, width), colours)

    to_deg = Transformer.from_crs(3857, 4326, always_xy=True)
    west, south = to_deg.transform(x0, y1 - height * px)
    east, north = to_deg.transform(x0 + width * px, y1)
    return {
        "bounds": [[float(south), float(west)], [float(north), float(east)]],
        "px": float(px),
        "size": [width, height],
        "grid": [float(x0), float(y1), float(px), width, height],
        "network": _image(street.astype(np.uint8), [NETWORK_COLOR]),
        "cats": [coloured(np.asarray(minutes[c], dtype=np.float64))
                 if minutes is not None and c in minutes else None for c in cats],
    }


def band_images(
    isochrones: Any, rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray] | None],
    grid: Sequence[float], colors: Sequence[str],
) -> list[dict[str, Any] | None]:
    """Each category's isochrone bands as one image on the streets' grid, or ``None``.

    Isochrone polygons are detailed (1.7 MB of GeoJSON for one 778-edge district of Nanjing):
    with the streets as images, the bands are burnt into the same Web Mercator grid instead
    (nearer bands over wider ones, each band's opacity in the palette), a few hundred kB to
    1 MB a category; above :data:`ISO_IMAGE_MAX_VERTICES` the caller leaves them out.

    Parameters
    ----------
    isochrones
        The isochrone polygons (GeoDataFrame, any CRS).
    rows
        Per category, the rows to draw, their bands and opacities
        (:func:`~lifecircle.outputs.webmap.layers.isochrone_rows`).
    grid
        ``[west, north, px, width, height]`` of :func:`street_images`.
    colors
        Per category, the colour of its bands.

    Returns
    -------
    list
        Per category ``{"img": data URL, "b": bands in minutes}`` or ``None``.
    """
    from affine import Affine
    from rasterio.features import rasterize

    x0, y1, px = float(grid[0]), float(grid[1]), float(grid[2])
    shape = (int(grid[4]), int(grid[3]))
    geoms = np.asarray(isochrones.to_crs(3857).geometry.values)
    out: list[dict[str, Any] | None] = []
    for entry, color in zip(rows, colors, strict=True):
        if entry is None:
            out.append(None)
            continue
        order, bands, opacity = entry
        levels = sorted(set(bands.tolist()), reverse=True)  # widest first: index 1
        index = rasterize([(g, levels.index(b) + 1) for g, b in zip(geoms[order], bands,
                                                                     strict=True)],
                          out_shape=shape, transform=Affine(px, 0.0, x0, 0.0, -px, y1), fill=0,
                          dtype="uint8")
        alpha = [float(opacity[list(bands).index(b)]) for b in levels]
        out.append({"img": _image(index, [color] * len(levels), alpha),
                    "b": sorted(levels)})
    return out
