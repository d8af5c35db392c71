"""The embforge command line, run in-process through cli.main."""
import os

import pytest

from embforge import cli

SAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "pydocs.txt.gz")


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
