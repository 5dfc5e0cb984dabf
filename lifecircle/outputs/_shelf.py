"""Tables and plain data handed from one of a run's processes to another through a file.

A forked worker and the run share an unnamed temporary file opened before the fork (neither
left behind nor open to others). What goes through it is data, never code: a JSON header
(its length first, 8 bytes little-endian) naming each table's length, then each table as
Arrow IPC as GeoPandas writes Feather (every column's type and the CRS kept). Used by the
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

__all__ = ["put", "take"]

_LENGTH = 8  # bytes: the length of the JSON header


def put(shelf: IO[bytes], header: dict[str, Any], tables: dict[str, gpd.GeoDataFrame]) -> None:
    """Write ``header`` (plain data; NumPy numbers become the Python numbers they hold) and
    ``tables`` into ``shelf``, then flush it."""
    payloads: dict[str, bytes] = {}
    for name, frame in tables.items():
        buf = io.BytesIO()
        frame.to_feather(buf, compression="uncompressed")
        payloads[name] = buf.getvalue()
    said = json.dumps({**header, "tables": {name: len(data) for name, data in payloads.items()}},
                      default=_plain).encode("utf-8")
    shelf.write(len(said).to_bytes(_LENGTH, "little") + said)
    for data in payloads.values():
        shelf.write(data)
    shelf.flush()


def take(shelf: IO[bytes]) -> tuple[dict[str, Any], dict[str, gpd.GeoDataFrame]]:
    """What :func:`put` wrote into ``shelf`` (read from its start): the header and the
    tables."""
    shelf.seek(0)
    header = json.loads(shelf.read(int.from_bytes(shelf.read(_LENGTH), "little")))
    tables = {name: gpd.read_feather(pa.BufferReader(shelf.read(size)))
              for name, size in header.pop("tables").items()}
    return header, tables


def _plain(value: Any) -> Any:
    """A value JSON has no type for: a NumPy number as the Python one it holds (exactly),
    anything else as its text (as ``report.json`` writes it)."""
    return value.item() if isinstance(value, np.generic) else str(value)
