"""encode(..., distributed=True) and count_share (what `embforge vocab` runs
under torchrun) in real gloo processes: every rank holds the single-process
Vocabulary (words, counts, order) and the encoding of its own share of the
lines; bad set-ups are refused on every rank."""
import gzip
import random

import numpy as np
import pytest

from distributed_harness import run_ranks, values
from embforge.corpus import encode
from embforge.io.line_ranges import rank_share

# (min_count, max_vocab_size, max_sentence_length, threads a rank): min_count 0
# and 1 keep the singletons, 5 drops most words, 7 truncates the ranking
# mid-ties; a rank's threads take its share's chunks in turn.
CASES = [(0, None, 10000, 1), (1, None, 10000, 2), (5, None, 4, 3), (1, 7, 10000, 1),
         (3, 25, 3, 2)]


def make_corpus(folder):
    """A plain file (CRLF and empty lines, no final newline) and a gzip file,
    of Zipf-distributed words with many count ties; returns their paths."""
    rng = random.Random(5)
    words = [f"w{i}" for i in range(300)] + ["caf\u00e9", "\u00fcber", "na\u00efve"]

    def line():
        return " ".join(words[min(int(rng.paretovariate(1.0)) - 1, len(words) - 1)]
                        if rng.random() < 0.9 else rng.choice(words)
                        for _ in range(rng.randint(0, 14)))
    plain = "\n".join(line() + ("\r" if rng.random() < 0.2 else "") for _ in range(300))
    packed = "\n".join(line() for _ in range(200)) + "\n\n"
    (folder / "a.txt").write_bytes(plain.encode())
    (folder / "b.txt.gz").write_bytes(gzip.compress(packed.encode()))
    return [str(folder / "a.txt"), str(folder / "b.txt.gz")]


def token_lists():
    rng = random.Random(9)
    return [[f"t{min(int(rng.paretovariate(1.2)), 60)}" for _ in range(rng.randint(0, 9))]
            for _ in range(150)]


def summary(corpus):
    return {"words": corpus.vocab.words, "counts": corpus.vocab.counts.tolist(),
            "ids": corpus.ids.tolist(), "offsets": corpus.offsets.tolist(),
            "raw": corpus.raw_tokens, "dropped": corpus.dropped_tokens, "share": corpus.share}


def _encode_cases(rank, world, files, stream_dir):
    import embforge
    out = []
    for min_count, max_vocab, max_len, workers in CASES:
        out.append(summary(embforge.encode(files, min_count=min_count, max_vocab_size=max_vocab,
                                           max_sentence_length=max_len, workers=workers,
                                           distributed=True)))
    # the id stream written to a file per rank
    streamed = embforge.encode(files, min_count=2, stream_path=f"{stream_dir}/ids",
                               distributed=True)
    out.append(summary(streamed) | {"path": streamed.path})
    out.append(summary(embforge.encode(token_lists(), min_count=2, distributed=True)))
    return out


def _refusals(rank, world, files, other):
    import embforge
    errors = {}

    def attempt(name, **kwargs):
        try:
            embforge.encode(**kwargs, distributed=True)
            errors[name] = None
        except ValueError as error:
            errors[name] = str(error)
    attempt("min_count", source=files, min_count=2 if rank == 1 else 3)
    attempt("files", source=files if rank == 0 else [files[0], other["different"]], min_count=1)
    attempt("one line", source=other["one_line"], min_count=1)
    attempt("bad utf-8", source=other["bad_utf8"], min_count=1)
    attempt("vocab", source=files, vocab=embforge.Vocabulary(["w1", "w2"] if rank else ["w1"]))
    from embforge.distributed import resolve_group
    from embforge.distributed.corpus_share import count_share
    group = resolve_group(distributed=True)
    for name, max_vocab in (("count max_vocab", 5 if rank else None), ("count -3", -3)):
        try:
            count_share(files, group, min_count=1, max_vocab_size=max_vocab)
        except ValueError as error:
            errors[name] = str(error)
    # one line: rank 1's share holds nothing, which counting (unlike training) takes
    vocab, raw, dropped = count_share(other["one_line"], group, min_count=1, max_vocab_size=None)
    errors["one line counted"] = (vocab.words, raw, dropped)
    return errors


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("dist"))


