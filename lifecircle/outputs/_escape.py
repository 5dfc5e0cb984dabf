"""Make data-derived text safe to place in a web page.

The map takes one path for every text that comes from a user or from OpenStreetMap (names,
ids, categories, labels, the title): :func:`clean_text` tidies it (no control or bidi
characters, no line separators, bounded length), :func:`script_json` puts it in the page's
JSON data block (a ``<script type="application/json">`` that nothing evaluates and that no
text can close), and the page's own script shows it with ``textContent`` (or escapes it at the
moment it hands it to a Leaflet call that takes HTML). No text from data ever becomes part of
HTML or JavaScript source, or of a template that something renders later (folium's Jinja turned
a facility called ``{{7*7}}`` into ``49``; the map no longer uses folium).

:func:`escape_text` is the same cleaning plus HTML escaping, for the rare page text that must be
written as HTML (it is also inert inside a JavaScript string or template literal).
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

__all__ = ["clean_text", "escape_text", "script_json"]

#: Longest text (in characters, before escaping) put on the map; longer values end in "…".
MAX_TEXT_LEN = 300

# C0 and C1 control characters, DEL, the bidirectional embedding/override/isolate controls
# (U+202A-U+202E, U+2066-U+2069), the Arabic letter mark, the line/paragraph separators (which
# end JavaScript string literals in older engines) and lone surrogates (which cannot be
# written as UTF-8 at all).
_DROP = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SPACE = re.compile("[\t\n\r\u2028\u2029]+")

# Characters html.escape leaves alone but that matter inside a JavaScript template literal or
# string: the backtick ends the literal, "${" opens an expression, a backslash starts an
# escape sequence.
_JS_ENTITIES = (("`", "&#96;"), ("${", "&#36;{"), ("\\", "&#92;"))


def clean_text(value: Any, *, max_len: int | None = MAX_TEXT_LEN) -> str:
    """Return ``value`` as plain text fit to show: the first step of :func:`escape_text`.

    Parameters
    ----------
    value
        Any value; ``None`` and NaN give ``""``, bytes are decoded as UTF-8 (bad bytes become
        U+FFFD), everything else goes through ``str``.
    max_len
        Truncate longer text to this many characters (plus "…"); ``None`` keeps everything.

    Returns
    -------
    str
        The text with control characters, bidirectional override/isolate controls and lone
        surrogates removed and tabs, line breaks and U+2028/U+2029 turned into single spaces.
        Markup characters are kept: the text is meant for ``textContent`` or for
        :func:`script_json`, never for HTML source.

    Examples
    --------
    >>> clean_text("{{7*7}} \u202eevil")
    '{{7*7}} evil'
    """
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = str(value)
    text = _SPACE.sub(" ", text)
    text = _DROP.sub("", text)
    if max_len is not None and len(text) > max_len:
        text = text[: max(max_len, 1) - 1].rstrip() + "…"
    return text


def escape_text(value: Any, *, max_len: int | None = MAX_TEXT_LEN) -> str:
    """Return ``value`` as text that is safe in HTML and in JavaScript string literals.

    Parameters
    ----------
    value, max_len
        As for :func:`clean_text`, which runs first (truncation comes before escaping).

    Returns
    -------
    str
        HTML-escaped text (``& < > " '``), with backtick, ``${`` and backslash replaced by
        numeric character references, control characters removed, tabs and line breaks
        turned into single spaces and bidirectional override/isolate controls removed. The
        browser shows the original characters; none of them can act as markup or code.

    Examples
    --------
    >>> escape_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    >>> escape_text("`${x}`")
    '&#96;&#36;{x}&#96;'
    """
    text = html.escape(clean_text(value, max_len=max_len), quote=True)
    for raw, entity in _JS_ENTITIES:
        text = text.replace(raw, entity)
    return text


def script_json(obj: Any) -> str:
    """Serialise ``obj`` as compact JSON that can sit inside a ``<script>`` element.

    ``<``, ``>``, ``&`` and ``'`` become ``\\u`` escapes (so ``</script>`` and ``<!--`` cannot
    appear), as do U+2028 and U+2029. Non-finite floats raise ``ValueError``: callers turn NaN
    into ``None`` first.

    Parameters
    ----------
    obj
        Plain data: dicts, lists, tuples, str, int, float, bool, None.

    Returns
    -------
    str
        A JavaScript expression equal to ``obj``.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
