"""A co-occurrence matrix on disk: the count's result files, the archive
written in pieces and memory-mapped, hostile archives, cleanup."""
import gc
import importlib
import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, strategies as st

import embforge

from embforge._native import core
from embforge.cooccurrence import Cooccurrence, cooccurrence
from embforge.corpus import EncodedCorpus
from embforge.io.archive import read_archive
from embforge.vocab import Vocabulary

from conftest import interrupted_run_polled, open_files_under

cooc_module = importlib.import_module("embforge.cooccurrence")
count_module = importlib.import_module("embforge.cooccurrence_count")
TINY = 1 << 16


def native_count(ids, offsets, vocab, workers, memory, max_product, result_dir="",
                 to_files=False):
    with tempfile.TemporaryDirectory() as spill:
        params = core.CooccurParams(
            window=5, symmetric=True, distance_weighting=True, workers=workers, memory_bytes=memory,
            temp_dir=spill, max_product=max_product, result_dir=result_dir,
            result_to_files=to_files)
        return core.count_cooccurrences(np.asarray(ids, np.uint32), np.asarray(offsets, np.int64),
                                        vocab, params)


def joined(directory, counts, name, dtype):
    parts = [np.fromfile(os.path.join(directory, f"result-{t}.{name}"), dtype=dtype)
             for t in range(len(counts))]
    assert [len(p) for p in parts] == counts
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


@given(vocab=st.integers(1, 60), n=st.integers(0, 3000), workers=st.integers(1, 3),
       memory=st.sampled_from([TINY, 1 << 30]), max_product=st.sampled_from([-1, 0]),
       seed=st.integers(0, 2**32 - 1))
def test_result_files_join_to_the_in_memory_result(vocab, n, workers, memory, max_product, seed):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, n)
    offsets = np.unique(np.concatenate([[0, n], rng.integers(0, n + 1, 5)]))
    rows, cols, values, stats = native_count(ids, offsets, vocab, 1, 1 << 30, -1)
    with tempfile.TemporaryDirectory() as out:
        r, c, v, s = native_count(ids, offsets, vocab, workers, memory, max_product, out, True)
        counts = s["result_file_counts"]
        assert len(r) == 0 and s["nnz"] == len(rows) == sum(counts) and len(counts) >= 1
        np.testing.assert_array_equal(joined(out, counts, "rows", np.int32), rows)
        np.testing.assert_array_equal(joined(out, counts, "cols", np.int32), cols)
        np.testing.assert_array_equal(joined(out, counts, "values", np.float32), values)
    assert stats["result_file_counts"] == []


def corpus(n=60000, vocab_size=400, seed=3):
    rng = np.random.default_rng(seed)
    ids = (rng.zipf(1.3, n).clip(1, vocab_size) - 1).astype(np.uint32)
    vocab = Vocabulary([f"w{i}" for i in range(vocab_size)], [1] * vocab_size)
    return EncodedCorpus(vocab, ids, np.arange(0, n + 1, 30, dtype=np.int64), n, 0)


@pytest.fixture(scope="module")
def in_memory():
    return cooccurrence(corpus(), window=5, workers=2, progress=False)


def test_path_writes_an_aligned_archive_and_maps_it(tmp_path, in_memory):
    path = tmp_path / "x.npz"
    X = cooccurrence(corpus(), window=5, workers=2, progress=False, path=path)
    assert X.on_disk and X == in_memory and X.window == 5
    for array in (X.rows, X.cols, X.values):
        assert not array.flags.writeable and array.ctypes.data % 64 == 0
    with np.load(path) as plain:  # an ordinary .npz for everyone else
        np.testing.assert_array_equal(plain["values"], in_memory.values)
    config, words, _ = read_archive(path, "x", ("counts",), "embforge.Cooccurrence", 1)
    assert config["symmetric"] is True and words == in_memory.vocab.words
    assert Cooccurrence.load(path) == in_memory
    assert os.listdir(tmp_path) == ["x.npz"]



def test_result_past_the_budget_goes_to_an_unnamed_file(tmp_path, in_memory):
    # 64 KiB cannot hold the ~40k-entry result (480 KB): it goes to disk.
    X = cooccurrence(corpus(), window=5, workers=2, memory=TINY, max_product=0,
                     temp_dir=tmp_path, progress=False)
    assert X.on_disk and X == in_memory
    assert os.listdir(tmp_path) == [] and open_files_under(tmp_path)  # the file and its maps
    assert X.stats["planned_peak_bytes"] <= TINY + 2 * (768 << 10)  # write buffers, not the result
    del X
    gc.collect()
    assert open_files_under(tmp_path) == []


