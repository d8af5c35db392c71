"""`embforge train --checkpoint DIR` / `--resume DIR` as a user meets them: a
real training process killed with SIGKILL, resumed by a new process, ending
with the uninterrupted run's vectors (one thread); refusals of other settings,
corpora, world sizes and used directories."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from embforge import cli
from embforge.checkpoint import latest
from embforge.fasttext import load_facebook_vectors
from embforge.keyedvectors import KeyedVectors

from stale_files import stale_temp_name

# Per model: epochs, and the options that make an epoch last ~30 ms on the
# corpus below (one thread), so that a kill lands mid-training: the first
# checkpoint appears after one epoch and the rest takes several more.
MODELS = {"sgns": ("10", []), "cbow": ("10", []), "glove": ("12", ["--window", "10"]),
          "fasttext-cbow": ("10", ["--bucket", "20000"])}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """~120k tokens of a Zipfian 3000-word vocabulary (a few hundred
    thousand co-occurring pairs for GloVe)."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(3000)]
    weights = [1 / (i + 1) for i in range(len(words))]
    lines = [" ".join(rng.choices(words, weights, k=rng.randint(5, 25))) for _ in range(8000)]
    path = tmp_path_factory.mktemp("ckpt_corpus") / "zipf.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def train_args(model, corpus, output, *extra):
    epochs, options = MODELS[model]
    return ["train", "--model", model, corpus, "-o", output, "--min-count", "1", "--size", "32",
            "--epochs", epochs, "--threads", "1", "--quiet", *options, *extra]


def command(argv):
    return [sys.executable, "-m", "embforge", *argv]


def environment():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def run(argv):
    return subprocess.run(command(argv), capture_output=True, text=True, env=environment(),
                          timeout=300)


def kill_after_first_checkpoint(argv, directory):
    """Starts `embforge ARGV`, SIGKILLs it as soon as a checkpoint is complete
    (its manifest appears), and returns the exit status."""
    process = subprocess.Popen(command(argv), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=environment())
    manifest = os.path.join(directory, "manifest.json")
    deadline = time.monotonic() + 120
    try:
        while not os.path.exists(manifest):
            if process.poll() is not None:
                pytest.fail(f"training ended before its first checkpoint: "
                            f"{process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 120 s")
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
        process.stderr.close()
    return process.returncode


