"""Column-wise category matching agrees with the per-POI rules it replaces.

The oracle is :meth:`lifecircle.profiles.schema.Category.matches` (and the name-keyword
fallback written out per POI), applied to each generated tag dict in turn.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.profiles import load_profile
from lifecircle.sources._osm_columns import flat_tags
from lifecircle.sources.poi_match import TagColumns, category_matches, rule_keys

PROFILES = ["walk15", "gb50180-2018"]


def _vocabulary(name: str) -> tuple[list[str], list[str], list[str]]:
    prof = load_profile(name)
    keys, values, words = [], ["yes", "other"], ["公园", "x"]
    for cat in prof.categories.values():
        words.extend(cat.name_keywords)
        for rule in cat.tags:
            words.extend(rule.name_contains + rule.name_excludes)
            for key, vals in rule.conditions:
                keys.append(key)
                values.extend(vals or ())
    return sorted(set(keys)), sorted(set(values)), sorted(set(words))


def _tags(name: str) -> st.SearchStrategy[dict[str, str]]:
    keys, values, words = _vocabulary(name)
    value = st.one_of(
        st.sampled_from(values),
        st.lists(st.sampled_from(values), min_size=2, max_size=3).map(" ; ".join),
    )
    text = st.lists(st.sampled_from(words), max_size=3).map("".join)
    return st.fixed_dictionaries(
        {},
        optional={
            **{k: value for k in keys[:40]},
            "name": text,
            "name:zh": text,
            "name:en": text,
        },
    )


def _oracle(prof, tags: dict[str, str]) -> list[tuple[str, bool, str]]:
    matched = [c for c, cat in prof.categories.items() if cat.matches(tags)]
    if matched:
        out = []
        for c in matched:
            rule = next(r for r in prof.categories[c].tags if r.matches(tags))
            out.append((c, False, ";".join(f"{k}={tags[k]}" for k in rule.keys)))
        return out
    name = tags.get("name", "") + " " + tags.get("name:zh", "")
    return [(c, True, "") for c, cat in prof.categories.items()
            if any(k in name for k in cat.name_keywords)]


@pytest.mark.parametrize("profile", PROFILES)
def test_column_matching_equals_the_per_poi_rules(profile):
    prof = load_profile(profile)

    @settings(max_examples=60, deadline=None)
    @given(rows=st.lists(_tags(profile), min_size=0, max_size=40))
    def check(rows):
        values: dict[str, str] = {}
        cols = TagColumns([flat_tags(t, values) for t in rows], rule_keys(prof))
        poi, cat_i, by_kw, rule = category_matches(cols, prof)
        names = list(prof.categories)
        got = [[] for _ in rows]
        for p, c, kw, r in zip(poi.tolist(), cat_i.tolist(), by_kw.tolist(), rule.tolist(),
                               strict=True):
            tags = rows[p]
            tag = "" if kw else ";".join(
                f"{k}={tags[k]}" for k in prof.categories[names[c]].tags[r].keys)
            got[p].append((names[c], kw, tag))
        assert got == [_oracle(prof, t) for t in rows]

    check()


def test_semicolon_lists_and_absent_keys():
    prof = load_profile("walk15")
    rows = [{}, {"shop": "bakery"}, {"shop": "clothes; supermarket"}, {"name": "x"}]
    cols = TagColumns([flat_tags(t, {}) for t in rows], rule_keys(prof))
    poi, cat_i, _, _ = category_matches(cols, prof)
    expect = [(p, c) for p, t in enumerate(rows)
              for c, cat in enumerate(prof.categories.values()) if cat.matches(t)]
    assert list(zip(poi.tolist(), cat_i.tolist(), strict=True)) == expect
    assert cols.columns["shop"].tolist() == [None, "bakery", "clothes; supermarket", None]
