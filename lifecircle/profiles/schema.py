"""The profile's data: frozen dataclasses for tag rules, groups, tiers, targets and categories.

Nothing here reads files or validates input (see :mod:`.loader`); :class:`~.model.Profile`
ties these together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "SUPPLY_TARGET_KINDS",
    "TARGET_KINDS",
    "Category",
    "Group",
    "PopulationSettings",
    "Residents",
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
    """A population group, its walking speed and the ways it can use.

    ``step_free`` bars steps, ways tagged ``wheelchair=no`` and raised kerbs (see
    :mod:`lifecircle.edge_access`); ``max_incline_pct`` bars ways whose tagged ``incline``,
    or with a DEM their steepest stretch, is steeper. A group with either is *restricted*:
    its categories are searched on its own edge mask over the same network arrays.
    """

    name: str
    speed_kmh: float
    label_en: str = ""
    label_zh: str = ""
    source: str = ""
    verified: bool = False
    step_free: bool = False
    max_incline_pct: float | None = None
    restriction_source: str = ""

    @property
    def speed_m_per_min(self) -> float:
        return self.speed_kmh * 1000.0 / 60.0

    @property
    def restricted(self) -> bool:
        """Whether the group may not use every walkable edge."""
        return self.step_free or self.max_incline_pct is not None


@dataclass(frozen=True)
class Residents:
    """The residents a service is for (e.g. people aged 60+ for elderly care).

    Their number per block comes from the block column ``column`` when the blocks carry it,
    else from ``share`` of the block population (with its ``source``).
    """

    name: str
    label_en: str = ""
    label_zh: str = ""
    column: str = ""
    share: float | None = None
    source: str = ""
    verified: bool = False
    note: str = ""


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
TARGET_KINDS = (
    "block_share",
    "population_share",
    "floor_area_per_100_households",
    "floor_area_per_100_residents",
    "staff_per_10000_residents",
    "facility_flag_share",
)
#: kinds computed by :mod:`lifecircle.targets` from facility-file columns over catchments
SUPPLY_TARGET_KINDS = TARGET_KINDS[3:]


@dataclass(frozen=True)
class Target:
    """A plan target (e.g. the 14th Five-Year Plan's 80 % "one old, one small" coverage).

    ``requires`` lists groups of categories: a block counts as covered when, in every group,
    at least one category is covered; with ``population = "served"`` a ``population_share``
    target weighs blocks by the residents its categories serve (older people and young
    children for "one old, one small") instead of all residents. A
    ``floor_area_per_100_households`` target sums the floor area of the facilities of
    ``categories`` instead; the supply kinds (:data:`SUPPLY_TARGET_KINDS`) read a facility
    column (``column``: floor area, staff, or a 0/1 flag) and share it among the residents
    within ``catchment_min`` (see :mod:`lifecircle.targets`).
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
    column: str = ""
    population: str = "all"
    #: the target set (file or built-in name) it came from; "" for the profile's own
    target_set: str = ""

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
    #: the residents it is for (a ``[residents.<name>]`` table); ``None``: all residents
    serves: str | None = None

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
    #: levels of a house-type building (house, detached, terrace, ...) without building:levels
    house_levels: float = 2.0
    #: derived blocks above either maximum are split further (ways, then building groups)
    max_block_residents: float = 3000.0
    max_block_area_ha: float = 4.0
