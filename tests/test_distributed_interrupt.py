"""A real Ctrl-C sent to a real `torchrun ... -m embforge train` job.

At a terminal, Ctrl-C sends SIGINT to the whole foreground process group: the
launcher and every rank get it (and the launcher forwards it once more). On
several nodes, Ctrl-C reaches only the ranks of the node where it was typed.
Either way every rank must stop at the same slice (the stop flag travels with
the next sync), rank 0 alone writes the vectors trained so far, and the last
complete checkpoint resumes. The launcher's own exit (status 1 and a
SignalException traceback from torch.distributed.run) is torchrun's, not ours.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import embforge
from embforge import KeyedVectors
from zipf_text import write_zipf_corpus

pytest.importorskip("torch")

STOPPED = "stopped early (Ctrl-C); vectors saved so far"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """~800k tokens of Zipf-distributed words: about a second an epoch for
    two ranks of one thread."""
    path = tmp_path_factory.mktemp("dist_interrupt") / "corpus.txt"
    words = write_zipf_corpus(path, tokens=800_000, words=3000, lines=8_000, seed=11)
    return str(path), words


def environment():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                OMP_NUM_THREADS="1")


def interrupt_job(argv, tmp_path, send, ready="vocabulary of", delay=0.5):
    """Runs `torchrun --nproc-per-node 2 -m embforge -v ARGV` in its own
    process group; `delay` s after both ranks logged `ready` (read from
    their log, not guessed) calls `send(launcher)`. Returns (exit code,
    output)."""
    log_path = tmp_path / "log.txt"
    log = open(log_path, "w+")
    launcher = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                 "--nproc-per-node=2", "-m", "embforge", "-v", *argv],
                                stdout=log, stderr=subprocess.STDOUT, env=environment(),
                                start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while log_path.read_text().count(ready) < 2:
            assert launcher.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "the ranks never got to train"
            time.sleep(0.05)
        time.sleep(delay)
        assert launcher.poll() is None, "finished before it could be interrupted: make the corpus longer"
        send(launcher)
        code = launcher.wait(timeout=120)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        log.close()
    return code, log_path.read_text()


def at_the_terminal(launcher):
    os.killpg(launcher.pid, signal.SIGINT)


def on_the_other_node(launcher):
    # only rank 1 is interrupted, as when Ctrl-C is typed on the node that runs it
    workers = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True)
    pids = sorted(int(pid) for pid in workers.stdout.split())
    assert len(pids) == 2, workers
    os.kill(pids[1], signal.SIGINT)


def no_traceback_from_a_rank(output):
    # the launcher's SignalException traceback names only torch's files, none
    # in embforge's package, wherever it is installed (a virtual environment's
    # own path may hold the word "embforge"); searched in the whole output, as
    # torchrun prefixes a rank's lines with "[rankN]:"
    package = os.path.dirname(os.path.abspath(embforge.__file__))
    return f'File "{package}' not in output


@pytest.mark.parametrize("model, ready", [("sgns", "vocabulary of"), ("glove", "epoch 1: cost")])
def test_ctrl_c_at_the_terminal_stops_every_rank_and_rank_0_writes_the_vectors(
        corpus, tmp_path, model, ready):
    corpus, words = corpus
    out = tmp_path / "v.bin"
    code, output = interrupt_job(["train", "--model", model, corpus, "-o", str(out),
                                  "--threads", "1", "--epochs", "200", "--min-count", "1"],
                                 tmp_path, at_the_terminal, ready)
    assert code != 0, output[-3000:]
    assert output.count(STOPPED) == 1, output[-3000:]  # one writer, one status line
    assert "(2 processes)" in output
    assert no_traceback_from_a_rank(output), output[-3000:]
    vectors = KeyedVectors.load_word2vec_format(str(out), binary=True)
    assert len(vectors) == words and np.isfinite(vectors.vectors).all()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporaries


def test_ctrl_c_on_one_rank_stops_both_and_the_checkpoint_resumes(corpus, tmp_path):
    corpus, words = corpus
    out, checkpoint = tmp_path / "v.bin", tmp_path / "ck"
    argv = ["train", "--model", "sgns", corpus, "-o", str(out), "--threads", "1", "--epochs",
            "20", "--min-count", "1", "--checkpoint", str(checkpoint)]
    code, output = interrupt_job(argv, tmp_path, on_the_other_node, delay=1.0)
    assert code != 0, output[-3000:]
    assert output.count(STOPPED) == 1, output[-3000:]
    assert no_traceback_from_a_rank(output), output[-3000:]
    assert len(KeyedVectors.load_word2vec_format(str(out), binary=True)) == words
    epochs_done = sorted(p.name for p in checkpoint.iterdir() if p.name.startswith("epoch-"))
    assert epochs_done and epochs_done[-1] < "epoch-0020", epochs_done

    out.unlink()
    resumed = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                              "--nproc-per-node=2", "-m", "embforge", *argv, "--resume",
                              str(checkpoint)], capture_output=True, text=True,
                             env=environment(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {checkpoint}: {int(epochs_done[-1][6:])} of 20 epochs done" in resumed.stderr
    assert len(KeyedVectors.load_word2vec_format(str(out), binary=True)) == words
