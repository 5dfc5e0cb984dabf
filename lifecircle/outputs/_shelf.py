"""Tables and plain data handed from one of a run's processes to another through a file.

A forked worker and the run share an unnamed temporary file opened before the fork (neither
left behind nor open to others). What goes through it is data, never code: a JSON header
(its length first, 8 bytes little-endian) naming each table's length and CRS, then each table
as Arrow IPC as GeoPandas writes Feather (every column's type kept). The CRS travels as WKT in
the header, each distinct one read once, not as the PROJJSON GeoPandas writes into each table:
PROJ takes ~30-40 ms to read a UTM zone's PROJJSON (its datum ensemble's members looked up)
and ~1 ms its WKT, and a run's tables share one CRS. Used by the
early worker (the facilities it found, :mod:`lifecircle._early`) and the small run's figures
worker (what the figures draw, :mod:`lifecircle.outputs._figure_worker`).
"""

from __future__ import annotations

import io
import json
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
from pyproj import CRS

__all__ = ["put", "take"]

_LENGTH = 8  # bytes: the length of the JSON header


def put(shelf: IO[bytes], header: dict[str, Any], tables: dict[str, gpd.GeoDataFrame]) -> None:
    """Write ``header`` (plain data; NumPy numbers become the Python numbers they hold) and
    ``tables`` (each with one geometry column) into ``shelf``, then flush it."""
    if clash := {"tables", "crs"} & header.keys():
        raise ValueError(f"the shelf's header keeps {sorted(clash)} for itself")
    payloads: dict[str, bytes] = {}
    crs: dict[str, str | None] = {}
    for name, frame in tables.items():
        crs[name] = None if frame.crs is None else frame.crs.to_wkt()
        if frame.crs is not None:  # (in the header: see the module's notes; a copy, as a
            # shallow one shares the caller's geometry array, whose CRS it is)
            frame = frame.set_crs(None, allow_override=True)
        buf = io.BytesIO()
        frame.to_feather(buf, compression="uncompressed")
        payloads[name] = buf.getvalue()
    said = json.dumps({**header, "tables": {name: len(data) for name, data in payloads.items()},
                       "crs": crs}, default=_plain).encode("utf-8")
    shelf.write(len(said).to_bytes(_LENGTH, "little") + said)
    for data in payloads.values():
        shelf.write(data)
    shelf.flush()


def take(shelf: IO[bytes]) -> tuple[dict[str, Any], dict[str, gpd.GeoDataFrame]]:
    """What :func:`put` wrote into ``shelf`` (read from its start): the header and the
    tables."""
    shelf.seek(0)
    header = json.loads(shelf.read(int.from_bytes(shelf.read(_LENGTH), "little")))
    wkt = header.pop("crs")
    crs = {text: CRS.from_wkt(text) for text in set(wkt.values()) if text is not None}
    tables = {name: gpd.read_feather(pa.BufferReader(shelf.read(size)))
              for name, size in header.pop("tables").items()}
    for name, frame in tables.items():
        if wkt[name] is not None:
            frame.set_crs(crs[wkt[name]], inplace=True)
    return header, tables


def _plain(value: Any) -> Any:
    """A value JSON has no type for: a NumPy number as the Python one it holds (exactly),
    anything else as its text (as ``report.json`` writes it)."""
    return value.item() if isinstance(value, np.generic) else str(value)
