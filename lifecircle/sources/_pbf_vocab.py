"""The one string vocabulary of a PBF file, built from its blocks' string tables.

Each PBF block has its own string table; :class:`Vocabulary` maps the strings a block uses
onto one list for the whole file, each distinct key, value and role once. The map runs in
compiled code (:func:`intern_strings`): it hashes the bytes of each string the block uses
(FNV-1a) and, on a hash hit, compares the bytes too, so a collision cannot merge two strings;
a new string's bytes are kept in one byte arena. Python ``str`` objects are made once per
distinct string, at the end, instead of once per string table entry of every block (thousands
per block at city scale).

Why hand-written: a Python dict keyed by bytes would need a Python object per string table
entry, the cost this avoids; numba has no hash map over byte slices.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from .._kernels import compile_kernel, grown

__all__ = ["Vocabulary"]

#: FNV-1a 64-bit offset basis and prime (the string hash)
_FNV_BASIS = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def _fnv(b: np.ndarray, start: int, length: int) -> np.uint64:
    """FNV-1a 64-bit hash of ``b[start:start + length]``."""
    h = np.uint64(_FNV_BASIS)
    for i in range(start, start + length):
        h = (h ^ np.uint64(b[i])) * np.uint64(_FNV_PRIME)
    return h


def _same(b: np.ndarray, start: int, arena: np.ndarray, at: int, length: int) -> bool:
    """Whether ``b[start:start + length]`` equals ``arena[at:at + length]``."""
    for i in range(length):
        if b[start + i] != arena[at + i]:
            return False
    return True


def intern_strings(
    b: np.ndarray, st_off: np.ndarray, st_len: np.ndarray, sids: np.ndarray,
    table: np.ndarray, g_hash: np.ndarray, g_off: np.ndarray, g_len: np.ndarray,
    arena: np.ndarray, sizes: np.ndarray,
) -> None:
    """Rewrite a block's local string ids ``sids`` (in place) into global ids.

    The vocabulary: string ``g`` is ``arena[g_off[g]:g_off[g] + g_len[g]]`` with hash
    ``g_hash[g]``; ``table`` is an open-addressing hash table of global ids (-1 empty, size a
    power of two); ``sizes`` holds (number of strings, arena bytes used) and is updated. The
    caller makes room beforehand for every string of the block to be new (the table stays at
    most half full): the buffers never grow here, which keeps the loop tight. Only the
    strings the block uses are looked up, each once.
    """
    local = np.full(st_off.shape[0], -1, dtype=np.int32)
    n_g = sizes[0]
    used = sizes[1]
    mask = np.uint64(table.shape[0] - 1)
    for i in range(sids.shape[0]):
        s = sids[i]
        g = local[s]
        if g < 0:
            start = st_off[s]
            length = st_len[s]
            h = _fnv(b, start, length)
            slot = h & mask
            while True:
                g = table[slot]
                if g < 0:
                    break
                if (g_hash[g] == h and g_len[g] == length
                        and _same(b, start, arena, g_off[g], length)):
                    break
                slot = (slot + np.uint64(1)) & mask
            if g < 0:  # a new string: store it
                g = n_g
                for k in range(length):
                    arena[used + k] = b[start + k]
                g_off[g] = used
                g_len[g] = length
                g_hash[g] = h
                used += length
                table[slot] = g
                n_g += 1
            local[s] = g
        sids[i] = g
    sizes[0] = n_g
    sizes[1] = used


def rehash(g_hash: np.ndarray, n_g: int, table: np.ndarray) -> None:
    """Fill the empty hash ``table`` (all -1, size a power of two) with ids ``0 .. n_g-1``."""
    mask = np.uint64(table.shape[0] - 1)
    for g in range(n_g):
        slot = g_hash[g] & mask
        while table[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = g


@cache
def _kernels() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(intern_strings, rehash) compiled by numba (nogil, cached on disk)."""
    return compile_kernel(intern_strings, _fnv, _same), compile_kernel(rehash)


class Vocabulary:
    """Strings interned from block string tables; ids are positions in :meth:`strings`."""

    def __init__(self) -> None:
        self.table = np.full(1 << 12, -1, dtype=np.int32)
        self.g_hash = np.empty(1 << 11, dtype=np.uint64)
        self.g_off = np.empty(1 << 11, dtype=np.int64)
        self.g_len = np.empty(1 << 11, dtype=np.int64)
        self.arena = np.empty(1 << 16, dtype=np.uint8)
        self.sizes = np.zeros(2, dtype=np.int64)  # strings, arena bytes used

    def intern(self, block: np.ndarray, st_off: np.ndarray, st_len: np.ndarray,
               sids: np.ndarray) -> None:
        """Rewrite ``sids`` (ids into the string table at ``st_off``/``st_len`` of ``block``,
        all valid) in place into vocabulary ids."""
        if not sids.size:
            return
        self._make_room(st_off.size, int(st_len.sum()))
        _kernels()[0](block, st_off, st_len, sids, self.table, self.g_hash, self.g_off,
                      self.g_len, self.arena, self.sizes)

    def _make_room(self, n_new: int, n_bytes: int) -> None:
        """Grow the buffers so that ``n_new`` more strings of ``n_bytes`` fit, keeping the
        hash table at most half full."""
        n_strings, used = (int(v) for v in self.sizes)
        if n_strings + n_new > self.g_off.size:
            size = max(2 * self.g_off.size, n_strings + n_new)
            self.g_off = grown(self.g_off, n_strings, size)
            self.g_len = grown(self.g_len, n_strings, size)
            self.g_hash = grown(self.g_hash, n_strings, size)
        if used + n_bytes > self.arena.size:
            self.arena = grown(self.arena, used, max(2 * self.arena.size, used + n_bytes))
        if 2 * (n_strings + n_new) > self.table.size:
            self.table = np.full(1 << (2 * (n_strings + n_new)).bit_length(), -1,
                                 dtype=np.int32)
            _kernels()[1](self.g_hash, n_strings, self.table)

    def strings(self) -> list[str]:
        """The vocabulary, decoded as UTF-8 (an invalid byte becomes U+FFFD)."""
        n_strings, used = (int(v) for v in self.sizes)
        text = self.arena[:used].tobytes()
        return [text[o:o + n].decode("utf-8", "replace")
                for o, n in zip(self.g_off[:n_strings].tolist(),
                                self.g_len[:n_strings].tolist(), strict=True)]
