"""The ranks' partial counts merged into partitions a range of rows at a
time, within the memory budget (embforge/distributed/partition_merge.py):
the plan of the rounds against its rule, the cut of a partial across its
threads' parts against numpy, then 3 real gloo processes counting with
budgets that hold the partials and partitions in memory, both on disk (in
one round, or in many cut across the count's threads' files), or one of
each: every partition is the single process's rows bit for bit, saves the
single process's file byte for byte, leaves nothing in temp_dir (nor open,
nor mapped), and trains GloVe as its in-memory twin does. A GloVe model too
large for one rank's memory stops every rank with the reason before
anything is counted; a rank whose merge or pair plan fails after the count
stops every rank with its reason, none left waiting."""
import gc
import os
from typing import Any, Dict

import numpy as np
import pytest
from hypothesis import given, strategies as st

from conftest import open_files_under
from distributed_harness import run_ranks, values

pytest.importorskip("torch", reason="the partitions are counted on torch.distributed")

WORLD = 3
COUNT = dict(window=5, min_count=1, progress=False)
# A budget under a rank's partial (~21k entries, 16 bytes each) and twice its
# partition (~15k, 12 bytes each), above what counting needs (~210 KB). The
# mixed cases' budgets were found by trying budgets from 450 KB to 1.4 MB:
# at 700 KB the partial does not fit beside the count's tables (to files)
# and the partition fits half of the rest; at 800 KB the partial fits and
# the partition does not fit half of what it leaves.
SMALL = 450_000
CASES = ("memory", "disk", "rounds", "partial on disk", "partition on disk")
PLACED = {"memory": (False, False), "disk": (True, True), "rounds": (True, True),
          "partial on disk": (True, False), "partition on disk": (False, True)}


@given(partial=st.integers(0, 1 << 32), bound=st.integers(0, 1 << 28),
       vocab=st.integers(1, 1 << 22), memory=st.integers(1 << 16, 1 << 34))
def test_the_rounds_and_the_partition_fit_what_the_partial_leaves(partial, bound, vocab, memory):
    from embforge.distributed.partition_merge import (MIN_ROUND_ENTRIES, ROUND_BYTES_PER_ENTRY,
                                                      VOCAB_BYTES_PER_WORD, plan_rounds)
    to_files, entries = plan_rounds(partial, bound, vocab, memory)
    left = max(0, memory - partial - VOCAB_BYTES_PER_WORD * vocab)
    partition = 0 if to_files else 12 * bound
    assert entries >= MIN_ROUND_ENTRIES
    # in memory exactly where the partition leaves the rounds half at least
    assert to_files == (12 * bound > left // 2)
    # the rounds take what is left, within the budget unless at their floor
    assert partition + entries * ROUND_BYTES_PER_ENTRY <= left or entries == MIN_ROUND_ENTRIES
    assert (entries + 1) * ROUND_BYTES_PER_ENTRY > left - partition


@given(st.data())
def test_rounds_cut_the_partial_across_its_threads_parts(data):
    from embforge.distributed.partition_merge import _cut, _row_starts
    vocab = data.draw(st.integers(1, 30))
    keys = sorted(data.draw(st.sets(st.tuples(st.integers(0, vocab - 1), st.integers(0, 50)),
                                    max_size=120)))
    rows = np.array([k[0] for k in keys], np.int32)
    cols = np.array([k[1] for k in keys], np.int32)
    fixed = np.arange(len(keys), dtype=np.int64)
    # the count's threads: consecutive ranges of rows, some of them empty
    bounds = sorted(data.draw(st.lists(st.integers(0, vocab), max_size=4)))
    edges = [0] + [int(np.searchsorted(rows, b)) for b in bounds] + [len(rows)]
    parts = [(rows[a:b], cols[a:b], fixed[a:b]) for a, b in zip(edges, edges[1:]) if b > a]
    starts = _row_starts(parts, vocab)
    np.testing.assert_array_equal(
        starts, np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=vocab))]))
    part_starts = np.cumsum([0] + [len(p[0]) for p in parts[:-1]]).tolist()
    lo = data.draw(st.integers(0, len(rows)))
    hi = data.draw(st.integers(lo, len(rows)))
    got = _cut(parts, part_starts, lo, hi)
    for column, whole in zip(got, (rows, cols, fixed)):
        np.testing.assert_array_equal(column, whole[lo:hi])
        assert column.dtype == whole.dtype


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: Any) -> str:
    # Zipf-distributed words: ~100k nonzeros, so that a partial (16 bytes an
    # entry) and a partition (12) outgrow the smallest budget, 64 KiB
    rng = np.random.default_rng(4)
    ids = rng.zipf(1.2, size=(2_000, 15)).clip(1, 3_000)
    path = tmp_path_factory.mktemp("merge") / "corpus.txt"
    path.write_text("".join(" ".join(f"w{i}" for i in line) + "\n" for line in ids))
    return str(path)


