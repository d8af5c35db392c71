"""The encoded corpus within a memory budget: past it, the id stream, its line
ends and offsets go to deleted temporary files read through memory maps.

Whichever way the stream is held, the ids, offsets, vectors and matrices are
the same; the files are gone whatever ends the process (a real SIGINT to a
real process, an error); a full disk is an OSError naming the file.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import embforge
from embforge._checks import MIN_MEMORY
from embforge._native import core
from embforge.corpus import STREAM_SHARE, encode, stream_memory


def zipf_lines(n_tokens: int, n_lines: int, seed: int = 3, vocab: int = 3000):
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(vocab)])
    ids = np.minimum(rng.zipf(1.3, size=n_tokens) - 1, vocab - 1)
    # lines of very different lengths, some of one token, some long
    cuts = np.sort(rng.choice(np.arange(1, n_tokens), size=n_lines - 1, replace=False))
    return [" ".join(part.tolist()) for part in np.split(words[ids], cuts)]


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    """200k tokens in 20k lines: 0.8 MB of ids, past the smallest budgets."""
    path = tmp_path_factory.mktemp("memory") / "corpus.txt"
    path.write_text("\n".join(zipf_lines(200_000, 20_000)) + "\n")
    return str(path)


def spilled(corpus) -> bool:
    """True when encode() held the stream in files (read-only maps, no RAM)."""
    return not corpus.ids.flags.writeable and corpus.ram_bytes == 0


def same_corpus(a, b):
    assert a.vocab == b.vocab
    assert np.array_equal(a.ids, b.ids) and a.ids.dtype == b.ids.dtype == np.uint32
    assert np.array_equal(a.offsets, b.offsets) and a.offsets.dtype == b.offsets.dtype == np.int64
    assert (a.raw_tokens, a.dropped_tokens) == (b.raw_tokens, b.dropped_tokens)


@pytest.mark.parametrize("max_sentence_length", [7, 10000])
def test_every_budget_encodes_the_same_stream(corpus_file, tmp_path, max_sentence_length):
    whole = encode(corpus_file, min_count=3, max_sentence_length=max_sentence_length, memory=None)
    assert not spilled(whole)
    held = []
    for memory in (MIN_MEMORY, 300_000, "1MB", "4MB", "1GB"):
        corpus = encode(corpus_file, min_count=3, max_sentence_length=max_sentence_length,
                        memory=memory, temp_dir=tmp_path)
        same_corpus(corpus, whole)
        held.append(spilled(corpus))
        if not spilled(corpus):  # what stays in RAM stays within the budget
            assert corpus.ram_bytes <= embforge.corpus.parse_memory(memory)
        # with a fixed vocabulary (ids final while reading) as well
        fixed = encode(corpus_file, vocab=whole.vocab, max_sentence_length=max_sentence_length,
                       memory=memory, temp_dir=tmp_path)
        same_corpus(fixed, whole)
    assert held[0] and not held[-1]  # both ways were taken
    assert os.listdir(tmp_path) == []  # deleted as soon as created


def test_token_lists_and_several_files(tmp_path):
    lines = zipf_lines(50_000, 4_000, seed=5)
    sentences = [line.split() for line in lines]
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("\n".join(lines[:1500]))  # no final newline: the next file starts a line
    b.write_text("\n".join(lines[1500:]) + "\n")
    spill = tmp_path / "spill"
    spill.mkdir()
    for source in (sentences, [str(a), str(b)]):
        kept = encode(source, min_count=2, memory=None)
        mapped = encode(source, min_count=2, memory=MIN_MEMORY, temp_dir=spill)
        assert spilled(mapped)
        same_corpus(mapped, kept)
    assert os.listdir(spill) == []


def test_stream_path_keeps_its_file_and_maps_the_offsets(corpus_file, tmp_path):
    whole = encode(corpus_file, min_count=3, memory=None)
    spill = tmp_path / "spill"
    spill.mkdir()
    named = encode(corpus_file, min_count=3, stream_path=tmp_path / "ids.u32", temp_dir=spill)
    same_corpus(named, whole)
    assert isinstance(named.ids, np.memmap) and not named.offsets.flags.writeable
    assert os.path.getsize(tmp_path / "ids.u32") == 4 * whole.n_tokens
    assert os.listdir(spill) == []


def test_offsets_that_would_pass_the_budget_go_to_a_file(tmp_path):
    # 10,000 one-token lines: the ids (64 KiB block) and line ends (128 KiB)
    # fit 200 kB while reading; the offsets made at the end (80 kB more) do not.
    text = "".join(f"w{i % 13}\n" for i in range(10_000)).encode()

    def build(memory_limit):
        builder = core.CorpusBuilder(max_sentence_length=10000, memory_limit=memory_limit,
                                     spill_dir=str(tmp_path))
        builder.feed(text)
        builder.finish(1, 0)
        return builder

    roomy, tight = build(300_000), build(200_000)
    assert not roomy.spilled and tight.spilled
    assert np.array_equal(roomy.take_ids(), tight.take_ids())
    offsets = tight.take_offsets()
    assert not offsets.flags.writeable and np.array_equal(roomy.take_offsets(), offsets)
    with pytest.raises(ValueError, match="read-only"):
        offsets[0] = 1


def test_word2vec_vectors_do_not_depend_on_the_budget(corpus_file, tmp_path):
    def train(memory):
        model = embforge.Word2Vec(sg=1, vector_size=16, epochs=2, workers=1, seed=5, min_count=3,
                                  memory=memory, temp_dir=tmp_path, progress=False)
        return model.fit(corpus_file)

    kept, mapped = train(None), train("1MB")  # 1 MB: 64 KiB for the stream
    assert not spilled(kept._corpus) and spilled(mapped._corpus)
    assert np.array_equal(kept.wv.vectors, mapped.wv.vectors)
    assert np.array_equal(kept.syn1neg, mapped.syn1neg)
    assert kept.training_loss == mapped.training_loss
    # another corpus (a list of one file), encoded with the model's vocabulary
    mapped.train([corpus_file], epochs=1)
    kept.train([corpus_file], epochs=1)
    assert spilled(mapped._corpus)
    assert np.array_equal(kept.wv.vectors, mapped.wv.vectors)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("memory", [None, "1MB"])
def test_word2vec_reads_on_its_threads_the_ids_one_thread_reads(corpus_file, tmp_path, memory):
    # The model's workers read and encode its files (3 threads, the stream in
    # RAM or spilled): the ids, offsets and vocabulary of one thread's read.
    one = encode(corpus_file, min_count=3, workers=1)
    model = embforge.Word2Vec(sg=1, vector_size=8, workers=3, min_count=3, memory=memory,
                              temp_dir=tmp_path, progress=False).build_vocab(corpus_file)
    assert spilled(model._corpus) == (memory is not None)
    same_corpus(model._corpus, one)
    assert model.vocab.words == one.vocab.words


def test_cooccurrence_does_not_depend_on_the_budget(corpus_file, tmp_path):
    roomy = embforge.cooccurrence(corpus_file, window=5, min_count=3, memory="1GB",
                                  workers=2, progress=False)
    tight = embforge.cooccurrence(corpus_file, window=5, min_count=3, memory="2MB",
                                  temp_dir=tmp_path, workers=2, progress=False)
    for name in ("rows", "cols", "values"):
        assert np.array_equal(getattr(roomy, name), getattr(tight, name))
    assert os.listdir(tmp_path) == []


def test_stream_memory_is_a_share_of_the_budget():
    assert stream_memory(None) is None
    assert stream_memory("1GB") == 10**9 // STREAM_SHARE
    assert stream_memory(MIN_MEMORY) == MIN_MEMORY


@pytest.mark.parametrize("memory", ["lots", -1, 0, True, "1XB"])
def test_bad_budgets_are_refused(corpus_file, memory):
    with pytest.raises(ValueError, match="memory"):
        encode(corpus_file, memory=memory)
    with pytest.raises(ValueError, match="memory"):
        embforge.Word2Vec(memory=memory)


def test_bad_temp_dir_is_refused(corpus_file, tmp_path):
    with pytest.raises(ValueError, match="missing.*does not exist"):
        encode(corpus_file, memory=MIN_MEMORY, temp_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a directory"):
        encode(corpus_file, memory=MIN_MEMORY, temp_dir=corpus_file)
    with pytest.raises(ValueError, match="memory_limit=65536 needs a spill_dir"):
        core.CorpusBuilder(memory_limit=MIN_MEMORY)


def test_a_full_disk_is_an_oserror_naming_the_file(corpus_file, tmp_path):
    # A file size limit stands in for a full disk (EFBIG instead of ENOSPC);
    # in a child process, which ignores SIGXFSZ so that write() fails instead.
    script = textwrap.dedent(f"""
        import resource, signal
        from embforge.corpus import encode
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            encode({corpus_file!r}, min_count=1, memory=65536, temp_dir={str(tmp_path)!r})
        except OSError as error:
            print("OSError", error)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=_env(), timeout=120)
    assert "OSError" in out.stdout, out.stdout + out.stderr
    assert f"temporary file '{tmp_path}/embforge-stream-" in out.stdout
    assert "File too large" in out.stdout and "bytes at offset" in out.stdout
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ Ctrl-C
def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def _stream_files(pid: int, directory) -> list:
    """The deleted stream files of `directory` that process `pid` holds open
    (while encoding) or maps (once encoded)."""
    prefix = f"{directory}/embforge-stream-"
    held = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                held.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                pass  # closed meanwhile
        with open(f"/proc/{pid}/maps") as maps:
            held += [line.split(None, 5)[-1].strip() for line in maps]
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [name for name in held if name.startswith(prefix) and name.endswith(" (deleted)")]


