"""Standards profiles: TOML files read into frozen dataclasses by a strict loader.

A profile says which facility categories to evaluate, how to recognise them in OpenStreetMap,
how fast each population group walks and how many minutes count as covered. Every figure
carries its ``source`` and whether it was ``verified`` against a published text, so reports
can mark unverified figures. Unknown keys are errors with a "did you mean" hint.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import ConfigError, did_you_mean

__all__ = [
    "Category",
    "Group",
    "PopulationSettings",
    "Profile",
    "TagRule",
    "Target",
    "Tier",
    "builtin_profiles",
    "load_profile",
]

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class TagRule:
    """One way of matching OSM tags: every key must match (values: any of, or ``True``).

    ``name_contains`` and ``name_excludes`` add conditions on the ``name`` / ``name:zh`` text
    (any of the words must / none may occur): OSM has one tag for a community health station
    and a community health centre (``amenity=clinic``), only their names tell them apart.
    """

    conditions: tuple[tuple[str, tuple[str, ...] | None], ...]
    name_contains: tuple[str, ...] = ()
    name_excludes: tuple[str, ...] = ()

    def matches(self, tags: Mapping[str, str]) -> bool:
        if self.name_contains or self.name_excludes:
            name = tags.get("name", "") + " " + tags.get("name:zh", "")
            if self.name_contains and not any(w in name for w in self.name_contains):
                return False
            if any(w in name for w in self.name_excludes):
                return False
        for key, values in self.conditions:
            value = tags.get(key)
            if value is None:
                return False
            if values is not None and value not in values:
                # OSM allows "a;b" lists in one value
                if not any(part.strip() in values for part in value.split(";")):
                    return False
        return True

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.conditions)


@dataclass(frozen=True)
class Group:
    """A population group and its walking speed."""

    name: str
    speed_kmh: float
    label_en: str = ""
    label_zh: str = ""
    source: str = ""
    verified: bool = False

    @property
    def speed_m_per_min(self) -> float:
        return self.speed_kmh * 1000.0 / 60.0


@dataclass(frozen=True)
class Tier:
    """A life-circle tier (e.g. GB 50180-2018's 5-, 10- and 15-minute circles).

    A tier's requirements are the categories assigned to it; each is checked only against
    facilities of its own category, so a tier never substitutes for another.
    """

    name: str
    label_en: str
    label_zh: str = ""
    minutes: float | None = None
    distance_m: float | None = None
    source: str = ""
    verified: bool = False
    note: str = ""

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" and self.label_zh else self.label_en


#: indicator kinds a ``[targets.<name>]`` table may ask for
TARGET_KINDS = ("block_share", "population_share", "floor_area_per_100_households")


@dataclass(frozen=True)
class Target:
    """A plan target (e.g. the 14th Five-Year Plan's 80 % "one old, one small" coverage).

    ``requires`` lists groups of categories: a block counts as covered when, in every group,
    at least one category is covered. A ``floor_area_per_100_households`` target sums the floor
    area of the facilities of ``categories`` instead.
    """

    name: str
    kind: str
    value: float
    unit: str
    label_en: str
    label_zh: str = ""
    requires: tuple[tuple[str, ...], ...] = ()
    categories: tuple[str, ...] = ()
    catchment_min: float = 15.0
    source: str = ""
    verified: bool = False
    note: str = ""

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" and self.label_zh else self.label_en


@dataclass(frozen=True)
class Category:
    """A facility category: how to find it and when a block counts as served.

    Its threshold is ``threshold_min`` if given, else its service radius ``radius_m``, else its
    tier's walking distance, converted to minutes at the category group's speed (so the check
    is the standard's distance rule), else the tier's minutes, else the profile's threshold.
    """

    name: str
    label_en: str
    label_zh: str
    tags: tuple[TagRule, ...]
    name_keywords: tuple[str, ...] = ()
    group: str | None = None
    threshold_min: float | None = None
    source: str = ""
    verified: bool = False
    tier: str | None = None
    radius_m: float | None = None
    note: str = ""

    def matches(self, tags: Mapping[str, str]) -> bool:
        return any(rule.matches(tags) for rule in self.tags)

    def label(self, lang: str = "en") -> str:
        return self.label_zh if lang == "zh" and self.label_zh else self.label_en


@dataclass(frozen=True)
class PopulationSettings:
    """How population is estimated when blocks carry no population column."""

    floor_area_per_person_m2: float = 35.0
    default_levels: float = 3.0
    density_per_ha: float = 100.0
    household_size: float = 2.5


@dataclass(frozen=True)
class Profile:
    """A standards profile. Build it with :func:`load_profile`; change it with :meth:`replace`."""

    name: str
    version: str
    title_en: str
    title_zh: str
    threshold_min: float
    horizon_min: float
    max_snap_m: float
    default_group: str
    groups: Mapping[str, Group]
    categories: Mapping[str, Category]
    population: PopulationSettings = field(default_factory=PopulationSettings)
    path: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    tiers: Mapping[str, Tier] = field(default_factory=dict)
    targets: Mapping[str, Target] = field(default_factory=dict)
    #: "urban" or "rural": which community-service target applies
    area_type: str = "urban"

    # -- derived values -------------------------------------------------------------------
    def group_of(self, category: str) -> Group:
        """The population group whose speed applies to ``category``."""
        name = self.categories[category].group or self.default_group
        return self.groups[name]

    def tier_of(self, category: str) -> Tier:
        """The tier ``category`` belongs to (the profile's only tier when none is named)."""
        name = self.categories[category].tier
        if name is None:
            return next(iter(self.tiers.values()))
        return self.tiers[name]

    def limit_m_of(self, category: str) -> float | None:
        """The service radius in metres that defines ``category``'s threshold, if any."""
        cat = self.categories[category]
        if cat.threshold_min is not None:
            return None
        if cat.radius_m is not None:
            return cat.radius_m
        return self.tier_of(category).distance_m

    def threshold_of(self, category: str) -> float:
        """Minutes within which ``category`` counts as covered (see :class:`Category`)."""
        cat = self.categories[category]
        if cat.threshold_min is not None:
            return cat.threshold_min
        metres = self.limit_m_of(category)
        if metres is not None:
            return metres / self.group_of(category).speed_m_per_min
        tier = self.tier_of(category)
        return self.threshold_min if tier.minutes is None else tier.minutes

    def tier_categories(self) -> dict[str, list[str]]:
        """Categories of each tier, in profile order (tiers without categories left out)."""
        out: dict[str, list[str]] = {}
        for c in self.categories:
            out.setdefault(self.tier_of(c).name, []).append(c)
        return {t: out[t] for t in self.tiers if t in out}

    @property
    def walk_speed_kmh(self) -> float:
        """The speed of the default group (the headline walking speed of a run)."""
        return self.groups[self.default_group].speed_kmh

    def replace(
        self,
        *,
        speed_kmh: float | None = None,
        threshold_min: float | None = None,
        categories: list[str] | None = None,
    ) -> Profile:
        """A copy with the default group's speed, the threshold or the categories changed.

        ``threshold_min`` replaces the threshold of every category, ``speed_kmh`` the speed
        of the default group.
        """
        new = self
        if speed_kmh is not None:
            _check_positive("speed_kmh", speed_kmh, "--speed-kmh")
            groups = dict(new.groups)
            groups[new.default_group] = dataclasses.replace(
                groups[new.default_group], speed_kmh=float(speed_kmh)
            )
            new = dataclasses.replace(new, groups=MappingProxyType(groups))
        if threshold_min is not None:
            _check_positive("threshold_min", threshold_min, "--minutes")
            # an explicit threshold wins over radii and tier distances
            cats = {
                k: dataclasses.replace(c, threshold_min=float(threshold_min))
                for k, c in new.categories.items()
            }
            new = dataclasses.replace(
                new,
                threshold_min=float(threshold_min),
                horizon_min=max(new.horizon_min, float(threshold_min)),
                categories=MappingProxyType(cats),
            )
        if categories is not None:
            unknown = [c for c in categories if c not in new.categories]
            if unknown:
                raise ConfigError(
                    f"profile {new.name!r} has no category {unknown[0]!r}"
                    f"{did_you_mean(unknown[0], new.categories)}; "
                    f"choose from {', '.join(new.categories)}"
                )
            cats = {k: new.categories[k] for k in categories}
            new = dataclasses.replace(new, categories=MappingProxyType(cats))
        return _with_horizon(new)

    def to_dict(self) -> dict[str, Any]:
        """The effective profile as plain data (written into every output)."""
        return {
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "threshold_min": self.threshold_min,
            "horizon_min": self.horizon_min,
            "max_snap_m": self.max_snap_m,
            "default_group": self.default_group,
            "groups": {k: dataclasses.asdict(g) for k, g in self.groups.items()},
            "categories": {
                k: {
                    "label_en": c.label_en,
                    "label_zh": c.label_zh,
                    "group": c.group or self.default_group,
                    "threshold_min": self.threshold_of(k),
                    "speed_kmh": self.group_of(k).speed_kmh,
                    "tier": self.tier_of(k).name,
                    "radius_m": self.limit_m_of(k),
                    "tags": [_rule_dict(r) for r in c.tags],
                    "name_keywords": list(c.name_keywords),
                    "source": c.source,
                    "verified": c.verified,
                    "note": c.note,
                }
                for k, c in self.categories.items()
            },
            "tiers": {k: dataclasses.asdict(t) for k, t in self.tiers.items()},
            "targets": {
                k: {**dataclasses.asdict(t), "requires": [list(r) for r in t.requires],
                    "categories": list(t.categories)}
                for k, t in self.targets.items()
            },
            "area_type": self.area_type,
            "population": dataclasses.asdict(self.population),
        }


def _with_horizon(profile: Profile) -> Profile:
    """The profile with its search horizon at least its longest category threshold."""
    needed = max(profile.threshold_of(c) for c in profile.categories)
    if needed <= profile.horizon_min:
        return profile
    return dataclasses.replace(profile, horizon_min=float(math.ceil(needed)))


def _rule_dict(rule: TagRule) -> dict[str, Any]:
    out: dict[str, Any] = {key: list(v) if v else True for key, v in rule.conditions}
    if rule.name_contains:
        out["name_contains"] = list(rule.name_contains)
    if rule.name_excludes:
        out["name_excludes"] = list(rule.name_excludes)
    return out


# ---------------------------------------------------------------------------------------------
# loading

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
}
# Sections other modules own: the loader keeps them in ``raw`` for those modules to validate.
_EXTENSION_KEYS = {"requirements", "settings"}
# Chinese source and note texts: kept in ``raw`` and read by the report writer.
_ZH_TEXT_KEYS = {"source_zh", "note_zh"}
_GROUP_KEYS = {"speed_kmh", "label_en", "label_zh", "source", "verified"} | _ZH_TEXT_KEYS
_CATEGORY_KEYS = {
    "label_en",
    "label_zh",
    "tags",
    "name_keywords",
    "group",
    "threshold_min",
    "source",
    "verified",
    "tier",
    "radius_m",
    "note",
} | _ZH_TEXT_KEYS
_TIER_KEYS = {"label_en", "label_zh", "minutes", "distance_m", "source", "verified", "note",
              *_ZH_TEXT_KEYS}
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
} | _ZH_TEXT_KEYS
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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    return profile_from_dict(data, where=str(path))


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}{did_you_mean(key, allowed)}; "
                f"allowed keys: {', '.join(sorted(allowed))}"
            )


