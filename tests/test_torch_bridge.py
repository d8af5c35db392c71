"""The zero-copy hand-off to torch (and CuPy) and the vocabulary tokenizer."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch bridge needs PyTorch (pip install 'embforge[torch]')")

from embforge import torch_bridge  # noqa: E402
from embforge.keyedvectors import KeyedVectors  # noqa: E402
from embforge.tokenizer import Tokenizer  # noqa: E402

WORDS = ["the", "ship", "sails", "at", "dawn"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_kv(words=WORDS, dim=4, spare=2, seed=0):
    rng = np.random.default_rng(seed)
    storage = np.zeros((len(words) + spare, dim), dtype=np.float32)
    storage[: len(words)] = rng.normal(size=(len(words), dim))
    return KeyedVectors.from_storage(list(words), storage)


def cuda_or_skip():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU visible to torch")


# ------------------------------------------------------------ to_torch

def test_to_torch_shares_memory_both_ways():
    kv = make_kv()
    tensor = torch_bridge.to_torch(kv)
    assert tensor.shape == (len(WORDS), 4) and tensor.dtype == torch.float32
    assert tensor.data_ptr() == kv.vectors.__array_interface__["data"][0]
    tensor[1, 2] = 42.0
    assert kv.vectors[1, 2] == 42.0
    kv.vectors[3, 0] = -7.0
    assert tensor[3, 0].item() == -7.0


def test_to_torch_on_own_device_is_no_copy_and_other_device_is_a_copy():
    kv = make_kv()
    same = torch_bridge.to_torch(kv, device="cpu")
    assert same.data_ptr() == torch_bridge.to_torch(kv).data_ptr()
    moved = torch_bridge.to_torch(kv, device="meta")  # any other device: a copy, like Tensor.to
    assert moved.device.type == "meta" and moved.shape == same.shape


def test_read_only_vectors_are_not_shared_writably():
    kv = make_kv()
    kv._storage.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        torch_bridge.to_torch(kv)
    embedding, _ = torch_bridge.to_embedding(kv)  # its own buffer instead
    embedding.weight.data[0] += 1.0
    assert not np.allclose(kv.vectors[0], embedding.weight[0].detach().numpy())


def test_to_torch_excludes_spare_rows():
    kv = make_kv(spare=3)
    assert torch_bridge.to_torch(kv).shape[0] == len(WORDS)


# ------------------------------------------------------------ to_embedding

def test_to_embedding_layout_and_no_copy():
    kv = make_kv()
    original = kv.vectors.copy()
    embedding, mapping = torch_bridge.to_embedding(kv)
    n = len(WORDS)
    assert isinstance(embedding, torch.nn.Embedding)
    assert embedding.num_embeddings == n + 2 and embedding.padding_idx == n
    assert mapping == {**{w: i for i, w in enumerate(WORDS)}, "<pad>": n, "<unk>": n + 1}
    weight = embedding.weight.detach()
    np.testing.assert_array_equal(weight[:n].numpy(), original)
    assert torch.count_nonzero(weight[n]) == 0
    np.testing.assert_allclose(weight[n + 1].numpy(), original.mean(axis=0), rtol=1e-6)
    # the spare rows of the vectors' own buffer hold the specials: no copy
    assert embedding.weight.data_ptr() == kv.vectors.__array_interface__["data"][0]
    assert embedding.weight.requires_grad


def test_to_embedding_freeze_and_copy():
    kv = make_kv()
    frozen, _ = torch_bridge.to_embedding(kv, freeze=True, copy=True)
    assert not frozen.weight.requires_grad
    assert frozen.weight.data_ptr() != kv.vectors.__array_interface__["data"][0]
    frozen.weight.data[0] += 1.0
    assert not np.allclose(kv.vectors[0], frozen.weight[0].detach().numpy())


def test_to_embedding_without_spare_rows_allocates():
    kv = make_kv(spare=0)
    embedding, _ = torch_bridge.to_embedding(kv)
    assert embedding.num_embeddings == len(WORDS) + 2
    np.testing.assert_array_equal(embedding.weight[: len(WORDS)].detach().numpy(), kv.vectors)


def test_training_a_shared_embedding_updates_the_vectors_but_a_copy_does_not():
    for copy in (False, True):
        kv = make_kv()
        before = kv.vectors.copy()
        embedding, _ = torch_bridge.to_embedding(kv, copy=copy)
        optimizer = torch.optim.SGD(embedding.parameters(), lr=0.5)
        embedding(torch.tensor([0, 1, len(WORDS)])).sum().backward()
        optimizer.step()
        changed = not np.array_equal(before, kv.vectors)
        assert changed is (not copy)
        assert torch.count_nonzero(embedding.weight[len(WORDS)]) == 0  # padding row gets no gradient


def test_to_embedding_specials_options():
    kv = make_kv()
    bare, mapping = torch_bridge.to_embedding(kv, specials=())
    assert bare.num_embeddings == len(WORDS) and bare.padding_idx is None and len(mapping) == len(WORDS)
    three, mapping = torch_bridge.to_embedding(kv, specials=("[PAD]", "[UNK]", "[CLS]"))
    assert mapping["[CLS]"] == len(WORDS) + 2 and three.num_embeddings == len(WORDS) + 3
    with pytest.raises(ValueError, match="already words"):
        torch_bridge.to_embedding(make_kv(words=["<unk>", "a"]))
    with pytest.raises(ValueError, match="distinct"):
        torch_bridge.to_embedding(kv, specials=("<x>", "<x>"))


# ------------------------------------------------------------ tokenizer

def test_tokenizer_encodes_with_unknowns_and_lowercase():
    kv = make_kv()
    tok = Tokenizer.from_vectors(kv)
    _, mapping = torch_bridge.to_embedding(kv, copy=True)
    assert tok.key_to_index == mapping
    assert tok.encode("The SHIP sails far") == [0, 1, 2, tok.unk_id]
    assert Tokenizer.from_vectors(kv, lowercase=False).encode("The ship")[0] == tok.unk_id
    assert tok.encode("the ship sails at dawn", max_length=2) == [0, 1]
    assert tok.unknown_rate(["the far", "ship"]) == pytest.approx(1 / 3)
    assert tok.decode(tok.encode("the zz")) == ["the", "<unk>"]


def test_tokenizer_batch_pads_and_masks():
    tok = Tokenizer.from_vectors(make_kv(), max_length=3)
    batch = tok.batch(["the ship", "at dawn the ship sails", ""])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape == (3, 3) and ids.dtype == torch.int64
    assert ids.tolist() == [[0, 1, tok.pad_id], [3, 4, 0], [tok.pad_id] * 3]
    assert mask.tolist() == [[1, 1, 0], [1, 1, 1], [0, 0, 0]]
    assert tok.batch([""], return_tensors="np")["input_ids"].shape == (1, 1)
    assert tok(["ship"], return_tensors=None) == {"input_ids": [[1]], "attention_mask": [[1]]}
    with pytest.raises(TypeError):
        tok.batch("a single string")
    with pytest.raises(ValueError, match="return_tensors"):
        tok.batch(["x"], return_tensors="tf")


def test_tokenizer_needs_its_special_tokens():
    with pytest.raises(ValueError, match="pad_token"):
        Tokenizer({"a": 0, "<unk>": 1})
    with pytest.raises(ValueError, match="padding and an unknown"):
        Tokenizer.from_vectors(make_kv(), specials=("<pad>",))


# ------------------------------------------------------------ optional imports

def test_importing_embforge_modules_does_not_need_torch():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # any import of torch now fails
        import embforge, embforge.torch_bridge, embforge.tokenizer, embforge.finetune, embforge.hf
        import embforge.lm, embforge.training, embforge.cli
        tok = embforge.tokenizer.Tokenizer({"<pad>": 0, "<unk>": 1, "a": 2})
        assert embforge.lm.encode_texts(tok, ["a b", "a"], 0, 1).unknown == 1
        assert tok.batch(["a b"], return_tensors="np")["input_ids"].tolist() == [[2, 1]]
        try:
            embforge.torch_bridge.to_torch(object())
        except ImportError as error:
            assert "embforge[torch]" in str(error), error
        else:
            raise AssertionError("no ImportError")
        print("ok")
    """)
    # The child imports embforge from wherever this process does (an installed
    # package in CI, the source tree with PYTHONPATH=python in development).
    import embforge
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(embforge.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_to_cupy_needs_cupy_or_a_gpu_buffer():
    kv = make_kv()
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="cupy"):
            torch_bridge.to_cupy(kv)
        return
    with pytest.raises(ValueError, match="copy=True"):
        torch_bridge.to_cupy(kv)


