"""The transformer classifier, its fine-tuning loop, TSV input and the CLI."""
import argparse
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="fine-tuning needs PyTorch (pip install 'embforge[torch]')")

from embforge import finetune as ft  # noqa: E402
from embforge import torch_bridge  # noqa: E402
from embforge.cli import finetune as finetune_cli  # noqa: E402
from embforge.keyedvectors import KeyedVectors  # noqa: E402
from embforge.tokenizer import Tokenizer  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
TRAIN, TEST, VECTORS = DATA / "finetune_train.tsv", DATA / "finetune_test.tsv", DATA / "finetune_vectors.txt"
LABELS = ["harbour", "kitchen", "sky"]
SMALL = dict(num_layers=2, num_heads=2, ff_dim=16, dropout=0.0, max_length=32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fixture_vectors(spare=2):
    """The made-up 8-dim vectors of tests/data (topic words cluster)."""
    lines = VECTORS.read_text().splitlines()[1:]
    words = [line.split()[0] for line in lines]
    storage = np.zeros((len(words) + spare, 8), dtype=np.float32)
    storage[: len(words)] = [[float(x) for x in line.split()[1:]] for line in lines]
    return KeyedVectors.from_storage(words, storage)


def small_model(kv=None, **kwargs):
    kv = kv or fixture_vectors()
    return ft.TextClassifier.from_vectors(kv, LABELS, copy=True, seed=0, **{**SMALL, **kwargs})


def write(tmp_path, text, name="x.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------ TSV input

def test_load_tsv_reads_the_fixture():
    texts, labels = ft.load_tsv(TRAIN)
    assert len(texts) == len(labels) == 60 and sorted(set(labels)) == LABELS
    assert all(t and "\t" not in t for t in texts)


def test_load_tsv_accepts_other_column_orders_and_blank_lines(tmp_path):
    path = write(tmp_path, "id\ttext\tlabel\n1\tsome words\tsky\n\n2\tmore words\tkitchen\n")
    assert ft.load_tsv(path) == (["some words", "more words"], ["sky", "kitchen"])


@pytest.mark.parametrize("content, message", [
    ("text\nsome words\n", "missing \\['label'\\]"),
    ("label text\nsky some words\n", "header must name"),
    ("label\ttext\nsky\n", ":2: expected 2 tab-separated fields"),
    ("label\ttext\nsky\tok words\nsky\ta\tb\n", ":3: expected 2"),
    ("label\ttext\n\tsome words\n", ":2: missing label"),
    ("label\ttext\nsky\tgood\nsky\t   \n", ":3: empty text"),
    ("label\ttext\n", "no labelled rows"),
])
def test_load_tsv_rejects_bad_files(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        ft.load_tsv(write(tmp_path, content))


def test_load_tsv_can_skip_empty_texts(tmp_path):
    path = write(tmp_path, "label\ttext\nsky\tgood\nsky\t \n")
    assert ft.load_tsv(path, skip_empty=True) == (["good"], ["sky"])


def test_unseen_labels_are_an_error():
    model = small_model()
    with pytest.raises(ValueError, match=r"no class for: \['desert'\]"):
        ft.evaluate(model, ["sail anchor"], ["desert"])
    with pytest.raises(ValueError, match="validation labels"):
        ft.finetune(model, ["sail"], ["sky"], ["moon"], ["desert"], progress=False)


# ------------------------------------------------------------ the model

def test_classifier_forward_shapes_and_empty_rows():
    model = small_model().eval()
    batch = model.tokenizer.batch(["sail anchor mast", "", "moon"])
    logits = model(batch["input_ids"], batch["attention_mask"])
    assert logits.shape == (3, 3) and torch.isfinite(logits).all()
    # without a mask the padding id marks padding: same result
    torch.testing.assert_close(model(batch["input_ids"]), logits)


def test_classifier_shares_the_vectors_unless_copied():
    kv = fixture_vectors()
    shared = ft.TextClassifier.from_vectors(kv, LABELS, **SMALL)
    assert shared.embedding.weight.data_ptr() == kv.vectors.__array_interface__["data"][0]
    copied = small_model(kv)
    assert copied.embedding.weight.data_ptr() != kv.vectors.__array_interface__["data"][0]


def test_classifier_rejects_bad_shapes():
    kv = fixture_vectors()
    with pytest.raises(ValueError, match="must divide the embedding width 8"):
        ft.TextClassifier.from_vectors(kv, LABELS, copy=True, num_heads=3)
    with pytest.raises(ValueError, match="longer than the model's max_length"):
        small_model(kv)(torch.zeros((1, 40), dtype=torch.long))
    embedding, mapping = torch_bridge.to_embedding(kv, copy=True)
    too_small = torch.nn.Embedding(len(mapping) - 1, 8)
    with pytest.raises(ValueError, match="vocabulary/embedding size mismatch"):
        ft.TextClassifier(too_small, 3, num_heads=2, tokenizer=Tokenizer(mapping))
    model = ft.TextClassifier(too_small, 3, num_heads=2, labels=LABELS)
    with pytest.raises(ValueError, match="vocabulary/embedding size mismatch"):
        ft.finetune(model, ["sail"], ["sky"], tokenizer=Tokenizer(mapping), progress=False)


def test_finetuning_shared_vectors_refreshes_their_caches():
    kv = fixture_vectors()
    stale = kv.get_normed_vectors().copy()
    model = ft.TextClassifier.from_vectors(kv, LABELS, **SMALL)  # shares kv's memory
    texts, labels = ft.load_tsv(TRAIN)
    ft.finetune(model, texts, labels, epochs=1, lr=1e-2, seed=0, progress=False)
    fresh = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    assert not np.allclose(stale, fresh)
    np.testing.assert_allclose(kv.get_normed_vectors(), fresh, rtol=1e-5, atol=1e-6)
    assert not torch_bridge.vectors_changed(small_model(kv).embedding)  # a copy shares nothing
    torch.save(model, io.BytesIO())  # the link to the vectors does not stop pickling


def test_random_init_keeps_vocabulary_and_changes_word_rows():
    kv = fixture_vectors()
    pre, rnd = small_model(kv), small_model(kv, init="random")
    n = len(kv)
    assert rnd.tokenizer.key_to_index == pre.tokenizer.key_to_index
    assert not torch.allclose(rnd.embedding.weight[:n], pre.embedding.weight[:n])
    assert torch.equal(rnd.head.weight, pre.head.weight)  # same seed, same layers: a paired baseline
    assert torch.count_nonzero(rnd.embedding.weight[n]) == 0
    assert np.array_equal(kv.vectors, fixture_vectors().vectors)  # the vectors are untouched


# ------------------------------------------------------------ devices

def test_model_on_another_device_than_the_vectors_is_an_error():
    kv = fixture_vectors()
    with pytest.raises(ValueError, match="the vectors are on cpu but the model was asked for on cuda"):
        ft.TextClassifier.from_vectors(kv, LABELS, device="cuda", **SMALL)
    model = small_model(kv)
    with pytest.raises(ValueError, match="on cpu but device='cuda:0'"):
        ft.finetune(model, ["sail"], ["sky"], device="cuda:0", progress=False)
    model.head.to("meta")  # a model split across devices
    with pytest.raises(ValueError, match="several devices"):
        ft.finetune(model, ["sail"], ["sky"], progress=False)


# ------------------------------------------------------------ fine-tuning

def _changed(model, before):
    return {name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])}


def _snapshot(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_finetune_learns_the_toy_task():
    texts, labels = ft.load_tsv(TRAIN)
    test_texts, test_labels = ft.load_tsv(TEST)
    model = small_model()
    result = ft.finetune(model, texts, labels, test_texts, test_labels, epochs=15, batch_size=8,
                         lr=3e-3, seed=0, progress=False)
    assert result.history and result.best_val_accuracy is not None
    assert ft.evaluate(model, test_texts, test_labels)["accuracy"] >= 0.9
    assert ft.predict(model, ["telescope comet orbit", "dough oven flour"]) == ["sky", "kitchen"]


@pytest.mark.parametrize("options, frozen, trained", [
    ({}, set(), {"embedding.weight", "head.weight", "encoder.layers.0.linear1.weight"}),
    ({"freeze_embedding": True}, {"embedding.weight"}, {"head.weight", "encoder.layers.0.linear1.weight"}),
    ({"train_last_layers": 1}, {"embedding.weight", "encoder.layers.0.linear1.weight", "input_norm.weight"},
     {"head.weight", "encoder.layers.1.linear1.weight", "encoder.norm.weight"}),
    ({"train_last_layers": 0}, {"encoder.layers.1.linear1.weight"}, {"head.weight"}),
])
def test_finetune_adjusts_only_what_was_asked(options, frozen, trained):
    texts, labels = ft.load_tsv(TRAIN)
    model = small_model()
    before = _snapshot(model)
    ft.finetune(model, texts[:16], labels[:16], epochs=1, batch_size=8, seed=0, progress=False, **options)
    changed = _changed(model, before)
    assert trained <= changed and not (frozen & changed)


def test_finetune_rejects_bad_layer_counts_and_all_frozen():
    model = small_model()
    with pytest.raises(ValueError, match="train_last_layers must be in 0..2"):
        ft.finetune(model, ["sail"], ["sky"], train_last_layers=3, progress=False)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        ft.finetune(model, ["sail"], ["sky"], progress=False)


def test_early_stopping_stops_after_patience():
    texts, labels = ft.load_tsv(TRAIN)
    model = small_model()
    # lr=0: validation never improves after epoch 1, so patience 2 stops at epoch 3
    result = ft.finetune(model, texts[:16], labels[:16], texts[16:24], labels[16:24], epochs=10,
                         lr=0.0, patience=2, seed=0, progress=False)
    assert len(result.history) == 3 and result.stopped_early and result.best_epoch == 1


def test_the_best_epochs_weights_are_restored(monkeypatch):
    texts, labels = ft.load_tsv(TRAIN)
    model = small_model()
    scripted, seen = iter([0.5, 0.9, 0.4, 0.3]), []

    def fake_evaluate(model, texts, labels, tokenizer=None):  # records the weights at each epoch's end
        seen.append(_snapshot(model))
        return {"accuracy": next(scripted), "loss": 1.0, "n": len(texts)}
    monkeypatch.setattr("embforge.finetune.train.evaluate", fake_evaluate)  # the loop's validation scores
    result = ft.finetune(model, texts, labels, texts[:8], labels[:8], epochs=4, lr=3e-3, patience=2,
                         seed=0, progress=False)
    assert result.best_epoch == 2 and len(result.history) == 4
    assert not _changed(model, seen[1]) and _changed(model, seen[3])


def test_finetune_is_reproducible_with_a_seed():
    texts, labels = ft.load_tsv(TRAIN)
    runs = []
    for _ in range(2):
        model = ft.TextClassifier.from_vectors(fixture_vectors(), LABELS, copy=True, seed=3,
                                               **{**SMALL, "dropout": 0.1})
        runs.append(ft.finetune(model, texts, labels, epochs=2, seed=3, progress=False).history[-1]["train_loss"])
    assert runs[0] == runs[1]


def test_save_and_load_classifier(tmp_path):
    texts, labels = ft.load_tsv(TRAIN)
    model = small_model()
    ft.finetune(model, texts, labels, epochs=2, seed=0, progress=False)
    ft.save_classifier(model, tmp_path / "clf.pt")
    loaded = ft.load_classifier(tmp_path / "clf.pt")
    assert loaded.labels == model.labels and loaded.tokenizer.key_to_index == model.tokenizer.key_to_index
    assert ft.predict(loaded, texts) == ft.predict(model, texts)
    with pytest.raises(ValueError, match="not an embforge text classifier"):
        torch.save({"x": 1}, tmp_path / "other.pt")
        ft.load_classifier(tmp_path / "other.pt")


def test_loads_a_classifier_saved_by_the_single_module_version():
    # tests/data/finetune_classifier_v1.pt was written by save_classifier when
    # embforge.finetune was one module (TextClassifier built by a factory), with
    # the logits it gave on the first test texts.
    saved = json.loads((DATA / "finetune_classifier_v1.json").read_text())
    model = ft.load_classifier(DATA / "finetune_classifier_v1.pt")
    assert type(model) is ft.TextClassifier and model.labels == LABELS
    assert ft.predict(model, saved["texts"]) == saved["predictions"]
    from embforge.finetune.scoring import logits
    np.testing.assert_allclose(logits(model, model.tokenizer, saved["texts"], 256).numpy(),
                               saved["logits"], atol=1e-5)


def test_classifier_is_a_plain_class_that_pickles():
    from embforge.finetune.model import TextClassifier
    assert ft.TextClassifier is TextClassifier
    assert (TextClassifier.__module__, TextClassifier.__qualname__) == ("embforge.finetune.model", "TextClassifier")
    model = small_model()
    copy = pickle.loads(pickle.dumps(model))
    texts, _ = ft.load_tsv(TEST)
    assert type(copy) is TextClassifier and ft.predict(copy, texts) == ft.predict(model, texts)
    # whole models pickled by the single-module version name the class embforge.finetune.TextClassifier
    unpickler = pickle.Unpickler(io.BytesIO(b""))
    assert unpickler.find_class("embforge.finetune", "TextClassifier") is TextClassifier


# ------------------------------------------------------------ CLI

def _parse(argv):
    parser = argparse.ArgumentParser(prog="embforge")
    finetune_cli.add_finetune_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_finetune_end_to_end(tmp_path, capsys):
    args = _parse(["finetune", "--vectors", str(VECTORS), "--train", str(TRAIN), "--test", str(TEST),
                   "--heads", "2", "--ff-dim", "16", "--epochs", "12", "--lr", "3e-3", "--batch-size", "8",
                   "--dropout", "0", "--quiet", "--save", str(tmp_path / "m.pt")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.8 and (tmp_path / "m.pt").exists()


def test_cli_reports_bad_input_before_training(tmp_path):
    bad_test = write(tmp_path, "label\ttext\ndesert\tsand dune\n")
    args = _parse(["finetune", "--vectors", str(VECTORS), "--train", str(TRAIN), "--test", str(bad_test)])
    with pytest.raises(ValueError, match="no class for: \\['desert'\\]"):
        args.func(args)
    with pytest.raises(SystemExit):  # the two ways to restrict training exclude each other
        _parse(["finetune", "--vectors", "v", "--train", "t", "--test", "t",
                "--freeze-embedding", "--train-last-layers", "1"])


# ------------------------------------------------------------ GPU, end to end

@pytest.mark.cuda
def test_cuda_end_to_end_stays_on_the_gpu(tmp_path):
    """Vectors trained with device="cuda" -> classifier -> fine-tuning, all on the
    GPU: the embedding is the trainer's buffer and no copy of the vectors'
    size ever goes to the host."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU visible to torch")
    from embforge import _native
    if not _native.cuda_available():
        pytest.skip(f"needs embforge's CUDA trainer: {_native.cuda_unavailable_reason()}")
    from embforge.word2vec import Word2Vec
    texts, labels = ft.load_tsv(TRAIN)
    sentences = [t.split() for t in texts] * 20
    kv = Word2Vec(sg=1, vector_size=64, min_count=1, epochs=2, device="cuda").fit(sentences).wv
    vector_bytes = len(kv) * kv.vector_size * 4
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        model = ft.TextClassifier.from_vectors(kv, LABELS, num_heads=2, ff_dim=16, max_length=32)
        assert model.embedding.weight.data_ptr() == torch_bridge.to_torch(kv).data_ptr()
        assert ft.model_device(model) == "cuda:0"
        ft.finetune(model, texts, labels, texts[:10], labels[:10], epochs=2, progress=False)
        accuracy = ft.evaluate(model, texts, labels)["accuracy"]
    assert 0.0 <= accuracy <= 1.0 and model.embedding.weight.is_cuda
    trace = tmp_path / "trace.json"
    prof.export_chrome_trace(str(trace))
    copies = [e.get("args", {}).get("bytes", 0) for e in json.loads(trace.read_text())["traceEvents"]
              if e.get("cat") == "gpu_memcpy" and "DtoH" in e.get("name", "")]
    assert copies, "the profiler saw no device-to-host copy at all (not even the loss): not measuring"
    assert max(copies) < vector_bytes, f"a device-to-host copy of {max(copies)} bytes (vectors: {vector_bytes})"