def _interrupt_once_spilled(command, directory, log_path, ready=None, delay=0.0):
    """Starts `command`, waits until it maps a deleted stream file of
    `directory` (and, given `ready`, until its stderr holds that text), sends
    SIGINT `delay` s later; returns (exit code, stdout, stderr)."""
    log = open(log_path, "w+")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=_env(), text=True)
    deadline = time.monotonic() + 120
    try:
        while not (_stream_files(process.pid, directory)
                   and (ready is None or ready in open(log_path).read())):
            assert process.poll() is None, open(log_path).read()
            assert time.monotonic() < deadline, "the stream never went to a file"
            time.sleep(0.02)
        time.sleep(delay)
        assert process.poll() is None, "finished before it could be interrupted"
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    return process.returncode, out, open(log_path).read()


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory):
    """1.6M tokens: seconds of training for one thread."""
    path = tmp_path_factory.mktemp("sigint") / "long.txt"
    path.write_text("\n".join(zipf_lines(1_600_000, 16_000, seed=11)) + "\n")
    return str(path)


def test_ctrl_c_while_encoding_leaves_no_file(tmp_path):
    # An endless corpus of token lists: SIGINT arrives while encode() reads.
    script = textwrap.dedent(f"""
        import sys
        from embforge.corpus import encode

        class Endless:
            def __iter__(self):
                i = 0
                while True:
                    i += 1
                    yield ["w%d" % (i % 997), "w%d" % (i % 13), "x"]

        try:
            encode(Endless(), min_count=1, memory=65536, temp_dir={str(tmp_path)!r})
        except KeyboardInterrupt:
            print("interrupted")
            sys.exit(130)
    """)
    code, out, err = _interrupt_once_spilled([sys.executable, "-c", script], tmp_path,
                                             tmp_path.parent / f"{tmp_path.name}.log")
    assert (code, out.strip()) == (130, "interrupted"), err
    assert os.listdir(tmp_path) == []


