"""The axes' ticks and labels drawn once for the run's category maps, then reused as pixels.

The category maps of a run share one frame (:func:`lifecircle.outputs.plots.write_figures`):
the same axes, limits, ticks and labels; only the blocks' colours, the facilities, the
legend, the title and the subtitle change. Laying out and drawing the tick labels and axis
labels (matplotlib's glyph by glyph text) was a fifth of each map's drawing, so the first map
is drawn whole and its pixels left of and under the axes box kept (:func:`keep`); the next
maps are drawn without their axis artists and those pixels put back (:func:`drawn_with`).

It is exact, not an approximation: Agg paints each pixel from the artists that touch it, in
their order; a kept pixel lies outside the axes box (whose edges are whole pixels: the maps'
image maps one to one), where only the figure's background, the spines' outer half and the
axis artists paint on every map alike, and :func:`drawn_with` checks that none of the map's
own artists (legend, title, subtitle) comes within :data:`_MARGIN_PX` of them, else it draws
the map whole. Ticks pointing into the axes (a user's matplotlibrc) are drawn whole too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np

__all__ = ["AxisPixels", "drawn_with", "keep"]

#: pixels of room around the kept boxes (antialiased glyph edges spill over a text's box)
_MARGIN_PX = 3


@dataclass(frozen=True)
class AxisPixels:
    """The pixels of a drawn map left of and under its axes box: ``(row0, row1, col0, col1)``
    boxes (NumPy slices of the top-down image) and their RGB pixels."""

    boxes: tuple[tuple[int, int, int, int], ...]
    pixels: tuple[np.ndarray, ...]
    #: the image's shape and the axes box they were kept from (a later map of another size
    #: or with its axes elsewhere is drawn whole)
    shape: tuple[int, ...]
    extents: tuple[float, float, float, float]


def _outside(ax: Any) -> bool:
    """Whether ``ax``'s axis artists paint outside its box only: ticks pointing out, at the
    bottom and left only, no grid lines."""
    return (mpl.rcParams["xtick.direction"] == mpl.rcParams["ytick.direction"] == "out"
            and ax.xaxis.get_ticks_position() == "bottom"
            and ax.yaxis.get_ticks_position() == "left"
            and not any(a.get_tick_params(which=which).get("gridOn")
                        for a in (ax.xaxis, ax.yaxis) for which in ("major", "minor")))


def keep(ax: Any, image: np.ndarray, own: Sequence[Any] = ()) -> AxisPixels | None:
    """The axis artists' pixels of ``image``, ``ax``'s figure just drawn; ``None`` where they
    cannot be reused (ticks into the axes or on its other sides, grid lines, an axes box off
    whole pixels, or one of the map's ``own`` artists near them: its pixels would be put
    back on every later map)."""
    fig = ax.get_figure()
    renderer = fig.canvas.get_renderer()
    height = image.shape[0]
    x0, y0, x1, y1 = ax.bbox.extents
    if not _outside(ax) or any(abs(v - round(v)) > 1e-6 for v in (x0, y0, x1, y1)):
        return None
    x0, y0, x1, y1 = (round(v) for v in (x0, y0, x1, y1))
    xb = ax.xaxis.get_tightbbox(renderer)
    yb = ax.yaxis.get_tightbbox(renderer)
    if xb is None or yb is None:
        return None
    m = _MARGIN_PX
    around = (
        # under the axes box: from its bottom edge (exclusive) down past the x labels, as
        # wide as the box and the labels (the labels' box leaves out the tick marks)
        (height - y0, min(height, height - int(np.floor(xb.y0)) + m),
         max(0, min(x0, int(np.floor(xb.x0))) - m),
         min(image.shape[1], max(x1, int(np.ceil(xb.x1))) + m)),
        # left of it: from the y labels to its left edge (exclusive), as tall as both
        (max(0, height - max(y1, int(np.ceil(yb.y1))) - m),
         min(height, height - min(y0, int(np.floor(yb.y0))) + m),
         max(0, int(np.floor(yb.x0)) - m), x0),
    )
    boxes = tuple(b for b in around if b[0] < b[1] and b[2] < b[3])
    kept = AxisPixels(boxes, tuple(image[r0:r1, c0:c1].copy() for r0, r1, c0, c1 in boxes),
                      image.shape, tuple(ax.bbox.extents))
    return kept if _clear(kept, [a for a in own if not _inside(a)], renderer, height) else None


def _clear(kept: AxisPixels, artists: Sequence[Any], renderer: Any, height: int) -> bool:
    """Whether no artist of ``artists`` comes within the margin of a kept box."""
    m = _MARGIN_PX
    for artist in artists:
        box = artist.get_tightbbox(renderer)  # (an axes' with its labels)
        if box is None:
            continue
        rows = (height - box.y1 - m, height - box.y0 + m)
        cols = (box.x0 - m, box.x1 + m)
        for r0, r1, c0, c1 in kept.boxes:
            if rows[0] < r1 and r0 < rows[1] and cols[0] < c1 and c0 < cols[1]:
                return False
    return True


def _inside(artist: Any) -> bool:
    """Whether ``artist`` is clipped to its axes (so paints inside its box only)."""
    return (artist.axes is not None and artist.get_clip_on()
            and (artist.get_clip_box() is not None or artist.get_clip_path() is not None))


def drawn_with(kept: AxisPixels | None, ax: Any, own: Sequence[Any],
               draw: Callable[[], np.ndarray]) -> np.ndarray:
    """The pixels of ``ax``'s figure (``draw()``) with ``kept`` put back for its axis
    artists, which are then not drawn; drawn whole where ``kept`` is ``None`` or one of the
    figure's ``own`` artists (those not on every map) comes near a kept box."""
    if kept is None or tuple(ax.bbox.extents) != kept.extents:
        return draw()
    fig = ax.get_figure()
    renderer = fig.canvas.get_renderer()
    height = round(fig.bbox.height)
    if ((height, round(fig.bbox.width)) != kept.shape[:2]
            or not _clear(kept, [a for a in own if not _inside(a)], renderer, height)):
        return draw()
    axes = (ax.xaxis, ax.yaxis)
    shown = [a.get_visible() for a in axes]
    for a in axes:
        a.set_visible(False)
    try:
        image = draw()
    finally:
        for a, v in zip(axes, shown, strict=True):
            a.set_visible(v)
    for (r0, r1, c0, c1), pixels in zip(kept.boxes, kept.pixels, strict=True):
        image[r0:r1, c0:c1] = pixels
    return image
