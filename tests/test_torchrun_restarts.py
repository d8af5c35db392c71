"""torchrun's own recovery, as a user meets it: `torchrun --max-restarts N ...
-m embforge train ... --checkpoint DIR`, one rank killed (SIGKILL) mid-run.
torchrun stops the other rank and starts both again with the same command;
the new start must rendezvous (a stale address of the dead start once made
it fail to connect, every time) and continue from the job's newest
checkpoint, ending with the vectors of a run that was never killed (one
thread a rank: the training is deterministic)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from zipf_text import write_zipf_corpus

pytest.importorskip("torch")

EPOCHS = 8


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """~800k tokens: a fraction of a second an epoch for two ranks of one thread."""
    path = tmp_path_factory.mktemp("torchrun_restart") / "corpus.txt"
    write_zipf_corpus(path, tokens=800_000, words=3000, lines=8_000, seed=5)
    return str(path)


def torchrun(*argv):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
            *argv]


def environment():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                OMP_NUM_THREADS="1")


def train_argv(corpus, output, checkpoint):
    return ["-m", "embforge", "train", "--model", "sgns", corpus, "-o", str(output), "--threads",
            "1", "--epochs", str(EPOCHS), "--min-count", "1", "--checkpoint", str(checkpoint)]


def kill_a_rank_after_the_first_checkpoint(launcher, checkpoint, log_path):
    manifest = checkpoint / "manifest.json"
    deadline = time.monotonic() + 120
    while not manifest.exists():
        assert launcher.poll() is None, log_path.read_text()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    workers = subprocess.run(["pgrep", "-P", str(launcher.pid)], capture_output=True, text=True)
    pids = sorted(int(pid) for pid in workers.stdout.split())
    assert len(pids) == 2, workers
    assert launcher.poll() is None, "finished before a rank could be killed: make the corpus longer"
    os.kill(pids[1], signal.SIGKILL)


def test_a_killed_rank_is_restarted_by_torchrun_and_the_job_continues_its_checkpoint(
        corpus, tmp_path):
    output, checkpoint = tmp_path / "v.bin", tmp_path / "ck"
    log_path = tmp_path / "log.txt"
    with open(log_path, "w") as log:
        launcher = subprocess.Popen(torchrun("--max-restarts=1",
                                             *train_argv(corpus, output, checkpoint)),
                                    stdout=log, stderr=subprocess.STDOUT, env=environment(),
                                    start_new_session=True)
        try:
            kill_a_rank_after_the_first_checkpoint(launcher, checkpoint, log_path)
            code = launcher.wait(timeout=120)
        finally:
            if launcher.poll() is None:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    assert text.count("restart 1 of torchrun job ") == 1, text[-3000:]
    resumed = [line for line in text.splitlines() if f"resuming {checkpoint}: " in line]
    assert len(resumed) == 1 and f"of {EPOCHS} epochs done" in resumed[0], text[-3000:]
    assert "connectFullMesh" not in text

    # the same job never killed: the same vectors, bit for bit
    again, again_checkpoint = tmp_path / "again.bin", tmp_path / "again"
    done = subprocess.run(torchrun(*train_argv(corpus, again, again_checkpoint)),
                          capture_output=True, text=True, env=environment(), timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert output.read_bytes() == again.read_bytes()