def check_against_single_process(results, source, world, min_count, max_vocab, max_len, tmp_path):
    single = encode(source, min_count=min_count, max_vocab_size=max_vocab,
                    max_sentence_length=max_len)
    total_ids = 0
    for rank, got in enumerate(results):
        assert got["words"] == single.vocab.words and got["counts"] == single.vocab.counts.tolist()
        assert got["share"].rank == rank and got["share"].world_size == world
        assert got["share"].raw_tokens == single.raw_tokens
        assert got["share"].n_tokens == single.n_tokens
        total_ids += len(got["ids"])
        if isinstance(source, list) and isinstance(source[0], str):
            # the share is exactly the rank's lines (line_ranges' rule), encoded
            text = tmp_path / f"share{rank}.txt"
            text.write_bytes(b"".join(rank_share(source, rank, world)))
            alone = encode(str(text), vocab=single.vocab, max_sentence_length=max_len)
            assert got["ids"] == alone.ids.tolist() and got["offsets"] == alone.offsets.tolist()
            assert (got["raw"], got["dropped"]) == (alone.raw_tokens, alone.dropped_tokens)
    assert total_ids == single.n_tokens


def test_two_ranks_build_the_single_process_vocabulary(corpus_files, tmp_path):
    results = values(run_ranks(_encode_cases, tmp_path, 2, args=(corpus_files, str(tmp_path))))
    per_case = list(zip(*results))
    for (min_count, max_vocab, max_len, _), ranks in zip(CASES, per_case):
        check_against_single_process(ranks, corpus_files, 2, min_count, max_vocab, max_len,
                                     tmp_path)
    streamed = per_case[len(CASES)]
    check_against_single_process(streamed, corpus_files, 2, 2, None, 10000, tmp_path)
    assert [r["path"] for r in streamed] == [f"{tmp_path}/ids.rank{r}" for r in range(2)]
    lists = per_case[len(CASES) + 1]
    check_against_single_process(lists, token_lists(), 2, 2, None, 10000, tmp_path)
    assert all(r["share"].lines == 150 for r in lists)
    assert sum(r["share"].rank_lines[r["share"].rank] for r in lists) == 150
    # shares of the token lists are blocks of sentences: a rank's sentences
    # are a subsequence of the corpus, and the two shares together all of it
    single = encode(token_lists(), min_count=2)
    union = sorted(tuple(s) for r in lists for s in np.split(np.array(r["ids"], dtype=int),
                                                             r["offsets"][1:-1]))
    assert union == sorted(tuple(single.sentence(i).tolist()) for i in range(len(single)))


def _within_memory(rank, world, big, spill_dir):
    import embforge
    from embforge._checks import MIN_MEMORY
    out = []
    for workers, memory, fixed in ((1, MIN_MEMORY, False), (3, MIN_MEMORY, False),
                                   (2, MIN_MEMORY, True), (1, MIN_MEMORY, True),
                                   (2, None, False)):
        vocab = (embforge.encode(big, min_count=2, memory=None).vocab if fixed else None)
        corpus = embforge.encode(big, vocab, min_count=2, workers=workers, memory=memory,
                                 temp_dir=spill_dir, distributed=True)
        out.append(summary(corpus) | {"ram": corpus.ram_bytes,
                                      "writeable": bool(corpus.ids.flags.writeable)})
    for workers in (2, 1):  # one thread writes the file from the start
        named = embforge.encode(big, min_count=2, workers=workers,
                                stream_path=f"{spill_dir}/ids{workers}", distributed=True)
        out.append(summary(named) | {"path": named.path, "ram": named.ram_bytes})
    return out