def _counted(rank: int, world: int, path: str, out: str) -> Dict[str, Any]:
    import embforge
    from embforge.distributed import partition_merge
    result: Dict[str, Any] = {}
    temp = os.path.join(out, f"temp{rank}")
    os.mkdir(temp)
    # (budget, entries a round at least, threads): in memory in one round;
    # on disk in one round; on disk in rounds of the budget's size (about
    # 10,000 entries), cut across the two threads' partial files; the
    # partial on disk and the partition in memory; the other way round
    cases = {"memory": ("1GB", 1 << 16, 1), "disk": (SMALL, 1 << 20, 1),
             "rounds": (SMALL, 2_000, 2), "partial on disk": (700_000, 1 << 16, 1),
             "partition on disk": (800_000, 1 << 16, 1)}
    for name, (memory, floor, workers) in cases.items():
        partition_merge.MIN_ROUND_ENTRIES = floor
        part = embforge.cooccurrence(path, memory=memory, workers=workers, temp_dir=temp,
                                     distributed=True, **COUNT)
        s = part.stats
        result[name] = {"on_disk": part.on_disk, "partial_on_disk": s["partial_on_disk"],
                        "rounds": s["exchange_rounds"], "partition": part.partition,
                        "arrays": (np.asarray(part.rows).tobytes(), np.asarray(part.cols).tobytes(),
                                   np.asarray(part.values).tobytes())}
        part.save(os.path.join(out, f"{name}.npz"))
        # pairs out of core either way: written from the partition's pieces
        model = embforge.GloVe(vector_size=8, epochs=2, seed=1, workers=1, out_of_core=True,
                               distributed=True, progress=False)
        model.fit(part)
        result[name]["glove"] = model.weights.tobytes()
        del part, model
        gc.collect()
        # no file left, open or mapped (the partials' maps, the partition's archive)
        with open("/proc/self/maps") as maps:
            mapped = [line.split()[-1] for line in maps if temp in line]
        result[name]["left"] = sorted(os.listdir(temp)) + open_files_under(temp) + mapped
    return result


@pytest.fixture(scope="module")
def counted(tmp_path_factory: Any, corpus: str) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("counted")
    ranks = values(run_ranks(_counted, tmp_path_factory.mktemp("ranks"), WORLD,
                             args=(corpus, str(out)), timeout=180))
    return {"ranks": ranks, "out": out}


@pytest.fixture(scope="module")
def single(tmp_path_factory: Any, corpus: str) -> Dict[str, Any]:
    import embforge
    one = embforge.cooccurrence(corpus, workers=1, **COUNT)
    out = tmp_path_factory.mktemp("single")
    one.save(out / "m.npz")
    return {"matrix": one, "npz": (out / "m.npz").read_bytes()}


def test_where_the_partials_and_partitions_are_held(counted: Dict[str, Any]) -> None:
    for rank in counted["ranks"]:
        for case in CASES:
            assert (rank[case]["partial_on_disk"], rank[case]["on_disk"]) == PLACED[case], case
        assert rank["memory"]["rounds"] == rank["disk"]["rounds"] == 1
        assert rank["rounds"]["rounds"] >= 3


@pytest.mark.parametrize("case", CASES)
def test_every_partition_is_the_single_process_rows(counted: Dict[str, Any],
                                                    single: Dict[str, Any], case: str) -> None:
    one = single["matrix"]
    for rank, result in enumerate(counted["ranks"]):
        got = result[case]
        assert got["partition"] == (rank, WORLD)
        mine = one.rows % WORLD == rank
        assert got["arrays"] == (one.rows[mine].tobytes(), one.cols[mine].tobytes(),
                                 one.values[mine].tobytes())
    assert (counted["out"] / f"{case}.npz").read_bytes() == single["npz"]