def tear_next_checkpoint(directory, info):
    """What a kill while writing the next checkpoint leaves: its folder with a
    torn temporary file and a truncated rank file, and a manifest temporary."""
    folder = os.path.join(directory, f"epoch-{info.epochs_done + 1:04d}")
    os.mkdir(folder)
    with open(info.path(0), "rb") as f:
        data = f.read()
    with open(os.path.join(folder, stale_temp_name("rank-00000-of-00001.npz")), "wb") as f:
        f.write(data[:len(data) // 3])
    with open(os.path.join(folder, "rank-00000-of-00001.npz"), "wb") as f:
        f.write(data[:len(data) // 2])
    with open(os.path.join(directory, stale_temp_name("manifest.json")), "w") as f:
        f.write('{"format": "embforge.checkpoint", "vers')


@pytest.mark.parametrize("model", sorted(MODELS))
def test_sigkill_then_resume_gives_the_uninterrupted_vectors(tmp_path, corpus, model):
    whole = str(tmp_path / "whole.bin")
    done = run(train_args(model, corpus, whole))
    assert done.returncode == 0, done.stderr

    directory = str(tmp_path / "ckpt")
    output = str(tmp_path / "resumed.bin")
    status = kill_after_first_checkpoint(train_args(model, corpus, output, "--checkpoint",
                                                    directory), directory)
    assert status == -signal.SIGKILL
    assert not os.path.exists(output)
    info = latest(directory)
    epochs = int(MODELS[model][0])
    assert 1 <= info.epochs_done < epochs      # killed mid-training
    tear_next_checkpoint(directory, info)      # and as if during the next checkpoint

    resumed = run(train_args(model, corpus, output, "--resume", directory))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {directory}: {info.epochs_done} of {epochs} epochs done" in resumed.stderr
    with open(whole, "rb") as a, open(output, "rb") as b:
        assert a.read() == b.read()
    if model.startswith("fasttext"):   # fastText's .bin, n-gram rows included
        vectors = load_facebook_vectors(output)
        assert vectors.bucket == 20000
    else:
        vectors = KeyedVectors.load_word2vec_format(output, binary=True)
    assert len(vectors) == 2995 and vectors.vector_size == 32   # every word seen in the corpus
    # the finished run's checkpoint is the only one left, without temporaries
    assert sorted(os.listdir(directory)) == [f"epoch-{epochs:04d}", "manifest.json"]
    assert os.listdir(os.path.join(directory, f"epoch-{epochs:04d}")) == \
        ["rank-00000-of-00001.npz"]
    assert latest(directory).epochs_done == epochs


@pytest.fixture(scope="module")
def finished(tmp_path_factory, corpus):
    """A checkpointed sgns run of 2 epochs, run to the end, in-process."""
    directory = str(tmp_path_factory.mktemp("finished") / "ckpt")
    output = os.path.join(os.path.dirname(directory), "v.bin")
    argv = ["train", "--model", "sgns", corpus, "-o", output, "--min-count", "1", "--size", "8",
            "--epochs", "2", "--threads", "1", "--quiet"]
    assert cli.main(argv + ["--checkpoint", directory]) == 0
    return argv, directory, output


def copy_of(directory, tmp_path):
    copy = str(tmp_path / "copy")
    shutil.copytree(directory, copy)
    return copy


def test_resuming_a_finished_run_writes_its_vectors(tmp_path, finished):
    argv, directory, output = finished
    again = str(tmp_path / "again.bin")
    assert cli.main(argv[:4] + [argv[4], again] + argv[6:] + ["--resume",
                                                            copy_of(directory, tmp_path)]) == 0
    with open(output, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("change,field", [
    (["--window", "7"], "window"), (["--size", "9"], "vector_size"), (["--epochs", "3"], "epochs"),
    (["--seed", "2"], "seed"), (["--negative", "3"], "negative"), (["--model", "cbow"], "sg"),
    (["--model", "glove"], "model"), (["--model", "fasttext-sg"], "model"),
    (["--min-count", "2"], "min_count"),
])
def test_resume_refuses_other_settings(tmp_path, finished, capsys, change, field):
    argv, directory, _ = finished
    copy = copy_of(directory, tmp_path)
    assert cli.main(argv + change + ["--resume", copy]) == 2
    assert f"trained with {field}=" in capsys.readouterr().err


def test_resume_refuses_another_corpus(tmp_path, finished, corpus, capsys):
    argv, directory, _ = finished
    copy = copy_of(directory, tmp_path)
    longer = str(tmp_path / "zipf.txt")         # same name, one more line
    shutil.copy(corpus, longer)
    with open(longer, "a") as f:
        f.write("w1 w2\n")
    assert cli.main([longer if a == corpus else a for a in argv] + ["--resume", copy]) == 2
    assert "trained with corpus=" in capsys.readouterr().err
    edited = str(tmp_path / "edited" / "zipf.txt")   # same name and size, other words
    os.mkdir(os.path.dirname(edited))
    text = open(corpus).read()
    with open(edited, "w") as f:
        f.write(text.replace(" w1 ", " w7 ", 50))
    assert os.path.getsize(edited) == os.path.getsize(corpus)
    assert cli.main([edited if a == corpus else a for a in argv] + ["--resume", copy]) == 2
    assert "corpus: its vocabulary" in capsys.readouterr().err


def test_resume_refuses_another_world_size(tmp_path, finished, capsys):
    argv, directory, _ = finished
    copy = copy_of(directory, tmp_path)
    info = latest(copy)
    shutil.copy(info.path(0), os.path.join(info.folder, "rank-00000-of-00002.npz"))
    shutil.copy(info.path(0), os.path.join(info.folder, "rank-00001-of-00002.npz"))
    path = os.path.join(copy, "manifest.json")
    manifest = json.load(open(path))
    entry = manifest["files"][0]
    manifest["world_size"] = 2
    manifest["files"] = [dict(entry, rank=r, name=f"rank-0000{r}-of-00002.npz") for r in (0, 1)]
    json.dump(manifest, open(path, "w"))
    assert cli.main(argv + ["--resume", copy]) == 2
    assert "written by 2 process(es) (world size 2), this run has 1" in capsys.readouterr().err


def test_checkpoint_and_resume_refuse_unusable_directories(tmp_path, finished, capsys):
    argv, directory, _ = finished
    copy = copy_of(directory, tmp_path)
    assert cli.main(argv + ["--checkpoint", copy]) == 2   # another run's checkpoint
    assert "holds a checkpoint already" in capsys.readouterr().err
    assert cli.main(argv + ["--resume", str(tmp_path / "nothing")]) == 2
    assert "no complete checkpoint" in capsys.readouterr().err
    with open(os.path.join(copy, "manifest.json"), "w") as f:
        f.write('{"format": "embforge.checkpoint", "version": 99}')
    assert cli.main(argv + ["--resume", copy]) == 2
    assert "version 99 is not supported" in capsys.readouterr().err


def test_a_torchrun_restart_continues_its_own_checkpoint_and_no_other(tmp_path, corpus,
                                                                       monkeypatch, capsys):
    # What torchrun writes into its workers' environment (distributed/launch.py);
    # the real restart of a killed rank is in test_torchrun_restarts.py.
    directory, output = str(tmp_path / "ck"), str(tmp_path / "v.bin")
    argv = train_args("sgns", corpus, output, "--checkpoint", directory)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-a")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert cli.main(argv) == 0
    assert latest(directory).run_id == "job-a"
    with open(output, "rb") as f:
        first = f.read()
    capsys.readouterr()
    os.unlink(output)

    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")   # the same launch, restarted
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "restart 1 of torchrun job job-a" in err
    assert f"resuming {directory}: 10 of 10 epochs done" in err
    with open(output, "rb") as f:
        assert f.read() == first

    # a first start, or another launch's restart, never takes the checkpoint as its own
    for run_id, restart in (("job-a", "0"), ("job-b", "1")):
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", run_id)
        monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", restart)
        assert cli.main(argv) == 2
        assert "holds a checkpoint already" in capsys.readouterr().err


def test_a_restart_without_a_checkpoint_yet_starts_afresh(tmp_path, corpus, monkeypatch, capsys):
    directory, output = str(tmp_path / "ck"), str(tmp_path / "v.bin")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-a")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "2")
    assert cli.main(train_args("sgns", corpus, output, "--checkpoint", directory)) == 0
    assert "resuming" not in capsys.readouterr().err
    assert latest(directory).epochs_done == 10
