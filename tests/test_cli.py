"""The embforge command line, run in-process through cli.main (and, where the
entry point itself is under test, as `python -m embforge` in a subprocess)."""
import os
import subprocess
import sys

import pytest

from embforge import cli

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "pydocs.txt.gz")


def run_module(*argv, module="embforge"):
    """`python -m MODULE ARGV...` with this test run's import path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True,
                          text=True, env=env, timeout=300)


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("vocab", "train", "eval", "similar"):
        assert command in out


def test_vocab(tmp_path, toy_corpus_path):
    out = tmp_path / "vocab.txt"
    assert cli.main(["vocab", toy_corpus_path, "-o", str(out), "--min-count", "1"]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4 * 12 + 5
    counts = [int(line.split()[1]) for line in lines]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("model,ext", [("sgns", ".bin"), ("cbow", ".txt"), ("sgns", ".kv")])
def test_train_similar_eval(tmp_path, toy_corpus_path, capsys, model, ext):
    vectors = str(tmp_path / ("v" + ext))
    assert cli.main(["train", "--model", model, toy_corpus_path, "-o", vectors, "--min-count", "1",
                     "--size", "16", "--epochs", "3", "--threads", "2", "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["similar", vectors, "sea1", "-n", "5"]) == 0
    neighbours = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    assert len(neighbours) == 5
    assert sum(w.startswith("sea") for w in neighbours) >= 4  # same-topic words come first


def test_train_on_bundled_sample(tmp_path, capsys):
    # The README's first command, in-process: the sample corpus ships with the repo.
    vectors = str(tmp_path / "vectors.bin")
    assert cli.main(["train", "--model", "sgns", SAMPLE, "-o", vectors, "--min-count", "3",
                     "--epochs", "2", "--quiet"]) == 0
    assert cli.main(["similar", vectors, "file"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 10


def test_errors_are_reported_not_raised(tmp_path, toy_corpus_path, capsys):
    assert cli.main(["train", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "v.bin")]) == 2
    assert "missing.txt" in capsys.readouterr().err
    assert cli.main(["train", str(tmp_path), "-o", str(tmp_path / "v.bin")]) == 2
    assert "directory" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert cli.main(["vocab", str(empty), "-o", str(tmp_path / "v.txt")]) == 2
    assert "empty" in capsys.readouterr().err
    assert not (tmp_path / "v.txt").exists()  # nothing half-written
    assert cli.main(["train", toy_corpus_path, "-o", str(tmp_path / "v.bin"), "--min-count", "1",
                     "--alpha", "10", "--quiet"]) == 2
    assert "diverged" in capsys.readouterr().err
    assert not (tmp_path / "v.bin").exists()


def test_similar_unknown_word(tmp_path, toy_corpus_path):
    vectors = str(tmp_path / "v.bin")
    cli.main(["train", toy_corpus_path, "-o", vectors, "--min-count", "1", "--size", "8",
              "--epochs", "1", "--quiet"])
    with pytest.raises(SystemExit, match="not in the vocabulary: nosuchword"):
        cli.main(["similar", vectors, "nosuchword"])


@pytest.mark.parametrize("module", ["embforge", "embforge.cli"])
def test_python_m_embforge_help(module):
    done = run_module("--help", module=module)
    assert done.returncode == 0, done.stderr
    for command in ("vocab", "train", "eval", "similar", "cooccur", "finetune"):
        assert command in done.stdout
    assert done.stdout.startswith("usage: embforge ")


def test_python_m_embforge_runs_a_command(tmp_path, toy_corpus_path):
    out = tmp_path / "vocab.txt"
    done = run_module("vocab", toy_corpus_path, "-o", str(out), "--min-count", "1")
    assert done.returncode == 0, done.stderr
    assert len(out.read_text().splitlines()) == 4 * 12 + 5


def test_no_stratify_is_refused_for_word2vec(tmp_path, toy_corpus_path):
    done = run_module("train", "--model", "sgns", toy_corpus_path, "-o", str(tmp_path / "v.bin"),
                      "--min-count", "1", "--epochs", "1", "--no-stratify", "--quiet")
    assert done.returncode == 2
    assert "--no-stratify is for --model glove, not sgns" in done.stderr


def test_alpha_is_refused_for_glove(tmp_path, toy_corpus_path):
    # --alpha is Word2Vec's learning rate only; GloVe's two meanings of it have their own names.
    out = tmp_path / "v.txt"
    done = run_module("train", "--model", "glove", toy_corpus_path, "-o", str(out),
                      "--min-count", "1", "--epochs", "1", "--alpha", "0.01", "--quiet")
    assert done.returncode == 2
    assert "--alpha 0.01" in done.stderr
    assert "--eta (learning rate)" in done.stderr and "--weight-power (weighting exponent" in done.stderr
    assert not out.exists()


def test_glove_takes_eta_and_weight_power(tmp_path, toy_corpus_path):
    from embforge.glove import GloVe
    model_path = tmp_path / "m.glove"
    assert cli.main(["train", "--model", "glove", toy_corpus_path, "-o", str(tmp_path / "v.txt"),
                     "--size", "4", "--epochs", "1", "--window", "3", "--min-count", "1",
                     "--threads", "2", "--eta", "0.02", "--weight-power", "0.5",
                     "--save-model", str(model_path), "--quiet"]) == 0
    model = GloVe.load(model_path)
    assert model.learning_rate == pytest.approx(0.02) and model.alpha == pytest.approx(0.5)
    assert cli.main(["train", "--model", "glove", toy_corpus_path, "-o", str(tmp_path / "w.txt"),
                     "--size", "4", "--epochs", "1", "--min-count", "1", "--threads", "2",
                     "--save-model", str(model_path), "--quiet"]) == 0
    model = GloVe.load(model_path)  # defaults: glove.c's eta 0.05 and alpha 0.75
    assert model.learning_rate == pytest.approx(0.05) and model.alpha == pytest.approx(0.75)


def test_alpha_still_sets_the_word2vec_learning_rate(tmp_path, toy_corpus_path):
    from embforge.word2vec import Word2Vec
    model_path = tmp_path / "m.w2v"
    assert cli.main(["train", "--model", "sgns", toy_corpus_path, "-o", str(tmp_path / "v.bin"),
                     "--size", "8", "--epochs", "1", "--min-count", "1", "--threads", "2",
                     "--alpha", "0.01", "--save-model", str(model_path), "--quiet"]) == 0
    assert Word2Vec.load(model_path).alpha == pytest.approx(0.01)


def test_the_sync_options_reach_the_model(tmp_path, toy_corpus_path, capsys):
    # in one process they change nothing but what the model file records
    from embforge.word2vec import Word2Vec
    model_path = tmp_path / "m.w2v"
    assert cli.main(["train", "--model", "sgns", toy_corpus_path, "-o", str(tmp_path / "v.bin"),
                     "--size", "8", "--epochs", "1", "--min-count", "1", "--threads", "1",
                     "--hot-sync-rows", "7", "--hot-sync-interval", "999", "--hot-average-rows",
                     "5", "--hot-average-momentum", "0.25", "--save-model", str(model_path),
                     "--quiet"]) == 0
    model = Word2Vec.load(model_path)
    assert (model.hot_sync_rows, model.hot_sync_interval, model.hot_average_rows,
            model.hot_average_momentum) == (7, 999, 5, 0.25)
    assert cli.main(["train", "--model", "sgns", toy_corpus_path, "-o", str(tmp_path / "w.bin"),
                     "--min-count", "1", "--hot-average-momentum", "1.5", "--quiet"]) == 2
    assert "hot_average_momentum must be >= 0.0 and <= 0.999, got 1.5" in capsys.readouterr().err
    assert not (tmp_path / "w.bin").exists()


def test_the_command_line_loads_without_torch():
    # Only `embforge finetune` needs torch, and only when it runs.
    code = ("import sys; sys.modules['torch'] = None\n"
            "from embforge.cli import main\n"
            "main(['--help'])\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "finetune" in done.stdout


def test_similar_into_a_closed_pipe_ends_quietly(tmp_path, toy_corpus_path):
    vectors = str(tmp_path / "v.bin")
    cli.main(["train", toy_corpus_path, "-o", vectors, "--min-count", "1", "--size", "8",
              "--epochs", "1", "--quiet"])
    word = open(toy_corpus_path).read().split()[0]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    # a pipe whose reader is gone before the first line is written (`| head`
    # that has read enough): every write fails with EPIPE
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "embforge", "similar", vectors, word],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=120)
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == 141, done.stderr


# A command of one process, with arguments it parses (nothing is read: it
# refuses before), as launched by torchrun with several processes.
ONE_PROCESS = [["eval", "v.bin"], ["similar", "v.bin", "word"],
               ["finetune", "--vectors", "v.bin", "--train", "t.tsv", "--test", "t.tsv"],
               ["lm", "train", "--vectors", "v.bin", "--train", "t.txt", "-o", "lm"],
               ["chat", "lm"], ["plot", "history", "m.embf", "-o", "h.png"]]


@pytest.mark.parametrize("argv", ONE_PROCESS, ids=lambda argv: argv[0])
def test_commands_of_one_process_refuse_several_processes(argv, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name, value in (("RANK", "1"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", "29500")):  # what torchrun gives each process
        monkeypatch.setenv(name, value)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"embforge {argv[0]}: error: {argv[0]} runs in one process, and this is one of 2" in err
    assert "run it without torchrun" in err
    assert list(tmp_path.iterdir()) == []


def test_a_torchrun_job_of_one_process_runs_any_command(tmp_path, toy_corpus_path, monkeypatch,
                                                         capsys):
    vectors = str(tmp_path / "v.bin")
    assert cli.main(["train", toy_corpus_path, "-o", vectors, "--min-count", "1", "--size", "8",
                     "--epochs", "1", "--quiet"]) == 0
    # a job of one process; then WORLD_SIZE alone (set by some other launcher)
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1"),
                        ("MASTER_PORT", "29500")):
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli.main(["similar", vectors, "sea1", "-n", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert cli.main(["similar", vectors, "sea1", "-n", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