def test_a_share_is_read_on_threads_within_its_memory(tmp_path):
    """A rank reads its share once on its threads, its provisional ids and
    then its stream spilled to temporary files past `memory` (64 KiB against
    a share of ~100k ids, 400 KB), as one process does with the whole; the
    ids are those of the share encoded alone, in RAM or not."""
    rng = random.Random(3)
    big = tmp_path / "big.txt"
    big.write_text("\n".join(" ".join(f"v{min(int(rng.paretovariate(0.8)), 4000)}"
                                       for _ in range(rng.randint(1, 9)))
                             for _ in range(40000)) + "\n")
    results = values(run_ranks(_within_memory, tmp_path, 2, args=(str(big), str(tmp_path))))
    per_case = list(zip(*results))
    for case, ranks in enumerate(per_case):
        check_against_single_process(ranks, [str(big)], 2, 2, None, 10000, tmp_path)
        if case < 4:  # past memory: memory maps of temporary files, nothing in RAM
            assert all(r["ram"] == 0 and not r["writeable"] for r in ranks), case
            assert all(len(r["ids"]) * 4 > 4 * (1 << 16) for r in ranks)
        elif case == 4:
            assert all(r["ram"] >= len(r["ids"]) * 4 for r in ranks)
    for case, workers in ((5, 2), (6, 1)):
        assert [r["path"] for r in per_case[case]] == [f"{tmp_path}/ids{workers}.rank{r}"
                                                       for r in range(2)]
        for rank, got in enumerate(per_case[case]):  # the file holds exactly the ids
            assert got["ram"] == 0
            written = np.fromfile(tmp_path / f"ids{workers}.rank{rank}", dtype=np.uint32)
            assert written.tolist() == got["ids"]


def test_bad_setups_are_refused_on_every_rank(corpus_files, tmp_path):
    other = {"different": str(tmp_path / "different.txt"), "one_line": str(tmp_path / "one.txt"),
             "bad_utf8": str(tmp_path / "bad.txt")}
    (tmp_path / "different.txt").write_text("another corpus entirely\n" * 50)
    (tmp_path / "one.txt").write_text("a single line of words\n")
    # rank 1 owns the second half of the lines (two 64-byte blocks per rank... at least one):
    # an invalid byte in the last line fails there, and rank 0 must fail too
    (tmp_path / "bad.txt").write_bytes(b"good words here\n" * 40 + b"bad \xff byte\n")
    results = values(run_ranks(_refusals, tmp_path, 2, args=(corpus_files, other)))
    for rank, errors in enumerate(results):
        assert "min_count is 3 on rank 0 but 2 on rank 1" in errors["min_count"]
        assert "disagree on the corpus" in errors["files"] and "rank 1" in errors["files"]
        assert "world size 2 is larger than the corpus's 1 line" in errors["one line"]
        assert "invalid UTF-8" in errors["bad utf-8"]
        assert "disagree on encode parameters: vocab" in errors["vocab"]
        assert "max_vocab_size is 0 on rank 0 but 5 on rank 1" in errors["count max_vocab"]
        assert errors["count -3"] == "max_vocab_size must be >= 1 or None, got -3"
        assert errors["one line counted"] == (["a", "line", "of", "single", "words"], 5, 0)
    owner = 0 if results[0]["bad utf-8"].startswith("invalid") else 1
    assert f"rank {owner} failed while reading its share" in results[1 - owner]["bad utf-8"]


