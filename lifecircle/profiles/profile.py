"""Standards profiles: TOML files read into frozen dataclasses by a strict loader.

A profile says which facility categories to evaluate, how to recognise them in OpenStreetMap,
how fast each population group walks and how many minutes count as covered. Every figure
carries its ``source`` and whether it was ``verified`` against a published text, so reports
can mark unverified figures. Unknown keys are errors with a "did you mean" hint.

The code lives in modules of one concern: :mod:`.schema` (the dataclasses), :mod:`.model`
(:class:`Profile` and its derived values), :mod:`.loader` (TOML to a validated profile) and
:mod:`.targets` (plan targets). This module keeps the names importable from
``lifecircle.profiles.profile``.
"""

from __future__ import annotations

from .loader import (
    _CATEGORY_KEYS,
    _EXTENSION_KEYS,
    _GROUP_KEYS,
    _TIER_KEYS,
    _TOP_KEYS,
    builtin_profiles,
    load_profile,
    profile_from_dict,
)
from .model import Profile
from .schema import TARGET_KINDS, Category, Group, PopulationSettings, TagRule, Target, Tier
from .targets import _TARGET_KEYS

__all__ = [
    "TARGET_KINDS",
    "Category",
    "Group",
    "PopulationSettings",
    "Profile",
    "TagRule",
    "Target",
    "Tier",
    "builtin_profiles",
    "load_profile",
    "profile_from_dict",
]
# the loader's key sets (outputs.products reads them to clean an effective profile)
_KEY_SETS = (_TOP_KEYS, _EXTENSION_KEYS, _GROUP_KEYS, _CATEGORY_KEYS, _TIER_KEYS, _TARGET_KEYS)
