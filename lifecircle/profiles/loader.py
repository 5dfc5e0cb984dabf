"""Loading a profile: TOML text to a validated :class:`~.model.Profile`.

Unknown keys are errors with a "did you mean" hint; every figure keeps its ``source`` and
``verified`` flag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import ConfigError, did_you_mean
from ._checks import (
    DESCRIBED_KEYS,
    _check_keys,
    _check_positive,
    _described,
    _get_bool,
    _get_str,
    _optional_positive,
    _read_toml,
    _str_list,
    _tables,
)
from .model import Profile, _with_horizon
from .schema import Category, Group, PopulationSettings, Residents, TagRule, Target, Tier
from .targets import _targets, load_target_set

__all__ = ["builtin_profiles", "load_profile", "profile_from_dict"]

_HERE = Path(__file__).parent

_TOP_KEYS = {
    "name",
    "version",
    "title_en",
    "title_zh",
    "description",
    "threshold_min",
    "horizon_min",
    "max_snap_m",
    "default_group",
    "groups",
    "population",
    "categories",
    "tiers",
    "targets",
    "area_type",
    "residents",
    "target_sets",
}
# Sections other modules own: the loader keeps them in ``raw`` for those modules to validate.
_EXTENSION_KEYS = {"requirements", "settings"}
_GROUP_KEYS = DESCRIBED_KEYS | {"speed_kmh", "step_free", "max_incline_pct", "restriction_source"}
_RESIDENTS_KEYS = DESCRIBED_KEYS | {"column", "share", "note"}
_CATEGORY_KEYS = DESCRIBED_KEYS | {
    "tags", "name_keywords", "group", "threshold_min", "tier", "radius_m", "note", "serves"}
_TIER_KEYS = DESCRIBED_KEYS | {"minutes", "distance_m", "note"}
_NAME_RULE_KEYS = ("name_contains", "name_excludes")


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with lifecircle."""
    return sorted(p.stem for p in _HERE.glob("*.toml"))


def load_profile(profile: str | Path | Profile = "walk15") -> Profile:
    """Load a built-in profile by name or a TOML file by path.

    Parameters
    ----------
    profile
        A built-in name (see :func:`builtin_profiles`), a path to a ``.toml`` file, or a
        :class:`Profile` (returned unchanged).

    Raises
    ------
    ConfigError
        Unknown name, unreadable file, invalid TOML, unknown keys, wrong types or values.
    """
    if isinstance(profile, Profile):
        return profile
    text_name = str(profile)
    path = Path(profile)
    if not path.suffix and not path.exists():
        path = _HERE / f"{text_name}.toml"
        if not path.exists():
            raise ConfigError(
                f"unknown profile {text_name!r}{did_you_mean(text_name, builtin_profiles())}; "
                f"built-in profiles: {', '.join(builtin_profiles())}, or give a path to a "
                ".toml file"
            )
    if not path.is_file():
        raise ConfigError(
            f"{path}: profile file not found; give a built-in name "
            f"({', '.join(builtin_profiles())}) or an existing .toml file"
        )
    return profile_from_dict(_read_toml(path), where=str(path))


def _tag_rule(entry: Any, where: str) -> TagRule:
    if not isinstance(entry, Mapping) or not entry:
        raise ConfigError(f'{where}: each tag rule must be a table like {{ amenity = "clinic" }}')
    conditions: list[tuple[str, tuple[str, ...] | None]] = []
    words: dict[str, tuple[str, ...]] = {}
    for key, value in entry.items():
        if key in _NAME_RULE_KEYS:
            words[key] = _str_list(value, key, where)
        elif value is True:
            conditions.append((key, None))
        elif isinstance(value, str):
            conditions.append((key, (value,)))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            conditions.append((key, tuple(value)))
        else:
            raise ConfigError(
                f"{where}: tag {key!r} must be a string, a list of strings or true, got {value!r}"
            )
    if not conditions:
        raise ConfigError(f"{where}: a tag rule needs at least one OSM tag besides name words")
    return TagRule(
        tuple(conditions),
        name_contains=words.get("name_contains", ()),
        name_excludes=words.get("name_excludes", ()),
    )


