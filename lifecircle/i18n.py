"""The message catalogue: every string a reader sees in a report, map, figure or table.

Messages live as data in ``lifecircle/locales/<domain>.toml``, one file per output
(``report``, ``map``, ``figures``, ``table``, ...), each with an ``[en]`` and a ``[zh]`` table
holding the same keys (nested tables allowed). Modules ask for their domain's messages in the
run's language::

    t = messages("report", lang)
    t["title"]

A key present in one language and not the other is a defect: :func:`untranslated` lists them
and the test suite fails on any.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ._errors import ConfigError

__all__ = ["LANGS", "check_lang", "display_width", "domains", "messages", "untranslated"]

#: the languages every domain must speak
LANGS: tuple[str, ...] = ("en", "zh")


def check_lang(lang: str, *, option: str = "--lang") -> str:
    """Return ``lang`` if it is a supported language, else raise a clear ConfigError."""
    if lang not in LANGS:
        raise ConfigError(f"{option} must be one of {', '.join(LANGS)}, got {lang!r}")
    return lang


def domains() -> list[str]:
    """The catalogue's domains (the TOML files in ``lifecircle/locales``)."""
    root = resources.files("lifecircle") / "locales"
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


@cache
def _load(domain: str) -> Mapping[str, Any]:
    path = resources.files("lifecircle") / "locales" / f"{domain}.toml"
    if not path.is_file():
        raise ConfigError(f"no message catalogue {domain!r}; known: {', '.join(domains())}")
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return MappingProxyType({lang: _freeze(data.get(lang, {})) for lang in LANGS})


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def messages(domain: str, lang: str) -> Mapping[str, Any]:
    """The messages of one domain in one language (read-only, cached)."""
    return _load(domain)[check_lang(lang)]


def _keys(table: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for k, v in table.items():
        if isinstance(v, Mapping):
            yield from _keys(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}"


def untranslated(domain: str) -> dict[str, list[str]]:
    """Keys of ``domain`` missing (or empty) in each language, e.g. ``{"zh": ["title"]}``."""
    tables = _load(domain)
    every = set()
    for lang in LANGS:
        every |= set(_keys(tables[lang]))
    out: dict[str, list[str]] = {}
    for lang in LANGS:
        have = {k for k in _keys(tables[lang]) if _lookup(tables[lang], k) not in ("", None)}
        if missing := sorted(every - have):
            out[lang] = missing
    return out


def _lookup(table: Mapping[str, Any], dotted: str) -> Any:
    node: Any = table
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def display_width(text: str) -> int:
    """Width of ``text`` in half-width columns: East Asian wide characters count two.

    For sizing labels and spreadsheet columns; Chinese characters are about twice as wide as
    Latin letters and digits.
    """
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def label_of(entry: Mapping[str, Any], lang: str) -> str:
    """The label of a report entry (a category, tier, group or target) in ``lang``: its
    ``label_zh`` in Chinese where it has one, else its ``label_en``."""
    zh = entry.get("label_zh") if lang == "zh" else None
    return str(zh or entry.get("label_en", ""))


def percent(share: float | None) -> str:
    """A share as the reports print it (``"81.3 %"``); ``"–"`` where there is none."""
    return "–" if share is None else f"{100 * share:.1f} %"
