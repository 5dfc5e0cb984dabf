"""The profile's data: frozen dataclasses for tag rules, groups, tiers, targets and categories.

Nothing here reads files or validates input (see :mod:`.loader`); :class:`~.model.Profile`
ties these together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "TARGET_KINDS",
    "Category",
    "Group",
    "PopulationSettings",
    "TagRule",
    "Target",
    "Tier",
]


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
