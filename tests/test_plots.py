"""Pictures: training curves, word maps and evaluation charts are PNG files of
the stated size whose drawn points and lines are the recorded ones (read
back from the figure's artists); the history survives save/load; the CLI
draws them in a real process."""
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import embforge
from embforge.history import TrainingHistory

pytest.importorskip("matplotlib")
from embforge import plots  # noqa: E402



def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", head[16:24])


def sentences(n=60_000, vocab=300, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.zipf(1.3, size=n) % vocab
    return [[f"w{i}" for i in ids[s:s + 20]] for s in range(0, n, 20)]


@pytest.fixture(scope="module")
def word2vec():
    return embforge.Word2Vec(sentences(), vector_size=16, min_count=1, workers=1, epochs=4,
                             compute_loss=True, seed=1, progress=False)


def test_word2vec_history_is_recorded_and_kept_in_the_archive(word2vec, tmp_path):
    rows = word2vec.history.epochs
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4] and all(r["complete"] for r in rows)
    assert [r["loss"] for r in rows] == pytest.approx(word2vec.training_loss)
    rates = [r["learning_rate"] for r in rows]
    assert rates == sorted(rates, reverse=True) and rates[-1] == pytest.approx(word2vec.min_alpha)
    path = str(tmp_path / "m.npz")
    word2vec.save(path)
    again = embforge.Word2Vec.load(path)
    assert again.history.epochs == rows and again.history.points == word2vec.history.points


def test_history_points_are_sampled_within_epochs():
    history = TrainingHistory()

    class Counters:
        loss_sum, loss_count, learning_rate = 0.0, 0, 0.025

    counters = Counters()
    history.start_call()
    history._interval = 0.0                      # every sample is a point
    history.sample(0.0, 0, counters, learning_rate=True, started=0.0)
    counters.loss_sum, counters.loss_count = 30.0, 10
    history.sample(0.5, 1000, counters, learning_rate=True, started=0.0)
    counters.loss_sum, counters.loss_count = 4.0, 2  # a new native call restarted the counters
    history.sample(1.2, 1500, counters, learning_rate=False, started=0.0)
    assert [p["epoch"] for p in history.points] == [0.5, 1.2]
    assert [p["loss"] for p in history.points] == [3.0, 2.0]
    assert history.points[0]["learning_rate"] == 0.025 and "learning_rate" not in history.points[1]
    assert all(p["rate"] > 0 for p in history.points)


@pytest.mark.parametrize("bad", [[], {"epochs": [], "points": [], "x": []},
                                 {"epochs": [{"loss": "high"}], "points": []},
                                 {"epochs": [[1, 2]], "points": []}])
def test_a_hostile_history_is_refused(bad):
    with pytest.raises(ValueError, match="m.npz: the training history"):
        TrainingHistory.from_json(bad, "m.npz")


def test_plot_history_of_word2vec_draws_every_epoch(word2vec, tmp_path):
    path = tmp_path / "curves.png"
    figure = word2vec.plot_history(str(path), size=(800, 600))
    assert png_size(path) == (800, 600)
    axes = figure.axes
    assert [a.get_ylabel() for a in axes] == ["loss (sum over the epoch)", "words/s",
                                              "learning rate"]
    per_epoch = [line for line in axes[0].lines if line.get_label() == "per epoch"]
    assert len(per_epoch) == 1
    np.testing.assert_allclose(per_epoch[0].get_ydata(), word2vec.training_loss)
    np.testing.assert_array_equal(per_epoch[0].get_xdata(), [1, 2, 3, 4])


def test_plot_history_draws_the_points_within_epochs(tmp_path):
    history = TrainingHistory()
    history.points = [{"epoch": 0.5, "loss": 3.0, "rate": 100.0, "learning_rate": 0.02},
                      {"epoch": 1.5, "loss": 2.0, "rate": 120.0, "learning_rate": 0.01}]
    history.add_epoch(epoch=1, loss=300.0, words_per_second=110.0, learning_rate=0.015)
    history.add_epoch(epoch=2, loss=200.0, words_per_second=115.0, learning_rate=0.005)
    figure = plots.plot_history(history, str(tmp_path / "h.png"), size=(600, 800))
    axes = {a.get_ylabel(): a for a in figure.axes}
    assert list(axes) == ["loss (sum over the epoch)", "loss per term", "words/s",
                          "learning rate"]
    within = [line for line in axes["loss per term"].lines if line.get_label() == "within epochs"]
    np.testing.assert_array_equal(within[0].get_ydata(), [3.0, 2.0])
    assert [line.get_label() for line in axes["loss (sum over the epoch)"].lines] == ["per epoch"]
    rate = [line for line in axes["words/s"].lines if line.get_label() == "within epochs"]
    np.testing.assert_array_equal(rate[0].get_xdata(), [0.5, 1.5])


