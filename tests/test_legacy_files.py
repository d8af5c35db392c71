"""Files saved by an earlier version still load, with the same contents.

tests/data/legacy holds one file of each kind embforge saves, written by the
version named in expected.json ("code") with make_legacy.py, and what that
version read back from each (words, counts, settings, and sha256 sums of
every array). These files are never regenerated: if a test here fails, the
change broke files users already have.
"""
import hashlib
import json
import os

import numpy as np
import pytest

from embforge import Cooccurrence, GloVe, KeyedVectors, Vocabulary, Word2Vec

LEGACY = os.path.join(os.path.dirname(__file__), "data", "legacy")
with open(os.path.join(LEGACY, "expected.json"), encoding="utf-8") as _file:
    EXPECTED = json.load(_file)["files"]


def path(name):
    return os.path.join(LEGACY, name)


def check_array(array, recorded):
    """`array` has the recorded dtype, shape and bytes."""
    array = np.asarray(array)
    assert str(array.dtype) == recorded["dtype"] and list(array.shape) == recorded["shape"]
    assert array.ravel()[:4].tolist() == recorded["head"]
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    assert hashlib.sha256(raw).hexdigest() == recorded["sha256"]


def check_vectors(kv, recorded):
    assert list(kv.index_to_key) == recorded["words"]
    check_array(kv.vectors, recorded["vectors"])
    if recorded["counts"] is not None:
        assert [kv.get_vecattr(w, "count") for w in kv.index_to_key] == recorded["counts"]


def check_matrix(m, recorded):
    assert m.vocab == Vocabulary(recorded["words"], recorded["counts"])
    assert m.nnz == recorded["nnz"]
    assert (m.window, m.symmetric, m.distance_weighting) == \
        (recorded["window"], recorded["symmetric"], recorded["distance_weighting"])
    for name in ("rows", "cols", "values"):
        check_array(getattr(m, name), recorded[name])


def test_every_file_is_checked():
    """A fixture without an entry (or an entry without its file) is a mistake."""
    fixtures = set(os.listdir(LEGACY)) - {"make_legacy.py", "expected.json", "__pycache__"}
    companions = {"corpus.txt", "vocab.txt", "vectors.vocab", "cooccurrence_vocab.txt"}
    assert set(EXPECTED) <= fixtures and fixtures - set(EXPECTED) <= companions


def test_vocabulary_file():
    recorded = EXPECTED["vocab.txt"]
    vocab = Vocabulary.load(path("vocab.txt"))
    assert vocab.words == recorded["words"] and vocab.counts.tolist() == recorded["counts"]
    assert "été" in vocab and "ça" in vocab


def test_word2vec_archive_loads_and_trains_on():
    recorded = EXPECTED["word2vec.npz"]
    model = Word2Vec.load(path("word2vec.npz"))
    assert {k: getattr(model, k) for k in recorded["config"]} == recorded["config"]
    assert [float(x) for x in model.training_loss] == recorded["training_loss"]
    assert model.wv.index_to_key == recorded["words"]
    assert model.vocab == Vocabulary(recorded["words"], recorded["counts"])
    check_array(model.wv.vectors, recorded["vectors"])
    check_array(model.syn1neg, recorded["syn1neg"])
    before = np.array(model.wv.vectors)
    model.train(corpus_file=path("corpus.txt"), epochs=1)
    assert model.epochs_trained == recorded["config"]["epochs_trained"] + 1
    assert len(model.training_loss) == len(recorded["training_loss"]) + 1
    assert np.isfinite(model.wv.vectors).all() and not np.array_equal(model.wv.vectors, before)
    # trained on, the vectors stay close to where they were (not reinitialised)
    cos = np.sum(before * model.wv.vectors, axis=1) / np.linalg.norm(before, axis=1) / \
        np.linalg.norm(model.wv.vectors, axis=1)
    assert cos.min() > 0.8


def test_glove_archive_loads_and_trains_on():
    recorded = EXPECTED["glove.npz"]
    model = GloVe.load(path("glove.npz"))
    assert {k: getattr(model, k) for k in recorded["config"]} == recorded["config"]
    assert [float(c) for c in model.cost_history] == recorded["cost_history"]
    assert model.vocab == Vocabulary(recorded["words"], recorded["counts"])
    check_array(model.weights, recorded["weights"])
    check_array(model.gradsq, recorded["gradsq"])
    check_array(model.wv.vectors, recorded["vectors"])
    before = np.array(model.weights)
    model.fit(Cooccurrence.load(path("cooc.npz")), epochs=1)
    assert model.epochs_trained == recorded["config"]["epochs_trained"] + 1
    assert len(model.cost_history) == len(recorded["cost_history"]) + 1
    assert model.cost_history[-1] < recorded["cost_history"][-1] * 1.5  # trained on, not restarted
    assert np.isfinite(model.weights).all() and not np.array_equal(model.weights, before)


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("name", ["cooc.npz", "cooc_direct.cooc"])
def test_cooccurrence_archive(name, mmap):
    m = Cooccurrence.load(path(name), mmap=mmap)
    assert m.on_disk == mmap
    check_matrix(m, EXPECTED[name])


def test_glove_binary_cooccurrence():
    recorded = EXPECTED["cooccurrence.bin"]
    m = Cooccurrence.load_glove_binary(path("cooccurrence.bin"), path("cooccurrence_vocab.txt"))
    check_matrix(m, recorded)
    # the same matrix as the archive, through glove.c's float64 records
    assert m == Cooccurrence.load(path("cooc.npz"))


def test_keyedvectors_file():
    check_vectors(KeyedVectors.load(path("vectors.kv")), EXPECTED["vectors.kv"])


@pytest.mark.parametrize("name, kwargs", [
    ("vectors.txt", {"fvocab": path("vectors.vocab")}),
    ("vectors.bin", {"binary": True}),
    ("vectors.txt.gz", {}),
    ("vectors_glove.txt", {"no_header": True}),
])
def test_word2vec_format_files(name, kwargs):
    kv = KeyedVectors.load_word2vec_format(path(name), **kwargs)
    check_vectors(kv, EXPECTED[name])
    # every format holds the same float32 vectors as the .kv file
    assert np.array_equal(kv.vectors, KeyedVectors.load(path("vectors.kv")).vectors)


def test_text_classifier_file():
    torch = pytest.importorskip("torch", reason="the classifier file is a torch file")
    from embforge import finetune
    recorded = EXPECTED["classifier.pt"]
    model = finetune.load_classifier(path("classifier.pt"))
    assert model.labels == recorded["labels"] and model.config == recorded["config"]
    assert model.padding_idx == recorded["padding_idx"]
    assert model.tokenizer.key_to_index == recorded["vocab"]
    state = model.state_dict()
    assert sorted(state) == sorted(recorded["state_dict"])
    for key, tensor in state.items():
        check_array(tensor.numpy(), recorded["state_dict"][key])
    assert [model.tokenizer.encode(t) for t in recorded["texts"]] == recorded["token_ids"]
    with torch.no_grad():
        logits = model(**model.tokenizer.batch(recorded["texts"]))
    np.testing.assert_allclose(logits.numpy(), recorded["logits"], rtol=1e-4, atol=1e-5)
    assert finetune.predict(model, recorded["texts"]) == recorded["predictions"]
