"""Plan targets: the ``[targets.<name>]`` tables of a profile."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ConfigError, did_you_mean
from ._checks import _check_positive, _get_bool, _get_str, _str_list, _tables
from .schema import TARGET_KINDS, Category, Target

_TARGET_KEYS = {
    "kind",
    "value",
    "unit",
    "label_en",
    "label_zh",
    "requires",
    "categories",
    "catchment_min",
    "source",
    "verified",
    "note",
}


def _targets(
    data: Mapping[str, Any], where: str, categories: Mapping[str, Category]
) -> dict[str, Target]:
    raw = data.get("targets", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: targets must be [targets.<name>] tables")
    out: dict[str, Target] = {}
    for name, t, twhere in _tables(raw, "targets", where, _TARGET_KEYS):
        kind = _get_str(t, "kind", twhere, "block_share")
        if kind not in TARGET_KINDS:
            raise ConfigError(
                f"{twhere}: kind {kind!r} is not known{did_you_mean(kind, TARGET_KINDS)}; "
                f"use one of {', '.join(TARGET_KINDS)}"
            )
        if "value" not in t:
            raise ConfigError(f"{twhere}: value is required")
        requires_raw = t.get("requires", [])
        if not isinstance(requires_raw, list):
            raise ConfigError(f"{twhere}: requires must be a list of category names or lists")
        requires = tuple(_str_list(r, "requires", twhere) for r in requires_raw)
        cats = _str_list(t.get("categories", []), "categories", twhere)
        for c in [c for group in requires for c in group] + list(cats):
            if c not in categories:
                raise ConfigError(
                    f"{twhere}: category {c!r} is not in the profile"
                    f"{did_you_mean(c, categories)}"
                )
        if kind == "floor_area_per_100_households" and not cats:
            raise ConfigError(f"{twhere}: a floor-area target needs categories = [...]")
        if kind != "floor_area_per_100_households" and not requires:
            raise ConfigError(f"{twhere}: a coverage target needs requires = [...]")
        out[name] = Target(
            name=name,
            kind=kind,
            value=_check_positive("value", t["value"], twhere),
            unit=_get_str(t, "unit", twhere),
            label_en=_get_str(t, "label_en", twhere, name),
            label_zh=_get_str(t, "label_zh", twhere),
            requires=requires,
            categories=cats,
            catchment_min=_check_positive("catchment_min", t.get("catchment_min", 15.0), twhere),
            source=_get_str(t, "source", twhere),
            verified=_get_bool(t, "verified", twhere),
            note=_get_str(t, "note", twhere),
        )
    return out
