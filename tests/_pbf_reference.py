"""A slow reference builder of ``PbfArrays`` (the decoded-PBF interface) with pyosmium.

Every node, way and relation of a file, in file order, as the flat arrays of the interface
(see ``lifecircle.sources._pbf``): an oracle for the compiled decoder and a stand-in for it
when testing the array scan. Python loops over every object: only for small files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lifecircle.sources._pbf import PbfArrays

__all__ = ["reference_arrays"]


def _ptr(counts: list[int]) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def reference_arrays(path: str | Path) -> PbfArrays:
    """``PbfArrays`` of ``path`` read object by object with pyosmium."""
    import osmium

    vocab: dict[str, int] = {}

    def sid(s: str) -> int:
        return vocab.setdefault(s, len(vocab))

    node_id: list[int] = []
    node_x: list[int] = []
    node_y: list[int] = []
    tagged: list[int] = []
    node_tags: list[list[tuple[int, int]]] = []
    way_id: list[int] = []
    way_refs: list[list[int]] = []
    way_tags: list[list[tuple[int, int]]] = []
    rel_id: list[int] = []
    rel_tags: list[list[tuple[int, int]]] = []
    rel_members: list[list[tuple[int, int, int]]] = []
    kinds = {"n": 0, "w": 1, "r": 2}
    for obj in osmium.FileProcessor(str(path)):
        tags = [(sid(t.k), sid(t.v)) for t in obj.tags]
        if isinstance(obj, osmium.osm.Node):
            if tags:
                tagged.append(len(node_id))
                node_tags.append(tags)
            node_id.append(obj.id)
            node_x.append(obj.location.x)
            node_y.append(obj.location.y)
        elif isinstance(obj, osmium.osm.Way):
            way_id.append(obj.id)
            way_refs.append([n.ref for n in obj.nodes])
            way_tags.append(tags)
        elif isinstance(obj, osmium.osm.Relation):
            rel_id.append(obj.id)
            rel_tags.append(tags)
            rel_members.append([(kinds[m.type], m.ref, sid(m.role)) for m in obj.members])

    def flat_tags(rows: list[list[tuple[int, int]]]) -> tuple[np.ndarray, ...]:
        keys = [k for r in rows for k, _ in r]
        vals = [v for r in rows for _, v in r]
        return (_ptr([len(r) for r in rows]), np.asarray(keys, dtype=np.int32),
                np.asarray(vals, dtype=np.int32))

    n_ptr, n_key, n_val = flat_tags(node_tags)
    w_ptr, w_key, w_val = flat_tags(way_tags)
    r_ptr, r_key, r_val = flat_tags(rel_tags)
    members = [m for r in rel_members for m in r]
    ids = np.asarray(node_id, dtype=np.int64)
    # references as node positions (the first node of an id), a missing one -(k + 1)
    where: dict[int, int] = {}
    for i, n in enumerate(node_id):
        where.setdefault(n, i)
    missing: list[int] = []
    pos = np.empty(sum(len(r) for r in way_refs), dtype=np.int32)
    for k, ref in enumerate(r for refs in way_refs for r in refs):
        if ref in where:
            pos[k] = where[ref]
        else:
            missing.append(ref)
            pos[k] = -len(missing)
    return PbfArrays(
        strings=list(vocab),
        node_id=ids,
        node_x=np.asarray(node_x, dtype=np.int32),
        node_y=np.asarray(node_y, dtype=np.int32),
        tagged_node=np.asarray(tagged, dtype=np.int64),
        node_tag_ptr=n_ptr, node_tag_key=n_key, node_tag_val=n_val,
        way_id=np.asarray(way_id, dtype=np.int64),
        way_ref_ptr=_ptr([len(r) for r in way_refs]),
        way_ref_pos=pos, missing_refs=np.asarray(missing, dtype=np.int64),
        way_tag_ptr=w_ptr, way_tag_key=w_key, way_tag_val=w_val,
        rel_id=np.asarray(rel_id, dtype=np.int64),
        rel_tag_ptr=r_ptr, rel_tag_key=r_key, rel_tag_val=r_val,
        rel_member_ptr=_ptr([len(r) for r in rel_members]),
        rel_member_type=np.asarray([m[0] for m in members], dtype=np.int8),
        rel_member_ref=np.asarray([m[1] for m in members], dtype=np.int64),
        rel_member_role=np.asarray([m[2] for m in members], dtype=np.int32),
        nodes_sorted=bool(ids.size < 2 or (np.diff(ids) > 0).all()),
    )