# ------------------------------------------------------------ GPU

def _cuda_kv():
    """Vectors trained on the GPU by embforge, or (when embforge was built
    without CUDA) a KeyedVectors whose storage is a CUDA tensor."""
    from embforge import _native
    if _native.cuda_available():
        from embforge.word2vec import Word2Vec
        sentences = [["the", "ship", "sails", "at", "dawn"]] * 200
        return Word2Vec(sg=1, vector_size=16, min_count=1, epochs=1, device="cuda").fit(sentences).wv
    storage = torch.randn(len(WORDS) + 2, 8, device="cuda")
    return KeyedVectors.from_storage(list(WORDS), storage)


@pytest.mark.cuda
def test_cuda_to_torch_and_embedding_share_the_device_buffer():
    cuda_or_skip()
    kv = _cuda_kv()
    tensor = torch_bridge.to_torch(kv)
    assert tensor.is_cuda and tensor.shape == (len(kv), kv.vector_size)
    again = torch_bridge.to_torch(kv)
    assert again.data_ptr() == tensor.data_ptr()  # the same device buffer, not a copy
    tensor[0, 0] = 123.0
    assert again[0, 0].item() == 123.0
    embedding, _ = torch_bridge.to_embedding(kv)
    assert embedding.weight.is_cuda and embedding.weight.data_ptr() == tensor.data_ptr()


