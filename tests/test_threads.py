"""A model used from two Python threads at once: a second train() and a save
from another thread are refused while train() runs (the weights change under
them); saving from a callback, in the training thread, works; queries from
another thread read live weights, and once training ends they answer from
the final vectors (no cache computed mid-training survives)."""
import threading
import time

import numpy as np
import pytest

import embforge
from embforge import GloVe, KeyedVectors, Word2Vec


def sentences(n=40_000, vocab=400, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.zipf(1.3, size=n) % vocab
    return [[f"w{i}" for i in ids[s:s + 20]] for s in range(0, n, 20)]


def in_thread(call):
    """Starts `call` in a thread; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = call()
        except BaseException as error:  # reported to the test
            outcome["error"] = error
    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def wait_until_training(model, thread):
    deadline = time.monotonic() + 30
    while model._guard._thread is None:
        assert thread.is_alive() and time.monotonic() < deadline, "training never started"
        time.sleep(0.001)


def test_word2vec_refuses_a_second_train_and_a_save_from_another_thread(tmp_path):
    corpus = sentences()
    model = Word2Vec(vector_size=16, min_count=1, workers=1, epochs=1, seed=1)
    model.build_vocab(corpus)
    thread, outcome = in_thread(lambda: model.train(corpus, epochs=500))
    try:
        wait_until_training(model, thread)
        with pytest.raises(RuntimeError, match="cannot save this Word2Vec model while train"):
            model.save(str(tmp_path / "m.npz"))
        with pytest.raises(RuntimeError, match="already training in another thread"):
            model.train(corpus, epochs=1)
        # queries read the live weights: no error, a sensible answer
        assert len(model.wv.most_similar("w1", topn=3)) == 3
    finally:
        model.stop()
        thread.join(60)
    assert "error" not in outcome and model.interrupted
    assert list(tmp_path.iterdir()) == []
    # after train() returns, the answers come from the final vectors
    fresh = KeyedVectors.from_storage(model.wv.index_to_key, model.wv.vectors.copy())
    assert model.wv.most_similar("w1", topn=5) == fresh.most_similar("w1", topn=5)
    model.save(str(tmp_path / "m.npz"))
    assert np.array_equal(Word2Vec.load(str(tmp_path / "m.npz")).wv.vectors, model.wv.vectors)


def test_word2vec_saves_from_a_callback_in_the_training_thread(tmp_path):
    saved = []

    class SaveEachEpoch:
        def on_epoch_end(self, model):
            path = str(tmp_path / f"epoch{model.epochs_trained}.npz")
            model.save(path)
            saved.append(path)

    model = Word2Vec(sentences(4000), vector_size=8, min_count=1, workers=1, epochs=2, seed=1,
                     callbacks=[SaveEachEpoch()])
    assert len(saved) == 2
    assert np.array_equal(Word2Vec.load(saved[-1]).wv.vectors, model.wv.vectors)


def test_glove_refuses_a_save_and_a_second_train_from_another_thread(tmp_path):
    matrix = embforge.cooccurrence(sentences(), window=5, min_count=1, workers=1, progress=False)
    model = GloVe(vector_size=8, workers=1, epochs=1, seed=1).fit(matrix)
    thread, outcome = in_thread(lambda: model.train(epochs=100_000))
    try:
        wait_until_training(model, thread)
        with pytest.raises(RuntimeError, match="cannot save this GloVe model while train"):
            model.save(str(tmp_path / "g.npz"))
        with pytest.raises(RuntimeError, match="already training in another thread"):
            model.train(epochs=1)
    finally:
        model.stop()
        thread.join(60)
    assert "error" not in outcome and model.interrupted
    model.save(str(tmp_path / "g.npz"))