def test_plot_history_of_glove_and_of_finetuning(tmp_path):
    matrix = embforge.cooccurrence(sentences(20_000), window=5, min_count=1, progress=False)
    glove = embforge.GloVe(vector_size=8, epochs=3, workers=1, progress=False).fit(matrix)
    figure = plots.plot_history(glove, str(tmp_path / "g.png"), size=(600, 500))
    assert png_size(tmp_path / "g.png") == (600, 500)
    assert figure.axes[0].get_ylabel() == "cost"
    np.testing.assert_allclose(figure.axes[0].lines[-1].get_ydata(), glove.cost_history)
    rows = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.5},
            {"epoch": 2, "train_loss": 0.7, "val_loss": 0.9, "val_accuracy": 0.6}]
    figure = plots.plot_history(rows, str(tmp_path / "f.png"))
    assert [a.get_ylabel() for a in figure.axes] == ["training loss", "validation loss",
                                                     "validation accuracy"]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history(TrainingHistory())
    with pytest.raises(TypeError, match="cannot draw the history of int"):
        plots.plot_history(3)


def test_plot_map_draws_one_point_per_word_with_groups_and_neighbours(word2vec, tmp_path):
    words = ["w1", "w2", "w3", "w4"]
    figure = word2vec.wv.plot_map(words, str(tmp_path / "map.png"), groups=["a", "a", "b", "b"],
                                  size=(700, 700))
    assert png_size(tmp_path / "map.png") == (700, 700)
    ax = figure.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 4
    assert sorted(t.get_text() for t in ax.texts) == sorted(words)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    figure = word2vec.wv.plot_map([], neighbours_of="w5", topn=6)
    ax = figure.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 7
    assert len(ax.lines) == 6                    # a line from w5 to each neighbour
    with pytest.raises(KeyError, match="'nope'"):
        word2vec.wv.plot_map(["w1", "nope"])
    with pytest.raises(ValueError, match="one label per word"):
        word2vec.wv.plot_map(["w1", "w2"], groups=["a"])


def test_pca_projection_keeps_the_largest_spread_on_the_first_axis():
    rng = np.random.default_rng(0)
    points = rng.standard_normal((50, 5)) * np.array([10, 3, 0.1, 0.1, 0.1])
    xy = plots.project_2d(points)
    assert xy.shape == (50, 2) and xy[:, 0].std() > xy[:, 1].std() > 1
    np.testing.assert_allclose(np.abs(xy[:, 0]), np.abs(points[:, 0] - points[:, 0].mean()),
                               rtol=0.05, atol=0.5)
    with pytest.raises(ValueError, match="method must be"):
        plots.project_2d(points, "mds")


def test_plot_eval_draws_one_bar_per_file_and_benchmark(tmp_path):
    results = {"a.bin": {"analogy": 0.3, "ws353": 0.6, "simlex": 0.3},
               "b.bin": {"analogy": 0.2, "ws353": 0.5, "simlex": 0.25}}
    figure = plots.plot_eval(results, str(tmp_path / "e.png"), size=(640, 480))
    assert png_size(tmp_path / "e.png") == (640, 480)
    ax = figure.axes[0]
    assert len(ax.patches) == 6
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == sorted([0.3, 0.6, 0.3, 0.2, 0.5, 0.25])


def cli(*args):
    # the import path of this test run: an installed package in CI, python/ in a
    # developer build
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-m", "embforge", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_plot_commands_in_a_real_process(word2vec, tmp_path):
    model = str(tmp_path / "m.npz")
    word2vec.save(model)
    vectors = str(tmp_path / "v.bin")
    word2vec.wv.save_word2vec_format(vectors, binary=True)
    done = cli("plot", "history", model, "-o", str(tmp_path / "h.png"), "--size", "640x480")
    assert done.returncode == 0, done.stderr
    assert png_size(tmp_path / "h.png") == (640, 480)
    done = cli("plot", "map", vectors, "--words", "w1", "w2", "w3", "-o", str(tmp_path / "m.png"))
    assert done.returncode == 0, done.stderr
    assert png_size(tmp_path / "m.png") == (900, 900)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"w{i}\tw{i + 1}\t{i % 7}\n" for i in range(1, 40)))
    done = cli("plot", "eval", vectors, vectors, "--pairs", str(pairs), "-o", str(tmp_path / "e.png"))
    assert done.returncode == 0, done.stderr
    assert png_size(tmp_path / "e.png") == (1000, 600)
    done = cli("plot", "history", vectors, "-o", str(tmp_path / "x.png"))
    assert done.returncode == 2 and "not an embforge model archive" in done.stderr
    assert not (tmp_path / "x.png").exists()