def _profile_targets(
    data: Mapping[str, Any], where: str, categories: Mapping[str, Category]
) -> dict[str, Target]:
    """The target sets a profile names (``target_sets = [...]``), then its own targets."""
    names = _str_list(data.get("target_sets", []), "target_sets", where)
    out: dict[str, Target] = {}
    for name in names:
        out.update(load_target_set(name, categories))
    out.update(_targets(data, where, categories))
    return out


def _residents(data: Mapping[str, Any], where: str) -> dict[str, Residents]:
    raw = data.get("residents", {})
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: residents must be [residents.<name>] tables")
    out: dict[str, Residents] = {}
    for rname, r, rwhere in _tables(raw, "residents", where, _RESIDENTS_KEYS):
        share = _optional_positive(r, "share", rwhere)
        if share is not None and share > 1:
            raise ConfigError(f"{rwhere}: share is a fraction of residents (0-1), got {share}")
        out[rname] = Residents(
            name=rname,
            **_described(r, rwhere, rname),
            column=_get_str(r, "column", rwhere, f"pop_{rname}"),
            share=share,
            note=_get_str(r, "note", rwhere),
        )
    return out


def _tiers(data: Mapping[str, Any], where: str, threshold_min: float) -> dict[str, Tier]:
    raw = data.get("tiers")
    if raw is None:
        # a profile without tiers has one: every category at the profile's threshold
        return {"main": Tier(name="main", label_en=f"{threshold_min:g}-minute walk",
                             label_zh=f"{threshold_min:g}分钟步行")}
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: tiers must be [tiers.<name>] tables")
    tiers: dict[str, Tier] = {}
    for tname, t, twhere in _tables(raw, "tiers", where, _TIER_KEYS):
        tiers[tname] = Tier(
            name=tname,
            **_described(t, twhere, tname),
            minutes=_optional_positive(t, "minutes", twhere),
            distance_m=_optional_positive(t, "distance_m", twhere),
            note=_get_str(t, "note", twhere),
        )
    return tiers


