"""The message catalogue speaks every language in every domain."""

from __future__ import annotations

import pytest

from lifecircle._errors import ConfigError
from lifecircle.i18n import LANGS, domains, messages, untranslated


def test_the_outputs_have_catalogues():
    assert {"report", "map", "figures"} <= set(domains())


@pytest.mark.parametrize("domain", domains())
def test_every_key_is_translated(domain):
    assert untranslated(domain) == {}


@pytest.mark.parametrize("domain", domains())
def test_placeholders_agree_between_languages(domain):
    import string

    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    def walk(en, zh, path=""):
        for k, v in en.items():
            if isinstance(v, str):
                assert fields(v) == fields(zh[k]), f"{domain}.{path}{k}"
            else:
                walk(v, zh[k], f"{path}{k}.")

    walk(messages(domain, "en"), messages(domain, "zh"))


def test_an_unknown_language_is_a_clear_error():
    with pytest.raises(ConfigError, match="--lang must be one of en, zh"):
        messages("report", "fr")
    assert LANGS == ("en", "zh")