def test_ctrl_c_while_training_leaves_no_file(long_corpus, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        import embforge

        class Say:
            def on_train_begin(self, model):
                print("training", file=sys.stderr, flush=True)

        model = embforge.Word2Vec(sg=1, epochs=50, workers=1, memory="1MB", callbacks=[Say()],
                                  temp_dir={str(tmp_path)!r}, progress=False)
        model.fit({long_corpus!r})
        print("interrupted" if model.interrupted else "finished", len(model.wv))
    """)
    code, out, err = _interrupt_once_spilled([sys.executable, "-c", script], tmp_path,
                                             tmp_path.parent / f"{tmp_path.name}.log",
                                             ready="training", delay=0.5)
    # the files are gone however the signal found the process; inside the
    # native epoch (0.5 s after the callback) training stops and fit returns
    assert os.listdir(tmp_path) == []
    assert code == 0 and out.startswith("interrupted"), out + err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", [
    ["train", "--model", "sgns", "--epochs", "50", "-o", "{out}/v.bin"],
    ["cooccur", "--window", "15", "-o", "{out}/c.bin"],
], ids=["train", "cooccur"])
def test_ctrl_c_on_the_command_line_leaves_no_file(long_corpus, tmp_path, command):
    spill, out_dir = tmp_path / "spill", tmp_path / "out"
    spill.mkdir()
    out_dir.mkdir()
    args = [a.replace("{out}", str(out_dir)) for a in command]
    code, _, err = _interrupt_once_spilled(
        [sys.executable, "-m", "embforge", "-v", *args, long_corpus, "--threads", "1",
         "--memory", "1MB", "--temp-dir", str(spill)],
        spill, tmp_path / "stderr.txt", ready="vocabulary of" if args[0] == "train" else "counting", delay=0.3)
    assert code == 130, err
    assert "Traceback" not in err
    assert os.listdir(spill) == []
