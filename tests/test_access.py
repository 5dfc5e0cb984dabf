"""block_times: the minimum over each block's access points, by hand and against an
independent pandas group-by."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle.access import block_codes, block_times


def test_block_times_by_hand() -> None:
    # block "a": APs 0 (5.0), 2 (3.0), 4 (3.0, a tie: the first wins); "b": AP 1 only, NaN;
    # "c": AP 3 (7.5); "d": no AP; AP 5 belongs to "z", which is not a block
    ap_block = np.array(["a", "b", "a", "c", "a", "z"], dtype=object)
    values = np.array([5.0, np.nan, 3.0, 7.5, 3.0, 1.0])
    v, i = block_times(ap_block, values, np.array(["d", "c", "b", "a"], dtype=object))
    np.testing.assert_array_equal(v, [np.nan, 7.5, np.nan, 3.0])
    np.testing.assert_array_equal(i, [-1, 3, -1, 2])


def test_block_times_reuses_codes_and_takes_integer_ids() -> None:
    ap_block = np.array([10, 11, 10, 12])
    blocks = np.array([12, 10, 11])
    codes = block_codes(ap_block, blocks)
    first = block_times(ap_block, np.array([2.0, 4.0, 1.0, 8.0]), blocks, codes=codes)
    second = block_times(ap_block, np.array([9.0, np.nan, 9.5, 0.5]), blocks, codes=codes)
    np.testing.assert_array_equal(first[0], [8.0, 1.0, 4.0])
    np.testing.assert_array_equal(first[1], [3, 2, 1])
    np.testing.assert_array_equal(second[0], [0.5, 9.0, np.nan])
    np.testing.assert_array_equal(second[1], [3, 0, -1])


def _by_groupby(ap_block: np.ndarray, values: np.ndarray,
                block_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same minimum through a pandas sort and group-by (the oracle)."""
    frame = pd.DataFrame({"block": ap_block, "v": values, "i": np.arange(len(values))})
    best = frame.dropna(subset=["v"]).sort_values(["v", "i"]).groupby("block").first()
    v = best["v"].reindex(pd.Index(block_ids)).to_numpy(dtype=np.float64)
    i = best["i"].reindex(pd.Index(block_ids)).fillna(-1).to_numpy(dtype=np.int64)
    return v, i


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 7), st.one_of(st.none(), st.integers(0, 5))),
             max_size=40),
    st.lists(st.integers(0, 9), unique=True, max_size=10),
)
def test_block_times_matches_a_groupby(rows: list[tuple[int, int | None]],
                                       blocks: list[int]) -> None:
    # few distinct values: ties are frequent; block ids 8, 9 have no access point, and
    # access points of blocks 0..7 outside ``blocks`` are ignored
    ap_block = np.array([f"b{b}" for b, _ in rows], dtype=object)
    values = np.array([np.nan if v is None else float(v) for _, v in rows])
    block_ids = np.array([f"b{b}" for b in blocks], dtype=object)
    got = block_times(ap_block, values, block_ids)
    want = _by_groupby(ap_block, values, block_ids)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
