"""A real Ctrl-C (SIGINT) sent to a real `python -m embforge` process.

Each long command is interrupted once it is working (the moment is read from
its own -v log lines, not guessed): training stops at the next sentence or
block, writes what was trained (atomically) and exits 130; counting keeps
nothing and exits 130; either way one status line and no traceback. Python's
own stand-in for Ctrl-C (raising KeyboardInterrupt in the main thread) did
not take the path a real signal takes: on 3.11 a SIGINT during
Thread.join(timeout) marked the still-running native call's thread as
stopped, and every command crashed with a TypeError.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

import embforge
from embforge import KeyedVectors
from zipf_text import write_zipf_corpus


@pytest.fixture(scope="module")
def long_corpus(tmp_path_factory):
    """~1.6M tokens of Zipf-distributed words: seconds of work for one thread."""
    path = tmp_path_factory.mktemp("interrupt") / "corpus.txt"
    write_zipf_corpus(path, tokens=1_600_000, words=5000, lines=16_000, seed=7)
    return str(path)


def interrupt_when(args, ready: str, tmp_path, delay: float = 0.3):
    """Runs `python -m embforge -v ARGS`, sends SIGINT `delay` s after a log
    line containing `ready`; returns (exit code, stderr)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    log = open(tmp_path / "stderr.txt", "w+")
    process = subprocess.Popen([sys.executable, "-m", "embforge", "-v", *args],
                               stdout=subprocess.DEVNULL, stderr=log, env=env)
    deadline = time.monotonic() + 120
    try:
        while ready not in (tmp_path / "stderr.txt").read_text():
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "the command never got to work"
            time.sleep(0.05)
        time.sleep(delay)
        assert process.poll() is None, "finished before it could be interrupted: make the corpus longer"
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    return code, (tmp_path / "stderr.txt").read_text()


@pytest.mark.parametrize("model", ["sgns", "cbow"])
def test_ctrl_c_during_word2vec_training_writes_the_vectors(long_corpus, tmp_path, model):
    out = tmp_path / "v.bin"
    code, err = interrupt_when(["train", "--model", model, long_corpus, "-o", str(out), "--threads",
                                "1", "--epochs", "30", "--min-count", "1"], "vocabulary of", tmp_path)
    assert code == 130 and "Traceback" not in err, err
    assert "stopped early (Ctrl-C); vectors saved so far" in err.splitlines()[-1]
    assert len(KeyedVectors.load_word2vec_format(str(out), binary=True)) == 5000


def test_ctrl_c_during_glove_training_writes_the_vectors(long_corpus, tmp_path):
    out = tmp_path / "g.txt"
    code, err = interrupt_when(["train", "--model", "glove", long_corpus, "-o", str(out), "--threads",
                                "1", "--epochs", "100000", "--min-count", "1", "--window", "5"],
                               "nonzeros from", tmp_path)
    assert code == 130 and "Traceback" not in err, err
    assert "stopped early (Ctrl-C); vectors saved so far" in err.splitlines()[-1]
    assert len(KeyedVectors.load_word2vec_format(str(out))) == 5000


def test_ctrl_c_during_counting_keeps_nothing(long_corpus, tmp_path):
    out = tmp_path / "c.npz"
    code, err = interrupt_when(["cooccur", long_corpus, "-o", str(out), "--threads", "1",
                                "--window", "200", "--min-count", "1"], "counting", tmp_path,
                               delay=0.2)
    assert code == 130 and "Traceback" not in err, err
    assert err.splitlines()[-1] == ("embforge cooccur: interrupted (Ctrl-C): co-occurrence counting "
                                    "stopped; nothing was kept")
    assert not out.exists() and os.listdir(tmp_path) == ["stderr.txt"]


def test_ctrl_c_while_counting_to_glove_binary_leaves_no_file(long_corpus, tmp_path):
    # .bin goes straight to glove.c's file (cooccurrence_to_glove): the
    # temporary beside the output goes with the interruption
    out = tmp_path / "c.bin"
    code, err = interrupt_when(["cooccur", long_corpus, "-o", str(out), "--threads", "1",
                                "--window", "200", "--min-count", "1"], "counting", tmp_path,
                               delay=0.2)
    assert code == 130 and "Traceback" not in err, err
    assert err.splitlines()[-1].startswith("embforge cooccur: interrupted (Ctrl-C): "), err
    assert os.listdir(tmp_path) == ["stderr.txt"]


def test_ctrl_c_during_finetuning_saves_the_classifier(tmp_path):
    pytest.importorskip("torch")
    from embforge.finetune import load_classifier
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    out = tmp_path / "clf"
    code, err = interrupt_when(
        ["finetune", "--vectors", os.path.join(data, "finetune_vectors.txt"),
         "--train", os.path.join(data, "finetune_train.tsv"),
         "--test", os.path.join(data, "finetune_test.tsv"), "--epochs", "100000", "--patience",
         "100000", "--quiet", "--save", str(out)], "fine-tuning", tmp_path, delay=0.5)
    assert code == 130 and "Traceback" not in err, err
    last = err.splitlines()[-1]
    assert last.startswith("embforge finetune: stopped early (Ctrl-C) after ") and str(out) in last, err
    model = load_classifier(str(out))
    assert model.labels


def test_ctrl_c_during_spilling_count_leaves_no_spill(long_corpus, tmp_path):
    spills = tmp_path / "spills"
    spills.mkdir()
    out = tmp_path / "c.npz"
    code, err = interrupt_when(["cooccur", long_corpus, "-o", str(out), "--threads", "1",
                                "--window", "200", "--min-count", "1", "--memory", "4MB",
                                "--temp-dir", str(spills)], "counting", tmp_path, delay=0.2)
    assert code == 130 and "Traceback" not in err, err
    assert os.listdir(spills) == []
    # Counted straight into the output file: a Ctrl-C that came once the
    # count was whole (writing it) leaves the whole file and says so; one
    # that stopped the count leaves nothing.
    last = err.splitlines()[-1]
    if out.exists():
        assert f"the matrix was written to {out}" in last, err
        assert embforge.Cooccurrence.load(str(out)).nnz > 0
    else:
        assert last.endswith("co-occurrence counting stopped; nothing was kept"), err


def test_ctrl_c_during_out_of_core_glove_leaves_no_temporary(long_corpus, tmp_path):
    spills = tmp_path / "spills"
    spills.mkdir()
    out = tmp_path / "g.txt"
    code, err = interrupt_when(["train", "--model", "glove", long_corpus, "-o", str(out),
                                "--threads", "1", "--epochs", "100000", "--min-count", "1",
                                "--window", "5", "--size", "20", "--memory", "4MB", "--temp-dir",
                                str(spills)],
                               "out of core", tmp_path)
    assert code == 130 and "Traceback" not in err, err
    assert "stopped early (Ctrl-C); vectors saved so far" in err.splitlines()[-1]
    assert len(KeyedVectors.load_word2vec_format(str(out))) == 5000
    assert os.listdir(spills) == []