@pytest.mark.cuda
def test_cuda_to_cupy_shares_the_device_buffer():
    cuda_or_skip()
    cupy = pytest.importorskip("cupy", reason="CuPy interop needs cupy installed")
    kv = _cuda_kv()
    array = torch_bridge.to_cupy(kv)
    tensor = torch_bridge.to_torch(kv)
    assert isinstance(array, cupy.ndarray) and array.shape == (len(kv), kv.vector_size)
    assert array.data.ptr == tensor.data_ptr()
    array[1, 1] = 5.0
    assert tensor[1, 1].item() == 5.0


# ------------------------------------------------ room for a language model's specials

def _producers(tmp_path):
    """Vectors as every producer hands them out: trainers, readers, a built-up
    KeyedVectors, and the files of an earlier version (two spare rows then)."""
    from embforge import GloVe, KeyedVectors, Word2Vec, cooccurrence
    sentences = [["sun", "moon", "star", "sky"], ["bread", "oven", "flour", "dough"]] * 20
    w2v = Word2Vec(sg=1, vector_size=8, min_count=1, epochs=1, workers=1, seed=1).fit(sentences)
    glove = GloVe(vector_size=8, epochs=1, workers=1).fit(cooccurrence(sentences, window=2))
    w2v.wv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    w2v.wv.save(str(tmp_path / "v.kv"))
    built = KeyedVectors(8)
    built.add_vectors(["a", "b", "c"], np.ones((3, 8), np.float32))
    legacy = os.path.join(os.path.dirname(__file__), "data", "legacy")
    return {"word2vec": w2v.wv, "glove": glove.wv, "built": built,
            "bin": KeyedVectors.load_word2vec_format(str(tmp_path / "v.bin"), binary=True),
            "kv": KeyedVectors.load(str(tmp_path / "v.kv")),
            "legacy kv": KeyedVectors.load(os.path.join(legacy, "vectors.kv")),
            "legacy bin": KeyedVectors.load_word2vec_format(os.path.join(legacy, "vectors.bin"), binary=True),
            "legacy model": Word2Vec.load(os.path.join(legacy, "word2vec.npz")).wv}


def test_every_producer_leaves_room_for_the_lm_specials(tmp_path):
    """Four specials go into the spare rows of whatever made the vectors: no copy."""
    for name, kv in _producers(tmp_path).items():
        before = np.array(kv.vectors)
        embedding, mapping = torch_bridge.to_embedding(kv, specials=torch_bridge.LM_SPECIALS)
        n = len(kv)
        assert embedding.weight.data_ptr() == kv.vectors.__array_interface__["data"][0], name
        assert torch_bridge.shares_memory(embedding, kv), name
        assert [mapping[s] for s in torch_bridge.LM_SPECIALS] == [n, n + 1, n + 2, n + 3], name
        np.testing.assert_array_equal(embedding.weight[:n].detach().numpy(), before)
        five, _ = torch_bridge.to_embedding(kv, specials=torch_bridge.LM_SPECIALS + ("<sep>",))
        assert not torch_bridge.shares_memory(five, kv), name  # beyond the spare rows: a copy
