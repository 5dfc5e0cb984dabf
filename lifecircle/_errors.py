"""The small error tree of lifecircle.

Every error a user can cause is a :class:`LifecircleError`. Each class carries the exit code
the CLI returns for it (2 bad input, 3 bad configuration, 4 partial batch failure, 5 resource
limit), and each message says what is wrong, where (file, row, id) and how to fix it. The CLI
prints the message on one line; the API raises it unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "BatchError",
    "ConfigError",
    "InputError",
    "InputFileError",
    "LifecircleError",
    "OutputError",
    "ResourceLimitError",
    "did_you_mean",
]


class LifecircleError(Exception):
    """Base class of every error lifecircle raises on purpose."""

    exit_code: int = 1

    def __str__(self) -> str:
        # one line whatever the data put in it: a line break or another control character in
        # a name, id or path (CR, U+2028, ...) is shown escaped, as Python would write it
        return "".join(
            ch if ch.isprintable() else " " if ch == "\n" else repr(ch)[1:-1]
            for ch in super().__str__()
        )


class InputError(LifecircleError, ValueError):
    """Input data that cannot be used as given (bad rows, CRS, coordinates, geometry)."""

    exit_code = 2


class InputFileError(InputError, OSError):
    """An input file that is missing, unreadable, empty, truncated or of the wrong format."""

    exit_code = 2

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = str(path)
        message = f"{self.path}: {problem}"
        if fix:
            message += f"; {fix}"
        super().__init__(message)


class ConfigError(LifecircleError, ValueError):
    """A bad profile, option or configuration value."""

    exit_code = 3


class OutputError(LifecircleError, OSError):
    """The output cannot be written as asked (exists, inside an input, not writable)."""

    exit_code = 2


class BatchError(LifecircleError):
    """Some regions of a batch failed; the others finished."""

    exit_code = 4


class ResourceLimitError(LifecircleError, MemoryError):
    """A run would exceed a memory, size or time limit."""

    exit_code = 5


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