def _three_ranks(rank, world, files, tiny):
    import embforge
    from embforge.distributed import resolve_group
    from embforge.distributed.exchange import exchange
    group = resolve_group(distributed=True)
    # exchange: part i of rank r is bytes([r, i]) * (r + 2 * i) (empty from rank 0 to 0)
    parts = [bytes([rank, i]) * (rank + 2 * i) for i in range(world)]
    received = [bytes(a) for a in exchange(parts, group)]
    # the same parts laid end to end in one array, sent without a copy
    from embforge.distributed.exchange import exchange_packed
    packed = np.frombuffer(b"".join(parts), dtype=np.uint8)  # read-only: copied to be sent
    received_packed = [bytes(a) for a in exchange_packed(packed, [len(p) for p in parts], group)]
    # records of another dtype, sized in bytes (as the co-occurrence gather sends them)
    records = np.array([(rank, 10 * rank + i, 0.5 * i) for i in range(rank + 1)],
                       dtype=[("row", "<i4"), ("col", "<i4"), ("value", "<f4")])
    back = exchange_packed(records, [records.nbytes if r == 0 else 0 for r in range(world)], group)
    received_records = [np.asarray(b).view(records.dtype).tolist() for b in back]
    bad_sizes = {}
    for name, sizes in (("every rank", [len(p) for p in parts][:-1] + [0]),
                        ("rank 1 alone", [len(p) for p in parts][:-1] + [0] if rank == 1
                         else [len(p) for p in parts])):
        try:
            exchange_packed(packed, sizes, group)
            bad_sizes[name] = None
        except ValueError as error:
            bad_sizes[name] = str(error)
    out = {"received": received, "received packed": received_packed, "bad sizes": bad_sizes,
           "received records": received_records,
           "encoded": summary(embforge.encode(files, min_count=2,
                                                                    distributed=True))}
    from embforge.distributed.corpus_share import count_share
    out["counted"] = [
        (vocab.words, vocab.counts.tolist(), raw, dropped)
        for vocab, raw, dropped in (count_share(files, group, min_count=min_count,
                                                max_vocab_size=max_vocab, workers=workers)
                                    for min_count, max_vocab, workers in COUNTED)]
    try:
        embforge.encode(tiny, min_count=1, distributed=True)
    except ValueError as error:
        out["tiny"] = str(error)
    vocab, raw, dropped = count_share(tiny, group, min_count=1, max_vocab_size=None)
    out["tiny counted"] = (vocab.words, vocab.counts.tolist(), raw, dropped)
    return out


# count_share's cases: (min_count, max_vocab_size, threads a rank)
COUNTED = [(2, None, 1), (1, 7, 2), (0, None, 3)]


def test_three_ranks(corpus_files, tmp_path):
    tiny = tmp_path / "tiny.txt"
    # block = 1 byte: lines start at 0 (rank 0), 301 (rank 1), 303 (rank 0): rank 2 gets none
    tiny.write_bytes(b"x " * 150 + b"\na\nb\n")
    results = values(run_ranks(_three_ranks, tmp_path, 3, args=(corpus_files, str(tiny))))
    for rank, got in enumerate(results):
        assert got["received"] == [bytes([r, rank]) * (r + 2 * rank) for r in range(3)]
        assert got["received packed"] == got["received"]
        assert got["received records"] == (
            [[(r, 10 * r + i, 0.5 * i) for i in range(r + 1)] for r in range(3)] if rank == 0
            else [[], [], []])
        # sizes that do not fit: refused on every rank, even when one rank alone gave them
        assert "do not add up to the" in got["bad sizes"]["every rank"]
        assert ("do not add up to the" if rank == 1 else "rank 1 called exchange_packed()") in \
            got["bad sizes"]["rank 1 alone"]
        assert got["tiny"].startswith("rank 2 of 3 got no line of the corpus")
        assert got["tiny counted"] == (["x", "a", "b"], [150, 1, 1], 152, 0)
    check_against_single_process([r["encoded"] for r in results], corpus_files, 3, 2, None, 10000,
                                 tmp_path)
    # Counting alone: the vocabulary, tokens and tokens left out that one
    # process counting every file gives, on any number of threads a rank
    # (the threads take the share's chunks in turn; a chunk that ends inside
    # a line must wait for the rest, or the line counts as two: blocks of
    # this corpus's size cut many lines).
    from embforge.corpus_threads import count_words
    for case, (min_count, max_vocab, _) in enumerate(COUNTED):
        vocab, raw, dropped = count_words(corpus_files, min_count=min_count,
                                          max_vocab_size=max_vocab, workers=1)
        expected = (vocab.words, vocab.counts.tolist(), raw, dropped)
        assert all(r["counted"][case] == expected for r in results), case
        assert dropped > 0 or min_count == 0