def profile_from_dict(data: Mapping[str, Any], *, where: str = "<profile>") -> Profile:
    """Validate a parsed profile table and build a :class:`Profile`."""
    _check_keys(data, _TOP_KEYS | _EXTENSION_KEYS, where)
    name = _get_str(data, "name", where)
    if not name:
        raise ConfigError(f'{where}: the profile needs a name = "..."')
    groups_raw = data.get("groups", {})
    if not isinstance(groups_raw, Mapping) or not groups_raw:
        raise ConfigError(f"{where}: at least one [groups.<name>] table with speed_kmh is needed")
    groups: dict[str, Group] = {}
    for gname, g in groups_raw.items():
        gwhere = f"{where} [groups.{gname}]"
        if not isinstance(g, Mapping):
            raise ConfigError(f"{gwhere}: must be a table")
        _check_keys(g, _GROUP_KEYS, gwhere)
        if "speed_kmh" not in g:
            raise ConfigError(f"{gwhere}: speed_kmh is required")
        groups[gname] = Group(
            name=gname,
            speed_kmh=_check_positive("speed_kmh", g["speed_kmh"], gwhere),
            **_described(g, gwhere, gname),
            step_free=_get_bool(g, "step_free", gwhere),
            max_incline_pct=_optional_positive(g, "max_incline_pct", gwhere),
            restriction_source=_get_str(g, "restriction_source", gwhere),
        )
    default_group = _get_str(data, "default_group", where, next(iter(groups)))
    if default_group not in groups:
        raise ConfigError(
            f"{where}: default_group {default_group!r} is not a group"
            f"{did_you_mean(default_group, groups)}"
        )
    threshold_min = _check_positive("threshold_min", data.get("threshold_min", 15.0), where)
    tiers = _tiers(data, where, threshold_min)
    cats_raw = data.get("categories", {})
    if not isinstance(cats_raw, Mapping) or not cats_raw:
        raise ConfigError(f"{where}: at least one [categories.<name>] table is needed")
    residents = _residents(data, where)
    categories: dict[str, Category] = {}
    for cname, c, cwhere in _tables(cats_raw, "categories", where, _CATEGORY_KEYS):
        tags = c.get("tags", [])
        if not isinstance(tags, list):
            raise ConfigError(f"{cwhere}: tags must be a list of tables")
        group = c.get("group")
        if group is not None and group not in groups:
            raise ConfigError(
                f"{cwhere}: group {group!r} is not defined{did_you_mean(str(group), groups)}"
            )
        keywords = c.get("name_keywords", [])
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise ConfigError(f"{cwhere}: name_keywords must be a list of strings")
        threshold = c.get("threshold_min")
        tier = c.get("tier")
        if tier is not None and tier not in tiers:
            raise ConfigError(
                f"{cwhere}: tier {tier!r} is not defined{did_you_mean(str(tier), tiers)}; "
                f"tiers: {', '.join(tiers)}"
            )
        serves = c.get("serves")
        if serves is not None and serves not in residents:
            raise ConfigError(
                f"{cwhere}: serves {serves!r} is not a [residents.<name>] table"
                f"{did_you_mean(str(serves), residents)}"
                + (f"; residents: {', '.join(residents)}" if residents else "")
            )
        if tier is None and len(tiers) > 1:
            raise ConfigError(f"{cwhere}: name its tier (one of {', '.join(tiers)})")
        categories[cname] = Category(
            name=cname,
            label_en=_get_str(c, "label_en", cwhere, cname.replace("_", " ").capitalize()),
            label_zh=_get_str(c, "label_zh", cwhere),
            tags=tuple(_tag_rule(t, cwhere) for t in tags),
            name_keywords=tuple(keywords),
            group=group,
            threshold_min=None
            if threshold is None
            else _check_positive("threshold_min", threshold, cwhere),
            source=_get_str(c, "source", cwhere),
            verified=_get_bool(c, "verified", cwhere),
            tier=tier,
            radius_m=_optional_positive(c, "radius_m", cwhere),
            note=_get_str(c, "note", cwhere),
            serves=serves,
        )
    pop_raw = data.get("population", {})
    if not isinstance(pop_raw, Mapping):
        raise ConfigError(f"{where}: [population] must be a table")
    pop_fields = {f.name for f in dataclasses.fields(PopulationSettings)}
    _check_keys(pop_raw, pop_fields, f"{where} [population]")
    population = PopulationSettings(
        **{k: _check_positive(k, v, f"{where} [population]") for k, v in pop_raw.items()}
    )
    area_type = _get_str(data, "area_type", where, "urban")
    if area_type not in ("urban", "rural"):
        raise ConfigError(f"{where}: area_type must be \"urban\" or \"rural\", got {area_type!r}")
    horizon_min = _check_positive("horizon_min", data.get("horizon_min", 60.0), where)
    return _with_horizon(Profile(
        name=name,
        version=_get_str(data, "version", where, "0"),
        title_en=_get_str(data, "title_en", where, name),
        title_zh=_get_str(data, "title_zh", where),
        threshold_min=threshold_min,
        horizon_min=max(horizon_min, threshold_min),
        max_snap_m=_check_positive("max_snap_m", data.get("max_snap_m", 300.0), where),
        default_group=default_group,
        groups=MappingProxyType(groups),
        categories=MappingProxyType(categories),
        population=population,
        path=where,
        raw=MappingProxyType(dict(data)),
        tiers=MappingProxyType(tiers),
        targets=MappingProxyType(_profile_targets(data, where, categories)),
        area_type=area_type,
        residents=MappingProxyType(residents),
    ))
