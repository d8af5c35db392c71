"""`embforge train --model fasttext-sg|fasttext-cbow` and `embforge similar`
on unseen words."""
import pytest

from embforge import cli

from test_fasttext import TOPICS, topic_sentences


@pytest.fixture(scope="module")
def corpus_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("ftcli") / "topics.txt"
    path.write_text("\n".join(" ".join(s) for s in topic_sentences(TOPICS, 2000, seed=2)) + "\n")
    return str(path)


def train(corpus_path, output, model="fasttext-sg", *extra):
    # one thread: the same vectors on every run (two Hogwild threads on a loaded
    # machine once left a typo's margin short of its word)
    return cli.main(["train", "--model", model, corpus_path, "-o", output, "--min-count", "1",
                     "--size", "16", "--epochs", "4", "--threads", "1", "--bucket", "4000",
                     "--quiet", *extra])


@pytest.mark.parametrize("model,ext", [("fasttext-sg", ".bin"), ("fasttext-cbow", ".kv")])
def test_similar_answers_for_unseen_words(tmp_path, corpus_path, capsys, model, ext):
    vectors = str(tmp_path / ("model" + ext))
    assert train(corpus_path, vectors, model) == 0
    capsys.readouterr()
    word = TOPICS[1][4]
    typo = word[:3] + word[4:]  # one letter dropped: not a vocabulary word
    assert cli.main(["similar", vectors, typo, "-n", "6"]) == 0
    neighbours = [line.split()[1] for line in capsys.readouterr().out.splitlines()]
    assert len(neighbours) == 6 and word in neighbours
    # the other neighbours come from the typo's topic (chance: 1 in 4)
    assert sum(w in TOPICS[1] for w in neighbours) >= 4


def test_vec_output_drops_subwords(tmp_path, corpus_path, capsys):
    vectors = str(tmp_path / "vectors.vec")
    assert train(corpus_path, vectors, "fasttext-cbow") == 0
    assert "drops" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="not in the vocabulary: unseenword"):
        cli.main(["similar", vectors, "unseenword"])


@pytest.mark.parametrize("extra,match", [
    (["--sync-interval", "1000"], "--sync-interval is not available for fasttext-sg"),
    (["--sync-dtype", "float16"], "--sync-dtype is not available for fasttext-sg"),
    (["--min-n", "7", "--max-n", "4"], "min_n=7 is larger than max_n=4"),
    (["--bucket", "0"], "bucket=0"),
])
def test_bad_options(tmp_path, corpus_path, capsys, extra, match):
    assert train(corpus_path, str(tmp_path / "v.bin"), "fasttext-sg", *extra) == 2
    assert match in capsys.readouterr().err
