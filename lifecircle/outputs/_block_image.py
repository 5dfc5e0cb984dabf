"""The map figures' blocks and streets as pixels, rasterised once per run and coloured per figure.

A run writes one map figure per category plus the deficiency map, all of the same blocks on
the same frame. Drawing a hundred thousand block polygons in each of them (one matplotlib path
object per block, stroked and filled by Agg) took most of a city's figure time, so the blocks
are rasterised once at the figure's own resolution into a *label image* (the block drawn at
each pixel, -1 for none) and the streets once into a transparent image; a figure is then one
lookup of its block colours through the label image, drawn with the streets over it as two
images (:class:`PixelImage`). Its cost no longer depends on the number of blocks.

:func:`label_image` fills polygons by scanlines with numpy over every edge of every block at
once. It is hand-written because the libraries that rasterise polygons
(``rasterio.features.rasterize``, matplotlib's Agg, scikit-image's ``polygon``) take one Python
object per polygon, which is seconds per hundred thousand blocks. The streets are drawn by Agg
(antialiased, with matplotlib's path simplification to the pixel) into an off-screen canvas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from matplotlib.artist import Artist

__all__ = ["BlockRaster", "MapGrid", "PixelImage", "block_raster", "label_image", "map_grid",
           "street_pixels"]

#: a block border is drawn where the median block spans at least this many pixels; below,
#: borders would cover most of the blocks' own colour (a city on one A4 page)
BORDER_MIN_PX = 40.0


@dataclass(frozen=True)
class MapGrid:
    """The pixel grid of a map's axes: ``width`` x ``height`` pixels of ``res`` metres, the
    top left corner at (``x0``, ``y1``) in the blocks' CRS."""

    x0: float
    y1: float
    res: float
    width: int
    height: int

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) in metres, for ``imshow`` and the axes limits."""
        return (self.x0, self.x0 + self.width * self.res,
                self.y1 - self.height * self.res, self.y1)


def map_grid(bounds: tuple[float, float, float, float] | np.ndarray, width: int, height: int,
             *, pad: float = 0.03) -> MapGrid:
    """The grid of ``width`` x ``height`` pixels that shows ``bounds`` (minx, miny, maxx,
    maxy) padded by ``pad`` of their larger side, centred, at one scale in x and y."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    margin = pad * max(maxx - minx, maxy - miny, 1.0)
    res = max((maxx - minx + 2 * margin) / width, (maxy - miny + 2 * margin) / height)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return MapGrid(cx - width * res / 2, cy + height * res / 2, res, width, height)


