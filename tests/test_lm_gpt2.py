"""The Hugging Face path: a GPT2LMHeadModel over our vocabulary, its input
embeddings set from our vectors through embforge.hf, trained by train_lm."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs PyTorch")
pytest.importorskip("transformers", reason="needs transformers (pip install 'embforge[hf]')")

from embforge import lm  # noqa: E402
from embforge.lm.data import encode_texts  # noqa: E402
from lm_toys import toy_texts, toy_vectors  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def kv():
    return toy_vectors()


def build(kv, **options):
    return lm.gpt2_from_vectors(kv, **{"n_layer": 1, "n_head": 2, "n_positions": 16, "dropout": 0.0,
                                       **options})


def test_our_ids_our_vectors_and_the_tie_kept(kv):
    before = kv.vectors.copy()
    model, tokenizer, transfer = build(kv, rescale=False)
    wte = model.transformer.wte.weight
    assert model.lm_head.weight.data_ptr() == wte.data_ptr()          # still tied
    assert transfer.matched == len(kv) and model.config.vocab_size == len(kv) + 4
    ids = [tokenizer.key_to_index[w] for w in kv.index_to_key]
    assert ids == list(range(len(kv)))                                # token id = our word id
    np.testing.assert_array_equal(wte[:len(kv)].detach().numpy(), kv.vectors)
    assert (model.config.bos_token_id, model.config.eos_token_id) == (len(kv) + 2, len(kv) + 3)
    scaled, _, _ = build(kv)                                          # GPT-2's scale, same directions
    rows = scaled.transformer.wte.weight[:len(kv)].detach().numpy()
    cos = (rows * kv.vectors).sum(1) / np.linalg.norm(rows, axis=1) / np.linalg.norm(kv.vectors, axis=1)
    np.testing.assert_allclose(cos, 1.0, rtol=1e-5)
    wide, _, transfer = build(kv, n_embd=32)                          # a projection when widths differ
    assert transfer.projection.shape == (16, 32) and wide.transformer.wte.weight.shape == (len(kv) + 4, 32)
    np.testing.assert_array_equal(kv.vectors, before)


def test_fine_tuned_with_the_same_loop(kv):
    model, tokenizer, _ = build(kv)
    bos, eos = model.config.bos_token_id, model.config.eos_token_id
    train = encode_texts(tokenizer, toy_texts(200), bos, eos)
    valid = encode_texts(tokenizer, toy_texts(30, seed=1), bos, eos)
    start = lm.perplexity(model, valid, context=16, bos_id=bos)["perplexity"]
    result = lm.train_lm(model, train, valid, epochs=2, lr=1e-2, seed=0, progress=False)
    # Calibration: untrained about 25.6 (the vocabulary size), 10.0 after these
    # 2 epochs, the grammar's floor 2.0 (see test_lm); halving is a real gain.
    assert result.best_val_perplexity < start / 2
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()


def test_freezing_the_embedding_freezes_the_tied_head(kv):
    model, tokenizer, _ = build(kv)
    wte = model.transformer.wte.weight.detach().clone()
    block = model.transformer.h[0].attn.c_attn.weight.detach().clone()
    train = encode_texts(tokenizer, toy_texts(40), model.config.bos_token_id, model.config.eos_token_id)
    lm.train_lm(model, train, epochs=1, lr=1e-2, freeze_embedding=True, seed=0, progress=False)
    assert torch.equal(model.lm_head.weight, wte) and not torch.equal(model.transformer.h[0].attn.c_attn.weight, block)
    with pytest.raises(ValueError, match="train_last_layers must be in 0..1"):
        lm.train_lm(model, train, epochs=1, train_last_layers=2, progress=False)