def _check_positive(key: str, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(
            f"{where}: {key} must be a number, got {value!r}"
            + (
                "; write the number alone, units are in the key name"
                if isinstance(value, str)
                else ""
            )
        )
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: {key} must be a positive number, got {value!r}")
    return float(value)


def _get_str(data: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _get_bool(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    return value


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


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


def _tables(
    raw: Any, section: str, where: str, allowed: set[str]
) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """``(name, table, where)`` for each ``[section.<name>]`` table, keys checked."""
    for name, table in raw.items():
        twhere = f"{where} [{section}.{name}]"
        if not str(name).isidentifier():
            raise ConfigError(f"{twhere}: names must be letters, digits and _")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{twhere}: must be a table")
        _check_keys(table, allowed, twhere)
        yield name, table, twhere


def _optional_positive(data: Mapping[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    return None if value is None else _check_positive(key, value, where)


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
            label_en=_get_str(t, "label_en", twhere, tname),
            label_zh=_get_str(t, "label_zh", twhere),
            minutes=_optional_positive(t, "minutes", twhere),
            distance_m=_optional_positive(t, "distance_m", twhere),
            source=_get_str(t, "source", twhere),
            verified=_get_bool(t, "verified", twhere),
            note=_get_str(t, "note", twhere),
        )
    return tiers


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
            label_en=_get_str(g, "label_en", gwhere, gname),
            label_zh=_get_str(g, "label_zh", gwhere),
            source=_get_str(g, "source", gwhere),
            verified=_get_bool(g, "verified", gwhere),
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
        targets=MappingProxyType(_targets(data, where, categories)),
        area_type=area_type,
    ))
