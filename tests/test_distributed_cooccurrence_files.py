"""A distributed count's partitions saved to one file, across 3 real gloo
processes: every rank calls save() / save_glove_binary(), one rank writes
the whole matrix, fetched a range of rows at a time, and the file is the
one a single process saves, byte for byte; pieces may end anywhere; a file
that cannot be opened, or a writer that is not a rank, is refused on every
rank at once, and so is a writer that fails partway (no rank left waiting)."""
import os
from typing import Any, Dict, List

import pytest

from conftest import make_leaky_toy_corpus
from distributed_harness import run_ranks, values

pytest.importorskip("torch", reason="the partitions are counted on torch.distributed")

WORLD = 3
WRITERS = {7: 1, 1 << 20: 0}  # entries a piece: the rank that writes
COUNT = dict(window=5, min_count=1, workers=1, progress=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: Any) -> str:
    path = tmp_path_factory.mktemp("files") / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in make_leaky_toy_corpus(600)) + "\n")
    return str(path)


def _saved(rank: int, world: int, path: str, out: str) -> Dict[str, Any]:
    import embforge
    from embforge.distributed import cooccurrence as distributed_cooccurrence
    part = embforge.cooccurrence(path, distributed=True, **COUNT)
    result: Dict[str, Any] = {"nnz": part.nnz}
    for piece, dst in WRITERS.items():  # pieces ending anywhere; the whole matrix in one
        distributed_cooccurrence._GATHER_PIECE = piece
        part.save(os.path.join(out, f"{piece}.npz"), dst=dst)
        part.save_glove_binary(os.path.join(out, f"{piece}.bin"),
                               vocab_path=os.path.join(out, f"{piece}.vocab.txt"), dst=dst)
        whole = part.gather(dst)
        result[piece] = None if whole is None else (whole.rows.tobytes(), whole.cols.tobytes(),
                                                    whole.values.tobytes())
    def failing_write() -> None:
        # the writer's disk fills up after a few pieces of 7 entries: a
        # short write is refused by the native writer
        from embforge import _native
        distributed_cooccurrence._GATHER_PIECE = 7
        real, calls = _native.core.write_glove_records, []

        def full(fd: int, at: int, rows: Any, *args: Any, **kwargs: Any) -> None:
            calls.append(1)
            if len(calls) > 2:
                raise OSError(28, "No space left on device")
            real(fd, at, rows, *args, **kwargs)
        _native.core.write_glove_records = full
        try:
            part.save_glove_binary(os.path.join(out, "full.bin"))
        finally:
            _native.core.write_glove_records = real

    def failing_column() -> None:
        # the .npz's cols fail after two pieces: the writer takes the rest
        # of them, and the values' pieces after them, as the others send
        from embforge.io import cooc_file
        distributed_cooccurrence._GATHER_PIECE = 7
        real = cooc_file._write_member

        def member(archive: Any, out: Any, name: str, dtype: Any, count: int, chunks: Any) -> None:
            if name == "cols":
                next(chunks), next(chunks)
                raise OSError(28, "No space left on device")
            real(archive, out, name, dtype, count, chunks)
        cooc_file._write_member = member
        try:
            part.save(os.path.join(out, "full.npz"))
        finally:
            cooc_file._write_member = real

    for name, call in (("missing", lambda: part.save(os.path.join(out, "no", "such.npz"))),
                       ("dst", lambda: part.save(os.path.join(out, "x.npz"), dst=world)),
                       ("full", failing_write), ("column", failing_column)):
        try:
            call()
            result[name] = None
        except (OSError, ValueError, RuntimeError) as error:
            result[name] = f"{type(error).__name__}: {error}"
    # the ranks are still in step: the next collective gathers the matrix
    whole = part.gather(0)
    result["after"] = None if whole is None else whole.values.tobytes()
    return result


@pytest.fixture(scope="module")
def saved(tmp_path_factory: Any, corpus: str) -> Dict[str, Any]:
    out = tmp_path_factory.mktemp("saved")
    ranks = values(run_ranks(_saved, tmp_path_factory.mktemp("ranks"), WORLD,
                             args=(corpus, str(out)), timeout=120))
    return {"ranks": ranks, "out": out}


@pytest.fixture(scope="module")
def single(tmp_path_factory: Any, corpus: str) -> Dict[str, bytes]:
    import embforge
    one = embforge.cooccurrence(corpus, **COUNT)
    out = tmp_path_factory.mktemp("single")
    one.save(out / "m.npz")
    one.save_glove_binary(out / "m.bin", vocab_path=out / "vocab.txt")
    return {"npz": (out / "m.npz").read_bytes(), "bin": (out / "m.bin").read_bytes(),
            "vocab": (out / "vocab.txt").read_bytes(),
            "whole": (one.rows.tobytes(), one.cols.tobytes(), one.values.tobytes())}


@pytest.mark.parametrize("piece", [7, 1 << 20])
def test_one_rank_writes_the_single_process_file(saved: Dict[str, Any],
                                                 single: Dict[str, bytes], piece: int) -> None:
    out = saved["out"]
    assert (out / f"{piece}.npz").read_bytes() == single["npz"]
    assert (out / f"{piece}.bin").read_bytes() == single["bin"]
    assert (out / f"{piece}.vocab.txt").read_bytes() == single["vocab"]
    ranks: List[Dict[str, Any]] = saved["ranks"]
    assert sum(rank["nnz"] for rank in ranks) * 16 == len(single["bin"])
    # gather() fills the whole matrix on the writer from the same pieces
    dst = WRITERS[piece]
    assert ranks[dst][piece] == single["whole"]
    assert all(rank[piece] is None for index, rank in enumerate(ranks) if index != dst)


def test_nothing_else_is_left_in_the_directory(saved: Dict[str, Any]) -> None:
    names = sorted(os.listdir(saved["out"]))
    assert names == sorted(f"{piece}{kind}" for piece in (7, 1 << 20)
                           for kind in (".npz", ".bin", ".vocab.txt"))


def test_a_file_that_cannot_be_opened_fails_every_rank(saved: Dict[str, Any]) -> None:
    ranks = saved["ranks"]
    assert ranks[0]["missing"].startswith(("FileNotFoundError", "OSError"))  # the writer's own
    for rank in ranks[1:]:  # the others: which rank, and why
        assert "rank 0 failed while opening" in rank["missing"] and "such.npz" in rank["missing"]


def test_a_writer_that_fails_partway_fails_every_rank_and_leaves_no_file(
        saved: Dict[str, Any]) -> None:
    ranks = saved["ranks"]
    assert ranks[0]["full"].startswith("OSError: [Errno 28] cannot save")  # the writer's own
    assert "No space left on device" in ranks[0]["full"]
    for rank in ranks[1:]:
        assert rank["full"].startswith("RuntimeError: rank 0 failed while writing")
        assert "No space left on device" in rank["full"]
    assert not (saved["out"] / "full.bin").exists()
    # the same for a column of the .npz failing after two of its pieces
    assert "No space left on device" in ranks[0]["column"]
    for rank in ranks[1:]:
        assert rank["column"].startswith("RuntimeError: rank 0 failed while writing")
    assert not (saved["out"] / "full.npz").exists()
    # and the ranks are still in step after all of it
    assert ranks[0]["after"] == ranks[0][1 << 20][2]


def test_a_writer_that_is_not_a_rank_is_refused(saved: Dict[str, Any]) -> None:
    for rank in saved["ranks"]:
        assert rank["dst"] == f"ValueError: dst must be a rank in [0, {WORLD}), got {WORLD}"
