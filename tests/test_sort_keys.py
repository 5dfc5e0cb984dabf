"""The integer-key sorts that stand in for numpy's slower general ones give numpy's answers:
``planar.stable_order`` (a stable argsort) and ``_pbf_scan._unique_rows`` (``np.unique`` of
rows with their inverse), on every branch each takes (``_unique_rows`` is never given zero
rows: its one caller answers those itself)."""

from __future__ import annotations

import numpy as np
import pytest

from lifecircle.sources._pbf_scan import _unique_rows
from lifecircle.sources.planar import stable_order


@pytest.mark.parametrize(("dtype", "high"), [
    (np.int64, 50),          # many repeats: the order among equal keys is the point
    (np.int64, 10**12),      # wide keys, still under the product bound
    (np.int32, 2**31 - 1),   # int32 keys: widened before the product (it would wrap)
    (np.int64, 2**62),       # (max - min) * n past 2^62: numpy's stable argsort itself
])
def test_stable_order_is_numpys_stable_argsort(dtype, high):
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 1000, 160_000):
        key = rng.integers(-high // 2, high // 2, size=n, dtype=np.int64).astype(dtype)
        got = stable_order(key)
        assert got.dtype == np.int64
        assert np.array_equal(got, np.argsort(key, kind="stable"))


@pytest.mark.parametrize(("values", "columns", "rows"), [
    (5, 3, 2000),     # few combinations: ranked through a table, no sort
    (3000, 3, 1000),  # combinations far more than rows: np.unique of the folded keys
    (300, 8, 500),    # folded keys past 2^62: np.unique of the rows
])
def test_unique_rows_is_numpys_unique_of_rows(values, columns, rows):
    rng = np.random.default_rng(values)
    # vocabulary ids, -1 where the key is absent, spread so the ranks are not the ids
    ids = rng.integers(-1, values, size=(rows, columns)).astype(np.int32) * 3
    ids[ids < 0] = -1
    combos, inverse = _unique_rows(ids)
    want, want_inverse = np.unique(ids, axis=0, return_inverse=True)
    assert np.array_equal(combos, want)
    assert np.array_equal(inverse, want_inverse.reshape(-1))
    assert np.array_equal(combos[inverse], ids)
