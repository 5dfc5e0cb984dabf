"""Profile categories matched against a whole POI table at once.

The same rules as :meth:`lifecircle.profiles.schema.TagRule.matches` (every key present,
values any of a set or an OSM ``a;b`` list, ``name_contains`` / ``name_excludes`` words in
``name`` + ``name:zh``), evaluated column-wise: each tag key a rule reads becomes one array
over the POIs, each rule is decided once per *distinct* value of its keys (a city repeats a
few hundred values over hundreds of thousands of POIs), and the result is mapped back with
the value codes. Matching POI by POI in Python was most of the facilities stage at city scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd

from ..profiles import Profile
from ..profiles.schema import TagRule

__all__ = ["TagColumns", "category_matches"]


class TagColumns:
    """The values of chosen tag keys over a list of flat tag tuples (``(k1, v1, k2, ...)``).

    Parameters
    ----------
    tags
        One flat tuple per POI (as :class:`~lifecircle.sources._osm_columns.PoiTable` keeps
        them).
    keys
        The keys to extract; each becomes an object array, ``None`` where a POI lacks it.
    """

    def __init__(self, tags: Sequence[tuple[str, ...]], keys: Sequence[str]) -> None:
        n = len(tags)
        self.n = n
        self.columns: dict[str, np.ndarray] = {k: np.full(n, None, dtype=object)
                                               for k in dict.fromkeys(keys)}
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._names: tuple[np.ndarray, np.ndarray] | None = None
        if not n or not self.columns:
            return
        # chunks of POIs keep the flattened (key, value) arrays small at city scale
        # (object dtype, here and for the keys looked up: pandas would convert every key to
        # an Arrow string first)
        index = pd.Index(list(self.columns), dtype=object)
        for lo in range(0, n, _CHUNK):
            part = tags[lo : lo + _CHUNK]
            sizes = np.fromiter(map(len, part), dtype=np.int64, count=len(part)) // 2
            flat = np.fromiter(chain.from_iterable(part), dtype=object,
                               count=int(sizes.sum()) * 2)
            code = index.get_indexer(pd.Index(flat[0::2], dtype=object, copy=False))
            row = np.repeat(np.arange(lo, lo + len(part)), sizes)
            values = flat[1::2]
            for j, column in enumerate(self.columns.values()):
                sel = code == j
                column[row[sel]] = values[sel]

    def codes(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, uniques)`` of a key's column; code ``-1`` where the key is absent."""
        if key not in self._codes:
            codes, uniques = pd.factorize(self.columns[key], use_na_sentinel=True)
            self._codes[key] = (codes, np.asarray(uniques, dtype=object))
        return self._codes[key]

    def names(self) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, uniques)`` of the ``name + " " + name:zh`` text rules search in."""
        if self._names is None:
            # joined as object arrays (numpy calls str's + per POI): a Series of them is
            # converted to pandas' Arrow strings first, twice the time at city scale
            name, zh = self.columns["name"], self.columns["name:zh"]
            text = np.where(pd.isna(name), "", name) + " " + np.where(pd.isna(zh), "", zh)
            codes, uniques = pd.factorize(text)
            self._names = (codes, np.asarray(uniques, dtype=object))
        return self._names

    def name_has_any(self, words: Sequence[str]) -> np.ndarray:
        """Per POI: whether its name text contains any of ``words``."""
        codes, uniques = self.names()
        text = pd.Series(uniques, dtype=object)
        hit = np.zeros(len(uniques), dtype=bool)
        for w in words:
            hit |= text.str.contains(w, regex=False).to_numpy(dtype=bool)
        return hit[codes]

    def rule_mask(self, rule: TagRule) -> np.ndarray:
        """Per POI: whether ``rule`` matches its tags (as :meth:`TagRule.matches`)."""
        ok = np.ones(self.n, dtype=bool)
        if rule.name_contains:
            ok &= self.name_has_any(rule.name_contains)
        if rule.name_excludes:
            ok &= ~self.name_has_any(rule.name_excludes)
        for key, values in rule.conditions:
            codes, uniques = self.codes(key)
            if values is None:
                ok &= codes >= 0
                continue
            allowed = set(values)
            good = np.fromiter(
                (u in allowed or any(p.strip() in allowed for p in u.split(";"))
                 for u in uniques.tolist()),
                dtype=bool, count=len(uniques),
            )
            ok &= np.append(good, False)[codes]  # code -1 (absent) reads the False
        return ok


#: POIs whose tags are flattened at a time
_CHUNK = 1 << 16


def rule_keys(profile: Profile) -> list[str]:
    """Every tag key the profile's rules read, plus the name keys."""
    keys = [k for cat in profile.categories.values() for rule in cat.tags for k in rule.keys]
    return list(dict.fromkeys([*keys, "name", "name:zh", "name:en"]))


def category_matches(
    cols: TagColumns, profile: Profile, *, name_keywords: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (POI, category) match, in POI order then the profile's category order.

    Returns ``(poi, category_index, by_keyword, rule)``: ``by_keyword`` marks matches by a
    name keyword (a POI no tag rule matches), ``rule`` the first matching tag rule of the
    category (``-1`` for keyword matches).
    """
    cats = list(profile.categories.values())
    pois: list[np.ndarray] = []
    which: list[np.ndarray] = []
    rules: list[np.ndarray] = []
    tagged = np.zeros(cols.n, dtype=bool)
    for c, cat in enumerate(cats):
        first = np.full(cols.n, -1, dtype=np.int64)
        for r in range(len(cat.tags) - 1, -1, -1):  # the earliest matching rule wins
            first[cols.rule_mask(cat.tags[r])] = r
        hit = np.flatnonzero(first >= 0)
        tagged[hit] = True
        pois.append(hit)
        which.append(np.full(hit.size, c, dtype=np.int64))
        rules.append(first[hit])
    keyword = [np.zeros(p.size, dtype=bool) for p in pois]
    if name_keywords:
        for c, cat in enumerate(cats):
            if not cat.name_keywords:
                continue
            hit = np.flatnonzero(~tagged & cols.name_has_any(cat.name_keywords))
            pois.append(hit)
            which.append(np.full(hit.size, c, dtype=np.int64))
            rules.append(np.full(hit.size, -1, dtype=np.int64))
            keyword.append(np.ones(hit.size, dtype=bool))
    poi = np.concatenate(pois) if pois else np.empty(0, dtype=np.int64)
    cat_i = np.concatenate(which) if which else np.empty(0, dtype=np.int64)
    order = np.lexsort((cat_i, poi))
    return (poi[order], cat_i[order],
            np.concatenate(keyword)[order] if keyword else np.empty(0, dtype=bool),
            np.concatenate(rules)[order] if rules else np.empty(0, dtype=np.int64))
