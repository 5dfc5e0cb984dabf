"""Plan targets: the ``[targets.<name>]`` tables of a profile or of a target-set file.

A target set is a TOML file of its own (``name``, ``title_en``, ``title_zh``, ``source``,
``verified`` and ``[targets.<name>]`` tables in the profile's schema), stacked on any profile
with ``--targets NAME|FILE``. Built-in sets live in ``profiles/target_sets/``. A set's
targets may name categories the profile lacks: they are reported as not evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError, did_you_mean
from ._checks import (
    DESCRIBED_KEYS,
    ZH_TEXT_KEYS,
    _check_keys,
    _check_positive,
    _described,
    _get_bool,
    _get_str,
    _read_toml,
    _str_list,
    _tables,
)
from .schema import SUPPLY_TARGET_KINDS, TARGET_KINDS, Category, Target

__all__ = ["builtin_target_sets", "load_target_set"]

_SETS = Path(__file__).parent / "target_sets"
#: the facility column each supply kind reads unless the target names another
DEFAULT_COLUMN = {
    "floor_area_per_100_residents": "floor_area_m2",
    "staff_per_10000_residents": "staff",
    "facility_flag_share": "volunteer_site",
}
_SET_KEYS = ZH_TEXT_KEYS | {"name", "title_en", "title_zh", "source", "verified", "note", "targets"}

_TARGET_KEYS = DESCRIBED_KEYS | {
    "kind", "value", "unit", "requires", "categories", "catchment_min", "note", "column",
    "population", "target_set"}


def _targets(
    data: Mapping[str, Any],
    where: str,
    categories: Mapping[str, Category],
    *,
    strict: bool = True,
    target_set: str = "",
) -> dict[str, Target]:
    """Targets of ``data``; ``strict``: every category named must be in ``categories``."""
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
            # a stacked set's targets may name categories the profile lacks
            if strict and not t.get("target_set") and c not in categories:
                raise ConfigError(
                    f"{twhere}: category {c!r} is not in the profile"
                    f"{did_you_mean(c, categories)}"
                )
        supply = kind == "floor_area_per_100_households" or kind in SUPPLY_TARGET_KINDS
        if supply and not cats:
            raise ConfigError(f"{twhere}: a {kind} target needs categories = [...]")
        if not supply and not requires:
            raise ConfigError(f"{twhere}: a coverage target needs requires = [...]")
        population = _get_str(t, "population", twhere, "all")
        if population not in ("all", "served"):
            raise ConfigError(f'{twhere}: population must be "all" or "served", got {population!r}')
        value = _check_positive("value", t["value"], twhere)
        if kind in ("block_share", "population_share", "facility_flag_share") and value > 1:
            raise ConfigError(f"{twhere}: a share target's value is a fraction (0-1), got {value}")
        out[name] = Target(
            name=name,
            kind=kind,
            value=value,
            unit=_get_str(t, "unit", twhere),
            **_described(t, twhere, name),
            requires=requires,
            categories=cats,
            catchment_min=_check_positive("catchment_min", t.get("catchment_min", 15.0), twhere),
            note=_get_str(t, "note", twhere),
            column=_get_str(t, "column", twhere, DEFAULT_COLUMN.get(kind, "")),
            population=population,
            target_set=target_set or _get_str(t, "target_set", twhere),
        )
    return out


def builtin_target_sets() -> list[str]:
    """Names of the target sets shipped with lifecircle."""
    return sorted(p.stem for p in _SETS.glob("*.toml"))


def load_target_set(
    spec: str | Path, categories: Mapping[str, Category] | None = None
) -> dict[str, Target]:
    """Read a target set by built-in name or TOML path (``--targets NAME|FILE``).

    Each target records the set it came from (``Target.target_set``); the set's own
    ``source`` fills a target's empty ``source``.

    Raises
    ------
    ConfigError
        Unknown name, unreadable file, invalid TOML, unknown keys, wrong types or values.
    """
    text = str(spec)
    path = Path(spec)
    if not path.suffix and not path.exists():
        path = _SETS / f"{text}.toml"
        if not path.is_file():
            names = builtin_target_sets()
            raise ConfigError(
                f"unknown target set {text!r}{did_you_mean(text, names)}; built-in sets: "
                f"{', '.join(names)}, or give a path to a .toml file"
            )
    if not path.is_file():
        raise ConfigError(f"{path}: target-set file not found; give a built-in name or a .toml")
    data = _read_toml(path)
    where = str(path)
    _check_keys(data, _SET_KEYS, where)
    name = _get_str(data, "name", where, path.stem) or path.stem
    if not isinstance(data.get("targets"), Mapping) or not data["targets"]:
        raise ConfigError(f"{where}: a target set needs at least one [targets.<name>] table")
    set_source = _get_str(data, "source", where)
    _get_bool(data, "verified", where)
    out = _targets(data, where, categories or {}, strict=False, target_set=name)
    if set_source:
        import dataclasses

        out = {k: t if t.source else dataclasses.replace(t, source=set_source)
               for k, t in out.items()}
    return out
