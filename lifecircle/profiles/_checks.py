"""Small validators shared by the profile and target-set loaders.

Each raises :class:`~lifecircle._errors.ConfigError` with the file and table it was checking.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError, did_you_mean

#: Chinese source and note texts beside any table's ``source`` / ``note``: kept in the raw
#: profile and read by the report writer
ZH_TEXT_KEYS = {"source_zh", "note_zh"}
#: the keys :func:`_described` reads, with the Chinese texts: every described table takes them
DESCRIBED_KEYS = ZH_TEXT_KEYS | {"label_en", "label_zh", "source", "verified"}


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


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML file, or a ConfigError naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _described(table: Mapping[str, Any], where: str, label_en: str) -> dict[str, Any]:
    """The ``label_en``, ``label_zh``, ``source`` and ``verified`` every figure carries."""
    return {
        "label_en": _get_str(table, "label_en", where, label_en),
        "label_zh": _get_str(table, "label_zh", where),
        "source": _get_str(table, "source", where),
        "verified": _get_bool(table, "verified", where),
    }
