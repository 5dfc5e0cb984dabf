"""Read local OpenStreetMap files; the online path is :mod:`.online` (osmnx).

A ``.pbf`` file is decoded straight into arrays (:mod:`._pbf`) and scanned with numpy
(:mod:`._pbf_scan`); other files (``.osm``, ``.osm.gz``, ``.osm.bz2``), and PBF files the
decoder does not handle (other blob compressions), are read by two filtered pyosmium passes
(:mod:`._osm_pass`). Both collect the same things by the same rules (walkable ways with node
coordinates, points of interest, residential land use, buildings, gates) and share the
assembly (:mod:`._osm_assemble`). pyosmium was measured fastest of pyosmium, pyrosm and
``osmnx.graph_from_xml`` on the shared extracts (see ``scripts/benchmark.py loaders``). The
file checks here (:func:`xml_prolog`, :func:`refuse_dtd`) also guard GraphML.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import InputFileError
from .._memory import no_cyclic_gc, release_freed, small_pages
from . import osm_model
from .access_tags import ACCESS_KEYS, is_barrier_node, way_access_tags

# the data model and tag vocabulary live in .osm_model; code that imports them from here (this
# module's public names before the split, and the old code the speed tests compare with) still
# finds them
from .osm_model import *  # noqa: F403
from .osm_model import AREA_LANDUSE, BLOCK_BARRIERS, POI_KEYS, OSMData, is_walkable
from .tables import check_regular_file, read_head

__all__ = [*osm_model.__all__, "NETWORK_TABLES", "read_osm", "release_tables"]

log = logging.getLogger(__name__)

#: ``on_walkable`` of :func:`read_osm`: called with the walkable ways' references, their
#: offsets per way, longitudes and latitudes, and the references' ranks by node id or None
#: (see ``_pbf_scan.scan_arrays``)
Walkable = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], None]

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZ": "bzip2",
}


#: the extensions :func:`read_osm` reads (GraphML goes to ``WalkNetwork.from_graphml``)
_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2", ".xml", ".xml.gz",
                 ".xml.bz2")


def _looks_like(head: bytes) -> str:
    """`` (it looks like ...: rename it to ...)`` from a file's first bytes, or nothing."""
    if b"OSMHeader" in head[:64]:
        return " (it looks like an OSM PBF extract: rename it to .osm.pbf)"
    if head[:2] in _MAGIC:
        suffix = {"gzip": ".osm.gz", "bzip2": ".osm.bz2"}[_MAGIC[head[:2]]]
        return f" (it is {_MAGIC[head[:2]]}-compressed: if it holds OSM XML, name it {suffix})"
    text = head.lstrip().lower()
    if b"<osm" in text:
        return " (it looks like OSM XML: rename it to .osm)"
    if b"<graphml" in text:
        return " (it looks like GraphML: rename it to .graphml)"
    return ""


def _sniff(path: Path) -> None:
    """Refuse files that cannot be OSM data before handing them to the C++ reader."""
    if not path.exists():
        raise InputFileError(path, "file not found", "check the path")
    if path.is_dir():
        raise InputFileError(
            path,
            "is a directory, not an OSM file",
            "give a .osm.pbf, .osm, .osm.gz, .osm.bz2 or .graphml file",
        )
    check_regular_file(path, fix="download or export the extract again")
    head = read_head(path, 4096)
    name = path.name.lower()
    if not name.endswith(_OSM_SUFFIXES):
        raise InputFileError(
            path,
            f"has an extension ({path.suffix or 'none'}) that is not an OSM or GraphML file"
            + _looks_like(head),
            f"accepted: {', '.join(_OSM_SUFFIXES)} and .graphml",
        )
    if name.endswith((".osm", ".xml", ".osm.gz", ".osm.bz2", ".xml.gz", ".xml.bz2")):
        try:
            text = xml_prolog(path, head)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFileError(
                path, f"compressed data is corrupt ({exc})", "download the extract again"
            ) from None
        lowered = text.lstrip().lower()
        if lowered.startswith((b"<!doctype html", b"<html")):
            raise InputFileError(
                path,
                "is an HTML page, not OSM data (a failed download?)",
                "download the extract again",
            )
        refuse_dtd(path, lowered, kind="OSM XML")
        if b"<osm" not in lowered:
            raise InputFileError(
                path,
                "does not look like OSM XML (no <osm> element)",
                "give an OSM XML or PBF extract",
            )
    elif name.endswith(".pbf"):
        # a PBF file starts with a 4-byte header length then a BlobHeader naming "OSMHeader"
        if b"OSMHeader" not in head[:64]:
            kind = "an HTML page" if head.lstrip()[:1] == b"<" else "not an OSM PBF file"
            raise InputFileError(
                path,
                f"is {kind} (no OSMHeader block)",
                "download the extract again; vector tiles (.mvt/.pbf tiles) are not OSM extracts",
            )