def test_saving_and_exporting_a_mapped_matrix(tmp_path, in_memory):
    in_memory.save(tmp_path / "a.npz")
    mapped = Cooccurrence.load(tmp_path / "a.npz", mmap=True)
    assert mapped.on_disk and mapped == in_memory
    mapped.save(tmp_path / "b.npz")
    assert Cooccurrence.load(tmp_path / "b.npz") == in_memory
    mapped.save_glove_binary(tmp_path / "a.bin")
    in_memory.save_glove_binary(tmp_path / "m.bin")
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "m.bin").read_bytes()
    chunks = list(mapped.iter_chunks(1000))
    assert len(chunks) == -(-in_memory.nnz // 1000)
    np.testing.assert_array_equal(np.concatenate([c[2] for c in chunks]), in_memory.values)


def tampered(path, matrix, **changes):
    arrays = dict(rows=matrix.rows, cols=matrix.cols, values=matrix.values)
    arrays.update(changes)
    Cooccurrence(arrays["rows"], arrays["cols"], arrays["values"], matrix.vocab,
                 check=False).save(path)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda m: dict(rows=np.where(np.arange(m.nnz) == m.nnz - 1, 999, m.rows).astype(np.int32)),
     r"rows\[\d+\] = 999 is not a word id"),
    (lambda m: dict(values=np.where(np.arange(m.nnz) == 7, np.nan, m.values).astype(np.float32)),
     r"values\[7\] = nan"),
    (lambda m: dict(cols=m.cols[::-1].copy()), "not sorted"),
])
def test_hostile_archive_is_rejected_when_mapped(tmp_path, in_memory, change, message):
    path = tampered(tmp_path / "bad.npz", in_memory, **change(in_memory))
    with pytest.raises(ValueError, match=message):
        Cooccurrence.load(path, mmap=True)
    gc.collect()
    assert open_files_under(tmp_path) == []


def test_compressed_or_truncated_archive_cannot_be_mapped(tmp_path, in_memory):
    m = in_memory
    with open(tmp_path / "z.npz", "wb") as out:
        np.savez_compressed(out, config=np.frombuffer(
            b'{"format": "embforge.Cooccurrence", "version": 1}', np.uint8),
            words=np.frombuffer("\n".join(m.vocab.words).encode(), np.uint8),
            counts=m.vocab.counts, rows=m.rows, cols=m.cols, values=m.values)
    with pytest.raises(ValueError, match="compressed"):
        Cooccurrence.load(tmp_path / "z.npz", mmap=True)
    assert Cooccurrence.load(tmp_path / "z.npz") == m  # in memory it reads fine
    m.save(tmp_path / "a.npz")
    data = (tmp_path / "a.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="not an embforge co-occurrence file"):
        Cooccurrence.load(tmp_path / "cut.npz", mmap=True)
    gc.collect()
    assert open_files_under(tmp_path) == []


def test_ctrl_c_with_a_path_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(count_module, "run_polled", interrupted_run_polled)
    with pytest.raises(KeyboardInterrupt):
        cooccurrence(corpus(), window=5, temp_dir=tmp_path, progress=False,
                     path=tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_counted_straight_to_glove_binary_is_save_glove_binarys_file(tmp_path):
    # the merge hands pieces of rows to the file in order, whatever thread
    # finishes them: the same bytes for any thread count, budget or spill
    text = corpus()
    reference = cooccurrence(text, window=5, progress=False)
    reference.save_glove_binary(tmp_path / "ref.bin")
    expected = (tmp_path / "ref.bin").read_bytes()
    for workers, memory in [(1, "64MB"), (3, "64MB"), (2, 1 << 16)]:
        got = embforge.cooccurrence_to_glove(text, tmp_path / "c.bin", window=5, workers=workers,
                                             memory=memory, temp_dir=tmp_path, progress=False,
                                             vocab_path=tmp_path / "vocab.txt")
        assert (tmp_path / "c.bin").read_bytes() == expected, (workers, memory)
        assert got.nnz == reference.nnz and got.vocab == reference.vocab
        assert Cooccurrence.load_glove_binary(tmp_path / "c.bin", tmp_path / "vocab.txt") == reference
        assert sorted(os.listdir(tmp_path)) == ["c.bin", "ref.bin", "vocab.txt"]  # spills gone
        if memory == 1 << 16:
            assert got.stats["spilled_runs"] > 0  # the smallest budget spilled its runs


def test_counting_to_glove_binary_refuses_a_gpu(tmp_path, device):
    if device == "cpu":
        pytest.skip("the CPU is the device that counts to the file (tested above)")
    with pytest.raises(ValueError, match="runs on the CPU"):
        embforge.cooccurrence_to_glove(corpus(), tmp_path / "c.bin", device=device)
    assert os.listdir(tmp_path) == []


def test_ctrl_c_while_counting_to_glove_binary_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(count_module, "run_polled", interrupted_run_polled)
    with pytest.raises(KeyboardInterrupt):
        embforge.cooccurrence_to_glove(corpus(), tmp_path / "c.bin", window=5, temp_dir=tmp_path,
                                       progress=False)
    assert os.listdir(tmp_path) == []


def test_cli_cooccur_then_train_from_the_file(tmp_path):
    from embforge.cli import main
    from embforge.glove import GloVe
    text = tmp_path / "c.txt"
    text.write_text("".join(" ".join(f"w{i % 17}" for i in range(k, k + 12)) + "\n"
                            for k in range(300)))
    matrix = tmp_path / "m.npz"
    assert main(["cooccur", str(text), "-o", str(matrix), "--window", "3", "--min-count", "1",
                 "--quiet"]) == 0
    assert Cooccurrence.load(matrix) == cooccurrence(str(text), window=3, min_count=1,
                                                     progress=False)
    out, model = tmp_path / "v.txt", tmp_path / "g.model"
    assert main(["train", str(text), "-o", str(out), "--model", "glove", "--cooccurrence",
                 str(matrix), "--size", "4", "--epochs", "1", "--threads", "1",
                 "--save-model", str(model), "--quiet"]) == 0
    assert GloVe.load(model).epochs_trained == 1