def test_nothing_is_left_in_temp_dir(counted: Dict[str, Any]) -> None:
    for rank in counted["ranks"]:
        assert [rank[case]["left"] for case in CASES] == [[]] * len(CASES)


def test_a_partition_on_disk_trains_as_its_twin_in_memory(counted: Dict[str, Any]) -> None:
    ranks = counted["ranks"]
    assert len({r[case]["glove"] for r in ranks for case in CASES}) == 1


def _too_small_on_one_rank(rank: int, world: int, path: str) -> str:
    import embforge
    from embforge import glove_blocks
    model = glove_blocks.model_bytes(3_000, 100)  # more than the corpus's words
    # memory is a rank's own: rank 1 alone is given too little for its model
    glove = embforge.GloVe(vector_size=100, epochs=1, min_count=1, workers=1, progress=False,
                           memory=model // 4 if rank == 1 else "1GB", distributed=True)
    try:
        glove.fit(path)
    except ValueError as error:
        return str(error)
    return "trained"


def test_a_model_too_large_for_one_rank_stops_every_rank_before_the_count(tmp_path,
                                                                           corpus: str) -> None:
    messages = values(run_ranks(_too_small_on_one_rank, tmp_path, WORLD, args=(corpus,),
                                timeout=120))
    assert "too small for out-of-core GloVe training" in messages[1]
    for rank in (0, 2):
        assert messages[rank].startswith("rank 1 failed while checking the vocabulary before "
                                         "counting: ValueError: memory=")


def _fails_on_rank_1(rank: int, world: int, path: str, out: str, where: str) -> Dict[str, Any]:
    import embforge
    from embforge import glove_blocks
    from embforge.distributed import partition_merge
    temp = os.path.join(out, f"{where}{rank}")
    os.mkdir(temp)
    partition_merge.MIN_ROUND_ENTRIES = 2_000  # several rounds: it fails in the second
    if rank == 1 and where == "merge":
        real, calls = partition_merge._merged, []

        def full(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            return real(*args, **kwargs)
        partition_merge._merged = full
    try:
        if where == "merge":
            embforge.cooccurrence(path, memory=SMALL, workers=1, temp_dir=temp, distributed=True,
                                  **COUNT)
        else:
            # rank 1's memory passes the check before the count (a pair fits
            # beside the model) but not the plan after it (no block does)
            with open(path) as text:
                words = len({word for line in text for word in line.split()})  # min_count 1
            memory = glove_blocks.model_bytes(words, 100) + 1_000 if rank == 1 else "1GB"
            embforge.GloVe(vector_size=100, epochs=1, min_count=1, workers=1, progress=False,
                           memory=memory, temp_dir=temp, distributed=True).fit(path)
        message = "finished"
    except (OSError, ValueError, RuntimeError) as error:
        message = f"{type(error).__name__}: {error}"
    gc.collect()
    return {"message": message, "left": sorted(os.listdir(temp)) + open_files_under(temp)}


@pytest.mark.parametrize("where, what", [("merge", "merging its partition"),
                                         ("pairs", "building its training pairs")])
def test_a_rank_that_fails_alone_fails_every_rank_with_its_reason(tmp_path, corpus: str,
                                                                  where: str, what: str) -> None:
    out, store = tmp_path / "out", tmp_path / "ranks"
    out.mkdir()
    store.mkdir()
    ranks = values(run_ranks(_fails_on_rank_1, store, WORLD,
                             args=(corpus, str(out), where), timeout=120))
    own = ("OSError: [Errno 28] No space left on device" if where == "merge"
           else "ValueError: memory=")
    assert ranks[1]["message"].startswith(own)
    # the others: a ValueError for bad input (memory), else a RuntimeError
    kind = "ValueError" if where == "pairs" else "RuntimeError"
    for rank in (0, 2):
        assert ranks[rank]["message"].startswith(f"{kind}: rank 1 failed while {what}: {own}")
    assert [r["left"] for r in ranks] == [[], [], []]