#: how much of an XML file's (decompressed) start is searched for the root element
_PROLOG_LIMIT = 1 << 20
_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


def xml_prolog(path: Path, head: bytes) -> bytes:
    """The start of an XML file up to its root element, comments removed.

    A DOCTYPE may follow a long comment; searching only a fixed-size head would miss it.
    Reads at most :data:`_PROLOG_LIMIT` bytes (decompressed).
    """
    opener: Any = (
        gzip.open if head[:2] == b"\x1f\x8b" else bz2.open if head[:2] == b"BZ" else open
    )
    text = b""
    with opener(path, "rb") as fh:
        while len(text) < _PROLOG_LIMIT:
            chunk = fh.read(65536)
            if not chunk:
                break
            text += chunk
            stripped = _COMMENT.sub(b"", text)
            if b"<!--" not in stripped and re.search(rb"<[A-Za-z_]", stripped):
                return stripped
    return _COMMENT.sub(b"", text)


def refuse_dtd(path: Path, prolog: bytes, *, kind: str) -> None:
    """Refuse an XML prolog (lower-cased, from :func:`xml_prolog`) with DTD declarations.

    Neither OSM XML nor GraphML needs a DOCTYPE; entity declarations are how billion-laughs
    expansion and external-entity reads start, so they are refused before any XML parser
    sees them.
    """
    if b"<!doctype" in prolog or b"<!entity" in prolog:
        raise InputFileError(
            path,
            f"{kind} with a DOCTYPE or entity declarations is refused "
            "(entity expansion is a known attack)",
            "export the data without a DOCTYPE",
        )


def read_osm(path: str | Path, *,
             on_ways: Callable[[OSMData], Callable[[], object]] | None = None,
             on_walkable: Walkable | None = None) -> OSMData:
    """Read a local OSM file into arrays (see :mod:`lifecircle.sources._pbf_scan` for PBF
    files, :mod:`lifecircle.sources._osm_pass` for the others).

    Ways that reference nodes missing from a clipped extract are cut at the missing nodes (the
    count is in ``stats``); a truncated or corrupt file raises :class:`InputFileError` and no
    partial data is returned. ``on_ways`` is called with the partial data once its walkable
    ways are read, before the areas are assembled, and the function it returns once the
    building and POI tables are made (see ``_osm_assemble.osm_data``). ``on_walkable`` is
    called earlier still, by the PBF scan only, with the walkable ways' ``refs``,
    ``way_ptr``, ``lon``, ``lat`` (those ``on_ways`` gets as ``OSMData.refs``, ``way_ptr``,
    ``ref_lon``, ``ref_lat``) and the references' ranks by node id (or None) as soon as it
    has them, before it lays out the areas; it must not change them.
    """

    from . import _osm_pass
    from ._osm_assemble import from_scan, osm_data

    path = Path(path)
    _sniff(path)
    with no_cyclic_gc(), small_pages():
        collected = _scan_pbf(path, on_walkable) if path.name.lower().endswith(".pbf") \
            else None
        if collected is None:
            collected = from_scan(_scan(path, _osm_pass))
        return osm_data(path, collected, on_ways)


#: the :class:`OSMData` tables nothing after the network reads (the ways, their nodes and
#: step-free facts), plus the vacant land only siting candidates read
NETWORK_TABLES = ("way_ids", "way_highway", "way_name", "refs", "way_ptr", "ref_lon", "ref_lat",
                  "way_access", "barrier_nodes", "vacant")


def release_tables(data: OSMData, names: tuple[str, ...]) -> None:
    """Empty the :class:`OSMData` tables ``names`` (field names), for a run that has read
    them and will not again: at a million nodes the footprints alone are ~0.4 GB.

    ``data`` is partial afterwards; only a holder that reads the file again for anything
    else may keep it (:meth:`lifecircle.result.Result.release_osm`).
    """
    empty = OSMData(data.path)
    for name in names:
        setattr(data, name, getattr(empty, name))


