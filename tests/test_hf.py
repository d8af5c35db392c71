"""The Hugging Face adapter, on models built from small configs (no downloads)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the adapter needs PyTorch")
transformers = pytest.importorskip("transformers", reason="the adapter needs transformers")

from embforge.hf import load_into_hf_model, shared_tokens  # noqa: E402
from embforge.keyedvectors import KeyedVectors  # noqa: E402

TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "ship", "##ing", "Harbour",
          "anchor", "zebra", "ĠMast"]
# shares: the ship anchor (+ Harbour, Mast when lower-casing); never a special token or a "##" piece
OURS = ["ship", "the", "harbour", "mast", "anchor", "sail", "tide", "[CLS]", "##ing"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_kv(dim, seed=0):
    storage = np.zeros((len(OURS) + 2, dim), dtype=np.float32)
    storage[: len(OURS)] = np.random.default_rng(seed).normal(size=(len(OURS), dim))
    return KeyedVectors.from_storage(list(OURS), storage)


def make_tokenizer():
    vocab = {t: i for i, t in enumerate(TOKENS)}
    try:
        return transformers.BertTokenizer(vocab=vocab, do_lower_case=False)
    except TypeError:  # transformers < 5 takes a file
        import tempfile
        path = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
        path.write("\n".join(TOKENS) + "\n")
        path.close()
        return transformers.BertTokenizer(vocab_file=path.name, do_lower_case=False)


def make_model(hidden=8, masked_lm=False, vocab_size=len(TOKENS)):
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=16)
    return (transformers.BertForMaskedLM if masked_lm else transformers.BertModel)(config)


def test_shared_tokens_matching_rules():
    tok, kv = make_tokenizer(), make_kv(8)
    ids = tok.get_vocab()
    pairs = shared_tokens(tok, kv)
    assert pairs == {ids["the"]: 1, ids["ship"]: 0, ids["anchor"]: 4}
    lowered = shared_tokens(tok, kv, lowercase=True)
    assert lowered[ids["Harbour"]] == 2 and lowered[ids["ĠMast"]] == 3  # the Ġ word-start mark is ignored
    assert ids["##ing"] not in lowered and ids["[UNK]"] not in lowered


def test_same_width_copies_our_vectors_into_the_shared_rows():
    tok, kv, model = make_tokenizer(), make_kv(8), make_model(8)
    before = model.get_input_embeddings().weight.detach().clone()
    report = load_into_hf_model(model, tok, kv, rescale=False)
    weight = model.get_input_embeddings().weight.detach()
    pairs = shared_tokens(tok, kv)
    assert report.matched == 3 and report.projection is None and report.coverage == pytest.approx(3 / len(TOKENS))
    for token_id, ours in pairs.items():
        np.testing.assert_allclose(weight[token_id].numpy(), kv.vectors[ours], rtol=1e-6)
    untouched = [i for i in range(len(TOKENS)) if i not in pairs]
    assert torch.equal(weight[untouched], before[untouched])


def test_rescale_matches_the_replaced_rows_scale():
    tok, kv, model = make_tokenizer(), make_kv(8), make_model(8)
    pairs = list(shared_tokens(tok, kv))
    rms_before = model.get_input_embeddings().weight[pairs].detach().pow(2).mean().sqrt()
    load_into_hf_model(model, tok, kv)
    rms_after = model.get_input_embeddings().weight[pairs].detach().pow(2).mean().sqrt()
    assert rms_after == pytest.approx(float(rms_before), rel=1e-4)


def test_wider_model_gets_an_orthogonal_projection_that_keeps_dot_products():
    tok, kv, model = make_tokenizer(), make_kv(4), make_model(16)
    report = load_into_hf_model(model, tok, kv, rescale=False)
    assert tuple(report.projection.shape) == (4, 16)
    pairs = shared_tokens(tok, kv)
    ours = torch.from_numpy(kv.vectors[list(pairs.values())])
    theirs = model.get_input_embeddings().weight.detach()[list(pairs)]
    torch.testing.assert_close(theirs @ theirs.T, ours @ ours.T, rtol=1e-4, atol=1e-4)


def test_narrower_model_uses_pca_and_explicit_projections_are_checked():
    tok, kv = make_tokenizer(), make_kv(16)
    report = load_into_hf_model(make_model(8), tok, kv)
    assert tuple(report.projection.shape) == (16, 8)
    matrix = torch.randn(16, 8)
    model = make_model(8)
    load_into_hf_model(model, tok, kv, projection=matrix, rescale=False)
    pairs = shared_tokens(tok, kv)
    expected = torch.from_numpy(kv.vectors[list(pairs.values())]) @ matrix
    torch.testing.assert_close(model.get_input_embeddings().weight.detach()[list(pairs)], expected)
    with pytest.raises(ValueError, match=r"shape \(16, 8\)"):
        load_into_hf_model(make_model(8), tok, kv, projection=torch.randn(8, 16))
    with pytest.raises(ValueError, match="a projection is needed"):
        load_into_hf_model(make_model(8), tok, kv, projection=None)
    with pytest.raises(ValueError, match="projection must be"):
        load_into_hf_model(make_model(8), tok, kv, projection="magic")


def test_add_tokens_resizes_the_embeddings_and_keeps_output_weights_tied():
    tok, kv = make_tokenizer(), make_kv(8)
    model = make_model(8, masked_lm=True)
    report = load_into_hf_model(model, tok, kv, add_tokens=2, rescale=False)
    assert report.added == ["harbour", "mast"]  # our most frequent words the tokenizer lacked
    assert len(tok) == len(TOKENS) + 2 and model.get_input_embeddings().weight.shape[0] >= len(tok)
    new_id = tok.convert_tokens_to_ids("mast")
    np.testing.assert_allclose(model.get_input_embeddings().weight[new_id].detach().numpy(), kv.vectors[3], rtol=1e-6)
    if model.config.tie_word_embeddings:
        assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert tok.tokenize("the mast") == ["the", "mast"]


def test_lstsq_projection_fits_the_models_rows():
    tok, model = make_tokenizer(), make_model(8)
    kv = make_kv(2)  # 2 dims: 3 shared tokens are enough to fit
    pairs = list(shared_tokens(tok, kv))
    before = model.get_input_embeddings().weight.detach()[pairs].clone()
    load_into_hf_model(model, tok, kv, projection="lstsq")
    after = model.get_input_embeddings().weight.detach()[pairs]
    # the fit is the best linear map, so it is closer to the old rows than zero is
    assert (after - before).norm() < before.norm()
