"""The pure pieces of the distributed co-occurrence count, against numpy
oracles: entries packed by owner rank (row % world size), and partitions
placed back into one (row, col)-sorted matrix a range of rows at a time
(what gather() and a partition's save() fetch)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._native import core
from embforge.distributed.partition_merge import PACKED_ENTRY
from embforge.distributed.row_ranges import range_positions, row_ranges


@st.composite
def sorted_matrix(draw):
    """A (row, col)-sorted COO matrix without repeated keys, and its vocabulary size."""
    vocab = draw(st.integers(1, 40))
    keys = draw(st.sets(st.tuples(st.integers(0, vocab - 1), st.integers(0, vocab - 1)),
                        max_size=200))
    keys = sorted(keys)
    rows = np.array([k[0] for k in keys], np.int32)
    cols = np.array([k[1] for k in keys], np.int32)
    values = np.array(draw(st.lists(st.integers(-2**62, 2**62), min_size=len(keys),
                                    max_size=len(keys))), np.int64)
    return rows, cols, values, vocab


@given(sorted_matrix(), st.integers(1, 5))
def test_pack_by_owner_groups_every_entry_under_its_owner_in_order(matrix, world):
    rows, cols, values, _ = matrix
    packed, sizes = core.pack_cooccurrences_by_owner(rows, cols, values, world)
    assert sizes.sum() * PACKED_ENTRY.itemsize == packed.size == len(rows) * PACKED_ENTRY.itemsize
    for rank, part in enumerate(np.split(packed, np.cumsum(sizes)[:-1] * PACKED_ENTRY.itemsize)):
        entries = part.view(PACKED_ENTRY)
        mine = rows % world == rank
        np.testing.assert_array_equal(entries["row"], rows[mine])
        np.testing.assert_array_equal(entries["col"], cols[mine])
        np.testing.assert_array_equal(entries["value"], values[mine])


@pytest.mark.parametrize("case, message", [
    ("world", "world_size must be >= 1, got 0"),
    ("negative row", "entry 1 has row -3: ids are >= 0"),
    ("lengths", "cols"),
    ("dtype", "rows"),
])
def test_packing_refuses_bad_input_naming_the_value(case, message):
    rows, cols = np.array([0, 1, 2], np.int32), np.array([1, 1, 1], np.int32)
    values, world = np.array([5, 6, 7], np.int64), 2
    if case == "world":
        world = 0
    elif case == "negative row":
        rows[1] = -3
    elif case == "lengths":
        cols = cols[:2]
    else:
        rows = rows.astype(np.int64)
    with pytest.raises(ValueError, match=message):
        core.pack_cooccurrences_by_owner(rows, cols, values, world)


@given(sorted_matrix(), st.integers(1, 5), st.integers(1, 9))
def test_ranges_of_rows_place_the_partitions_back_into_the_sorted_matrix(matrix, world, piece):
    rows, cols, values, vocab = matrix
    counts = np.bincount(rows, minlength=vocab).astype(np.int64)
    ranges = row_ranges(counts, piece)
    # every row once, in order; at most `piece` entries a range unless one row holds more
    assert [a for a, _ in ranges] == [0] + [b for _, b in ranges[:-1]] and ranges[-1][1] == vocab
    for a, b in ranges:
        assert counts[a:b].sum() <= piece or b == a + 1
    placed = []
    for a, b in ranges:
        whole = np.full(int(counts[a:b].sum()), -1, dtype=np.int64)  # a range's entries
        for rank in range(world)[::-1]:  # any order of ranks
            mine = (rows % world == rank) & (rows >= a) & (rows < b)
            at = range_positions(counts, a, b, rank, world)
            assert len(at) == mine.sum()
            whole[at] = np.flatnonzero(mine)  # which entry of the sorted matrix lands there
        placed.append(whole)
    np.testing.assert_array_equal(np.concatenate(placed), np.arange(len(rows)))