def _scan_pbf(path: Path, on_walkable: Walkable | None = None) -> Any:
    """A PBF file decoded to arrays (:mod:`._pbf`) and scanned (:mod:`._pbf_scan`); None
    when the decoder does not handle the file (the pyosmium passes read it then).

    The decoded arrays are dropped on return: only what the run keeps outlives this call.
    """
    from ._pbf import PbfError, PbfUnsupported, read_pbf

    try:
        arrays = read_pbf(path)
    except PbfUnsupported as exc:
        log.debug("%s: %s; reading it with pyosmium", path, exc)
        return None
    except PbfError as exc:
        raise InputFileError(
            path,
            f"could not be read as OSM data ({exc})",
            "the file is truncated or corrupt; download or export the extract again",
        ) from None
    release_freed()  # the decoder's block buffers go back before the scan's arrays come
    collected = _scan_decoded(arrays, on_walkable)
    release_freed()  # and the scan's temporaries before the polygons are laid out
    return collected


def _scan_decoded(arrays: Any, on_walkable: Walkable | None = None) -> Any:
    """The array scan of decoded PBF arrays, with this reader's rules."""
    from ._pbf_scan import scan_arrays

    return scan_arrays(
        arrays,
        poi_keys=POI_KEYS,
        area_landuse=AREA_LANDUSE,
        is_walkable=is_walkable,
        is_gate=_is_gate,
        gate_keys=_GATE_KEYS,
        is_barrier_node=is_barrier_node,
        barrier_node_keys=BARRIER_NODE_KEYS,
        way_access=way_access_tags,
        way_access_keys=WAY_ACCESS_KEYS,
        line_barriers=BLOCK_BARRIERS,
        on_walkable=on_walkable,
    )


def _scan(path: Path, _osm_pass: Any) -> Any:
    """The passes, with pyosmium's errors turned into :class:`InputFileError`."""
    import osmium

    try:
        return _osm_pass.scan(
            str(path),
            poi_keys=POI_KEYS,
            area_landuse=AREA_LANDUSE,
            is_walkable=is_walkable,
            is_gate=_is_gate,
            line_barriers=BLOCK_BARRIERS,
            node_hooks=(_barrier_node,),
            walkable_hooks=(_way_access,),
        )
    except osmium.InvalidLocationError as exc:
        raise InputFileError(
            path,
            f"a node has malformed coordinates ({exc})",
            "the file is corrupt or hand-edited; export the extract again",
        ) from None
    except ValueError as exc:
        # libosmium's XML parser: keys and values beyond its limit (1024 bytes; OSM's own
        # limit is 255 characters), ids that are not numbers, ...
        fix = (
            "OSM allows at most 255 characters per tag key or value; fix or drop that tag"
            if "too long" in str(exc)
            else "the file is corrupt or hand-edited; export the extract again"
        )
        raise InputFileError(path, f"could not be read as OSM data ({exc})", fix) from None
    except RuntimeError as exc:
        if "entities" in str(exc):
            raise InputFileError(
                path,
                f"OSM XML with entity references is refused ({exc})",
                "export the data without a DOCTYPE or entities",
            ) from None
        # libosmium reports truncated, bit-flipped or mis-typed input only after handing
        # over some objects: throw the partial state away.
        raise InputFileError(
            path,
            f"could not be read as OSM data ({exc})",
            "the file is truncated or corrupt; download or export the extract again",
        ) from None


#: the keys :func:`~.access_tags.is_barrier_node` and :func:`~.access_tags.way_access_tags`
#: read (the array scan calls them on dicts of these keys only)
BARRIER_NODE_KEYS = ("kerb", "wheelchair")
WAY_ACCESS_KEYS = (*ACCESS_KEYS, "footway")


def _barrier_node(tags: dict[str, str], node: Any, raw: Any) -> None:
    """Collect the ids of nodes that bar step-free passage (see ``access_tags``)."""
    if is_barrier_node(tags):
        raw.extra.setdefault("barrier_nodes", []).append(node.id)


def _way_access(tags: dict[str, str], index: int, raw: Any) -> None:
    """Keep a walkable way's step-free tags, by way index (see ``access_tags``)."""
    if access := way_access_tags(tags):
        raw.extra.setdefault("way_access", {})[index] = access


#: the keys :func:`_is_gate` reads
_GATE_KEYS = ("entrance", "barrier")


def _is_gate(tags: Any) -> bool:
    return "entrance" in tags or tags.get("barrier") == "gate"
