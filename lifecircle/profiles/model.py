"""The :class:`Profile`: a loaded standards profile and the values derived from it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import ConfigError, did_you_mean
from ._checks import _check_positive
from .schema import Category, Group, PopulationSettings, Residents, TagRule, Target, Tier
from .targets import load_target_set

__all__ = ["Profile"]


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
    #: the residents categories may serve (``Category.serves``)
    residents: Mapping[str, Residents] = field(default_factory=dict)

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

    def residents_of(self, category: str) -> Residents | None:
        """The residents ``category`` serves (``None``: all residents)."""
        name = self.categories[category].serves
        return None if name is None else self.residents[name]

    def for_group(self, group: str) -> Profile:
        """A copy that evaluates every category for ``group`` (``--group NAME``).

        The group becomes the default group too (the headline speed, the speed
        :meth:`replace` changes, and the speed of target catchments). Thresholds set by a
        distance (a service radius, a tier's walking distance) are converted at the group's
        speed, so the standard's distance rule still decides.
        """
        if group not in self.groups:
            raise ConfigError(
                f"profile {self.name!r} has no group {group!r}{did_you_mean(group, self.groups)}; "
                f"choose from {', '.join(self.groups)}"
            )
        cats = {k: dataclasses.replace(c, group=group) for k, c in self.categories.items()}
        return _with_horizon(
            dataclasses.replace(self, categories=MappingProxyType(cats), default_group=group)
        )

    def with_targets(self, targets: Mapping[str, Target]) -> Profile:
        """A copy with ``targets`` added (a target of the same name is replaced)."""
        return dataclasses.replace(
            self, targets=MappingProxyType({**self.targets, **targets})
        )

    def stack_targets(self, target_sets: Sequence[str | Path] | str | None) -> Profile:
        """A copy with the targets of these sets added (``--targets NAME|FILE``, repeatable)."""
        if not target_sets:
            return self
        if isinstance(target_sets, str | Path):
            target_sets = [target_sets]
        new = self
        for spec in target_sets:
            new = new.with_targets(load_target_set(spec, self.categories))
        return new

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
                    "serves": c.serves,
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
            "residents": {
                k: {f: v for f, v in dataclasses.asdict(r).items() if f != "name"}
                for k, r in self.residents.items()
            },
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