def _rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ring of the (multi)polygons ``geoms`` and the index of the geometry it is of."""
    multi = np.flatnonzero(shapely.get_type_id(geoms) == 6)
    owner = np.arange(len(geoms))
    if len(multi):  # only multipolygons are split (splitting clones every geometry)
        parts, of = shapely.get_parts(geoms[multi], return_index=True)
        single = np.setdiff1d(owner, multi)
        geoms = np.concatenate([geoms[single], parts])
        owner = np.concatenate([single, multi[of]])
    rings, ring_of = shapely.get_rings(geoms, return_index=True)
    return rings, owner[ring_of]


def label_image(geoms: np.ndarray, grid: MapGrid, *, chunk: int = 50_000) -> np.ndarray:
    """The index of the polygon of ``geoms`` at each pixel of ``grid`` (-1: none).

    A pixel belongs to a polygon when its centre does (even-odd rule per polygon, so holes stay
    empty). Where polygons overlap, the later one wins. A polygon too small or thin to hold a
    pixel centre is given the pixel under its first vertex when that pixel is still empty, so
    that no block vanishes from a city-wide map. Polygons are filled ``chunk`` at a time, which
    bounds the memory of the scanline crossings whatever the number of blocks.
    """
    h, w = grid.height, grid.width
    out = np.full(h * w, -1, dtype=np.int64)
    geoms = np.asarray(geoms, dtype=object)
    small: list[tuple[np.ndarray, np.ndarray]] = []
    for first in range(0, len(geoms), chunk):
        small.append(_fill(out, geoms[first:first + chunk], first, grid))
    if small:  # polygons that hold no pixel centre: the pixel of their first vertex, if free
        ids = np.concatenate([i for i, _ in small])
        where = np.concatenate([p for _, p in small])
        free = out[where] < 0
        out[where[free]] = ids[free]
    return out.reshape(h, w).astype(np.int32)


def _fill(out: np.ndarray, geoms: np.ndarray, offset: int,
          grid: MapGrid) -> tuple[np.ndarray, np.ndarray]:
    """Paint ``offset + i`` on the pixels of ``geoms[i]`` in ``out`` (a flat label image);
    return the polygons that hold no pixel centre and the pixel of their first vertex."""
    h, w = grid.height, grid.width
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    rings, owner = _rings(geoms)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return none
    px = (xy[:, 0] - grid.x0) / grid.res  # pixel units, x to the right, y down from the top
    py = (grid.y1 - xy[:, 1]) / grid.res
    # every edge between consecutive vertices of one ring (rings are closed)
    same = np.flatnonzero(ring[1:] == ring[:-1])
    ax, ay, bx, by = px[same], py[same], px[same + 1], py[same + 1]
    block = owner[ring[same]]
    # the rows whose centre line (r + 0.5) an edge crosses, half-open so that a vertex on a
    # centre line counts once
    lo = np.clip(np.ceil(np.minimum(ay, by) - 0.5), 0, h).astype(np.int64)
    hi = np.clip(np.ceil(np.maximum(ay, by) - 0.5), 0, h).astype(np.int64)
    count = hi - lo
    e = np.repeat(np.arange(len(count)), count)  # the edge of each crossing
    rows = lo[e] + np.arange(len(e)) - (np.cumsum(count) - count)[e]
    t = (rows + 0.5 - ay[e]) / (by[e] - ay[e])
    xs = ax[e] + t * (bx[e] - ax[e])
    # sort by polygon, row, then x (one key: x as a fraction of a row's width; the rows of a
    # polygon are spans [x_2k, x_2k+1) by the even-odd rule)
    key = (block[e] * h + rows).astype(np.float64) + (np.clip(xs, -1, w + 1) + 1) / (w + 3)
    order = np.argsort(key)
    xs, rows, owners = xs[order], rows[order], block[e][order]
    c0 = np.clip(np.ceil(xs[0::2] - 0.5), 0, w).astype(np.int64)
    c1 = np.clip(np.ceil(xs[1::2] - 0.5), 0, w).astype(np.int64)
    span_row, span_owner = rows[0::2], owners[0::2]
    n = np.maximum(c1 - c0, 0)
    span = np.repeat(np.arange(len(n)), n)
    pixel = span_row[span] * w + c0[span] + np.arange(len(span)) - (np.cumsum(n) - n)[span]
    out[pixel] = span_owner[span] + offset
    painted = np.zeros(len(geoms), dtype=bool)
    painted[span_owner[n > 0]] = True
    if painted.all():
        return none
    first_ring = np.full(len(geoms), len(owner), dtype=np.int64)
    first_ring[owner[::-1]] = np.arange(len(owner))[::-1]  # a polygon's first ring
    first_vertex = np.searchsorted(ring, first_ring)
    missing = np.flatnonzero(~painted & (first_vertex < len(px)))
    col = np.floor(px[first_vertex[missing]]).astype(np.int64)
    row = np.floor(py[first_vertex[missing]]).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    return missing[inside] + offset, row[inside] * w + col[inside]


@dataclass(frozen=True)
class BlockRaster:
    """The blocks on a :class:`MapGrid`, ready to colour: ``index`` holds, per pixel, the
    block (0 .. n-1), ``n`` for the background, or ``n + 1 + block`` for a block's border
    pixel; ``stripes`` marks the pixels of the diagonal hatch inside blocks."""

    n: int
    index: np.ndarray
    stripes: np.ndarray

    def rgba(self, colors: np.ndarray, background: np.ndarray, border: np.ndarray, *,
             hatch_color: np.ndarray | None = None) -> np.ndarray:
        """RGBA pixels (uint8, opaque) of the blocks in ``colors`` (one 0-255 RGB row per
        block), the ``background`` between them, their borders blended towards ``border``,
        and, with ``hatch_color``, every block striped in it."""
        body = np.vstack([np.asarray(colors, dtype=np.float64).reshape(-1, 3),
                          np.asarray(background, dtype=np.float64).reshape(1, 3)])
        edge = 0.35 * body[:-1] + 0.65 * np.asarray(border, dtype=np.float64).reshape(1, 3)
        rgb = np.clip(np.rint(np.vstack([body, edge])), 0, 255).astype(np.uint8)
        palette = np.empty((len(rgb), 4), dtype=np.uint8)
        palette[:, :3], palette[:, 3] = rgb, 255
        # one gather of 32-bit pixels through the precomputed index
        out = np.take(palette.view(np.uint32).ravel(), self.index)
        if hatch_color is not None:
            out[self.stripes] = _pixel32(hatch_color)
        return out.view(np.uint8).reshape(*self.index.shape, 4)


def _pixel32(rgb: np.ndarray) -> np.uint32:
    pixel = np.empty(4, dtype=np.uint8)
    pixel[:3], pixel[3] = np.clip(np.rint(np.asarray(rgb).ravel()[:3]), 0, 255), 255
    return pixel.view(np.uint32)[0]


def block_raster(geoms: np.ndarray, grid: MapGrid) -> BlockRaster:
    """Rasterise the blocks ``geoms`` on ``grid`` (:func:`label_image`) with their borders
    (where the median block spans at least :data:`BORDER_MIN_PX` pixels) and hatch."""
    labels = label_image(geoms, grid)
    n = len(geoms)
    index = np.where(labels < 0, n, labels).astype(np.int32)
    edge = _borders(labels)
    if edge is not None:
        index[edge] += n + 1
    rows = np.arange(labels.shape[0])[:, None]
    cols = np.arange(labels.shape[1])[None, :]
    stripes = (((rows + cols) % 14) < 2) & (labels >= 0)
    return BlockRaster(n, index, stripes)


def _borders(labels: np.ndarray) -> np.ndarray | None:
    """Pixels at the lower or right edge of a block (where the label changes and a block is
    on one side), or ``None`` when the median block is smaller than :data:`BORDER_MIN_PX`."""
    inside = labels[labels >= 0]
    if not inside.size:
        return None
    sizes = np.bincount(inside)
    if np.median(sizes[sizes > 0]) < BORDER_MIN_PX:
        return None
    edge = np.zeros(labels.shape, dtype=bool)
    down = labels[1:, :] != labels[:-1, :]
    right = labels[:, 1:] != labels[:, :-1]
    edge[:-1, :] |= down & (labels[:-1, :] >= 0)
    edge[1:, :] |= down & (labels[1:, :] >= 0) & (labels[:-1, :] < 0)
    edge[:, :-1] |= right & (labels[:, :-1] >= 0)
    edge[:, 1:] |= right & (labels[:, 1:] >= 0) & (labels[:, :-1] < 0)
    return edge


def street_pixels(lines: np.ndarray, grid: MapGrid, *, dpi: float, linewidth_pt: float,
                  color: str, alpha: float) -> np.ndarray | None:
    """RGBA pixels (uint8) of the street ``lines`` drawn ``linewidth_pt`` wide in ``color`` at
    ``alpha`` on ``grid``, antialiased by Agg; ``None`` when there are no lines."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    lines = np.asarray(lines, dtype=object)
    if not len(lines):
        return None
    if (shapely.get_type_id(lines) != 1).any():  # multi-part lines: each part its own line
        lines = shapely.get_parts(lines)
    coords, line = shapely.get_coordinates(lines, return_index=True)
    if not len(coords):
        return None
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[np.r_[True, line[1:] != line[:-1]]] = MplPath.MOVETO
    fig = Figure(figsize=(grid.width / dpi, grid.height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    fig.patch.set_alpha(0.0)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    left, right, bottom, top = grid.extent
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    # add_artist: add_patch would measure the data limits segment by segment in Python
    ax.add_artist(PathPatch(MplPath(coords, codes), facecolor="none", edgecolor=color,
                            alpha=alpha, linewidth=linewidth_pt, transform=ax.transData))
    # a city's streets are millions of vertices: Agg draws them in chunks (its cell buffer
    # has a limit) and matplotlib merges what falls within a pixel
    with rc_context({"agg.path.chunksize": 20_000, "path.simplify": True}):
        canvas.draw()
    rgba: Any = np.array(canvas.buffer_rgba())
    return rgba


class PixelImage(Artist):
    """An RGBA image (uint8) that fills its axes box pixel for pixel.

    matplotlib's ``imshow`` resamples every image through masked arrays even when it maps
    one to one onto the canvas, which cost more than drawing the rest of a figure; this
    artist hands the pixels to the renderer as they are when the axes box has the image's
    size in the renderer's pixels (a figure drawn at its own dpi), and picks the nearest
    pixel for any other size.
    """

    def __init__(self, ax: Any, pixels: np.ndarray, *, extent: tuple[float, ...],
                 zorder: float) -> None:
        super().__init__()
        self.axes = ax
        self.set_figure(ax.get_figure())
        self.set_zorder(zorder)
        self._pixels = pixels
        self._extent = tuple(extent)

    def get_array(self) -> np.ndarray:
        """The RGBA pixels, the top row first."""
        return self._pixels

    def get_extent(self) -> tuple[float, ...]:
        """(left, right, bottom, top) in data coordinates."""
        return self._extent

    def get_window_extent(self, renderer: Any = None) -> Any:
        """The axes box it fills (for ``bbox_inches="tight"`` and layouts)."""
        return self.axes.bbox if self.axes is not None else super().get_window_extent()

    def draw(self, renderer: Any) -> None:
        if not self.get_visible() or self.axes is None:
            return
        box = self.axes.bbox
        x0, y0 = round(box.x0), round(box.y0)
        w, h = round(box.x1) - x0, round(box.y1) - y0
        if w <= 0 or h <= 0:
            return
        pixels = self._pixels
        if pixels.shape[:2] != (h, w):
            rows = (np.arange(h) * pixels.shape[0]) // h
            cols = (np.arange(w) * pixels.shape[1]) // w
            pixels = pixels[rows[:, None], cols[None, :]]
        gc = renderer.new_gc()
        gc.set_clip_rectangle(box)
        # the renderer takes the bottom row first
        renderer.draw_image(gc, x0, y0, np.ascontiguousarray(pixels[::-1]))
        gc.restore()
        self.stale = False
