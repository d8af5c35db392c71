"""The decoder-only language model: built from our vectors, trained on the
shared loop, cached generation, saving, bad input."""
import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the language model needs PyTorch (pip install 'embforge[torch]')")
pytest.importorskip("safetensors", reason="models are saved with safetensors")

from embforge import lm, torch_bridge  # noqa: E402
from embforge.lm.data import IGNORE, encode_texts, read_texts  # noqa: E402
from embforge.lm.task import window_batch  # noqa: E402
from lm_toys import TINY, toy_texts, toy_vectors  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def kv():
    return toy_vectors()


def tiny(kv, **options):
    return lm.DecoderLM.from_vectors(kv, seed=0, **{**TINY, **options})


def streams(model, n=300):
    texts = toy_texts(n)
    return (encode_texts(model.tokenizer, texts, model.bos_id, model.eos_id),
            encode_texts(model.tokenizer, toy_texts(40, seed=1), model.bos_id, model.eos_id))


# ------------------------------------------------------------ building

def test_layout_specials_and_tokenizer(kv):
    model = tiny(kv)
    n = len(kv)
    assert model.embedding.num_embeddings == n + 4 and model.embedding.padding_idx == n
    assert (model.pad_id, model.tokenizer.unk_id, model.bos_id, model.eos_id) == (n, n + 1, n + 2, n + 3)
    np.testing.assert_array_equal(model.embedding.weight[:n].detach().numpy(), kv.vectors)
    assert model.tokenizer.encode("the zebra") == [kv.key_to_index["the"], n + 1]


def test_the_model_trains_a_copy_unless_told_to_share(kv):
    before = kv.vectors.copy()
    own = tiny(kv)
    assert not torch_bridge.shares_memory(own.embedding, kv)
    train, _ = streams(own, 40)
    lm.train_lm(own, train, epochs=1, lr=1e-2, seed=0, progress=False)
    np.testing.assert_array_equal(kv.vectors, before)          # the user's vectors are untouched

    shared_kv = toy_vectors()
    norms = shared_kv.get_normed_vectors().copy()
    shared = lm.DecoderLM.from_vectors(shared_kv, share_vectors=True, seed=0, **TINY)
    assert shared.embedding.weight.data_ptr() == shared_kv.vectors.__array_interface__["data"][0]
    lm.train_lm(shared, train, epochs=1, lr=1e-2, seed=0, progress=False)
    assert not np.array_equal(shared_kv.vectors, before)      # rewritten in place ...
    assert not np.allclose(shared_kv.get_normed_vectors(), norms)  # ... and its caches refreshed


def test_tied_untied_and_projected_output_layers(kv):
    tied = tiny(kv)
    assert tied.head is None and tied.project_in is None
    names = {name for name, _ in tied.named_parameters()}
    assert not any(name.startswith("head") for name in names)
    untied = tiny(kv, tie=False)
    assert untied.head.weight.shape == (len(kv) + 4, 16)
    wide = tiny(kv, width=24, num_heads=4)
    assert wide.project_in.weight.shape == (24, 16) and wide.project_out.weight.shape == (16, 24)
    ids = torch.tensor([[wide.bos_id, 0, 1, 2]])
    for model in (tied, untied, wide, tiny(kv, positions="sinusoidal")):
        assert model(ids).shape == (1, 4, len(kv) + 4)
    assert tiny(kv, positions="sinusoidal").position is None


def _changed(model, before):
    return {name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])}


@pytest.mark.parametrize("tie, options, frozen, trained", [
    (True, {"freeze_embedding": True}, {"embedding.weight"}, {"blocks.0.qkv.weight", "norm.weight"}),
    (False, {"freeze_embedding": True}, {"embedding.weight"}, {"head.weight", "blocks.0.qkv.weight"}),
    (True, {"train_last_layers": 1}, {"embedding.weight", "blocks.0.qkv.weight", "position.weight"},
     {"blocks.1.qkv.weight", "norm.weight"}),
    (True, {}, set(), {"embedding.weight", "position.weight", "blocks.0.qkv.weight"}),
])
def test_training_adjusts_only_what_was_asked(kv, tie, options, frozen, trained):
    """With a tied output layer, freezing the embedding freezes the output layer: it is the same tensor."""
    model = tiny(kv, tie=tie)
    train, _ = streams(model, 40)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    lm.train_lm(model, train, epochs=1, lr=1e-2, seed=0, progress=False, **options)
    changed = _changed(model, before)
    assert trained <= changed and not (frozen & changed)


def test_training_lowers_held_out_perplexity(kv):
    model = tiny(kv)
    train, valid = streams(model)
    start = lm.perplexity(model, valid, context=16, bos_id=model.bos_id)["perplexity"]
    result = lm.train_lm(model, train, valid, epochs=3, lr=1e-2, seed=0, progress=False)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert all("val_perplexity" in row and row["tokens"] > 0 for row in result.history)
    # Calibration: each text is three 5-way choices over 7 predicted tokens,
    # a floor of exp(3 ln 5 / 7) = 2.0; untrained, about 25 (the vocabulary);
    # 3 epochs reach 5.7 here. 8 leaves room for other platforms' arithmetic
    # and still fails a model that learnt little.
    assert result.best_val_perplexity < min(8.0, start / 2)


def test_windows_and_ignored_targets(kv):
    model = tiny(kv)
    stream = encode_texts(model.tokenizer, ["the cat sat", "a bird"], model.bos_id, model.eos_id)
    assert len(stream.ids) == 5 + 4 and stream.words == 5
    inputs, targets = window_batch(stream, stream.windows(16), 16, model.bos_id, "cpu")
    assert inputs.shape == (1, 8) and inputs[0, 0] == model.bos_id
    # nothing predicts the second text's <bos>
    assert targets[0, 3] == model.eos_id and targets[0, 4] == IGNORE


def test_read_texts(tmp_path):
    import gzip
    path = tmp_path / "t.txt.gz"
    with gzip.open(path, "wt") as out:
        out.write("one two\n\n  \nthree\n")
    assert read_texts(path) == ["one two", "three"]
    assert read_texts([path, path], limit=3) == ["one two", "three", "one two"]
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(ValueError, match="no text in .*blank.txt"):
        read_texts(tmp_path / "blank.txt")


# ------------------------------------------------------------ generation

def _trained(kv):
    model = tiny(kv)
    train, _ = streams(model)
    lm.train_lm(model, train, epochs=2, lr=1e-2, seed=0, progress=False)
    return model


@pytest.fixture(scope="module")
def trained(kv):
    return _trained(kv)


def test_cached_generation_equals_recomputation(trained):
    prompts = ["the cat sat", "a", "the driver wrote to the"]
    for options in (dict(temperature=0), dict(temperature=1.0, seed=5), dict(top_k=3, top_p=0.8, seed=2)):
        cached = lm.generate(trained, prompts, 10, **options)
        again = lm.generate(trained, prompts, 10, use_cache=False, **options)
        assert [c.tokens for c in cached] == [c.tokens for c in again]
    # the logits themselves: one pass over the sequence against token-by-token with the cache
    ids = torch.tensor([[trained.bos_id] + trained.tokenizer.encode("the dog ran to the park")])
    whole = trained(ids)
    logits, cache = trained(ids[:, :3], use_cache=True)
    steps = [logits]
    for t in range(3, ids.shape[1]):
        logits, cache = trained(ids[:, t:t + 1], attention_mask=torch.ones(1, t + 1), past=cache,
                                use_cache=True)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole, rtol=1e-4, atol=1e-4)


def test_batched_prompts_match_one_at_a_time(trained):
    prompts = ["the kernel read from", "a bird", "the dog"]
    batched = lm.generate(trained, prompts, 8, temperature=0)
    alone = [lm.generate(trained, p, 8, temperature=0) for p in prompts]
    assert [c.tokens for c in batched] == [c.tokens for c in alone]
    assert all(c.prompt_tokens == len(p.split()) + 1 for c, p in zip(batched, prompts))


def test_generation_stops_at_eos_and_the_context(kv):
    model = tiny(kv, tie=False)
    with torch.no_grad():   # a model that always says <eos>: the final norm's output is a
        model.norm.weight.zero_()          # constant e0, and only <eos> has weight on it
        model.norm.bias.zero_()
        model.norm.bias[0] = 1.0
        model.head.weight.zero_()
        model.head.weight[model.eos_id, 0] = 10.0
    done = lm.generate(model, ["the cat", "a bird sat on the"], 20, temperature=0)
    assert [c.stopped for c in done] == ["eos", "eos"] and all(c.tokens == [model.eos_id] for c in done)
    assert done[0].text == ""
    free = lm.generate(model, "the cat sat on the mat and", 50, temperature=0, stop_at_eos=False)
    assert free.stopped == "context" and free.prompt_tokens + len(free.tokens) == model.context
    short = lm.generate(model, "the cat", 3, temperature=0, stop_at_eos=False)
    assert short.stopped == "length" and len(short.tokens) == 3


def test_sampling_options(trained):
    greedy = lm.generate(trained, "the cat", 8, temperature=0)
    assert lm.generate(trained, "the cat", 8, top_k=1, seed=9).tokens == greedy.tokens
    one = lm.generate(trained, "the cat", 8, temperature=1.5, seed=3)
    assert lm.generate(trained, "the cat", 8, temperature=1.5, seed=3).tokens == one.tokens
    draws = {tuple(lm.generate(trained, "the", 8, temperature=1.5, seed=s).tokens) for s in range(6)}
    assert len(draws) > 1
    never = {trained.pad_id, trained.bos_id, trained.tokenizer.unk_id}
    for s in range(5):
        tokens = lm.generate(trained, "the", 12, temperature=2.0, seed=s,
                             banned=[trained.tokenizer.unk_id]).tokens
        assert not never & set(tokens)


def test_bad_prompts_and_options(trained):
    with pytest.raises(ValueError, match=r"prompt 1 is empty \('  '\)"):
        lm.generate(trained, ["the cat", "  "], 4)
    with pytest.raises(ValueError, match="prompt 0 has 20 words, too long for the model's context of 16"):
        lm.generate(trained, " ".join(["cat"] * 20), 4)
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1, got 0"):
        lm.generate(trained, "the", 0)
    for options, message in ((dict(temperature=-1), "temperature"), (dict(top_k=0), "top_k"),
                             (dict(top_p=1.5), "top_p")):
        with pytest.raises(ValueError, match=message):
            lm.generate(trained, "the", 4, **options)
    oov = lm.generate(trained, "the zebra and the unicorn", 4, temperature=0)
    assert oov.unknown == 3 and oov.prompt_tokens == 6
    with pytest.raises(ValueError, match="20 tokens are more than the model's context of 16"):
        trained(torch.zeros((1, 20), dtype=torch.long))


def test_mismatched_vectors_model_and_devices(kv):
    from embforge.tokenizer import Tokenizer
    model = tiny(kv)
    small = torch.nn.Embedding(5, 16)
    with pytest.raises(ValueError, match="the tokenizer has ids up to .* but the embedding has 5 rows"):
        lm.DecoderLM(small, tokenizer=model.tokenizer, bos_id=2, eos_id=3, **TINY)
    big = toy_vectors(dim=8)
    other = lm.DecoderLM.from_vectors(big, **TINY)
    stream = encode_texts(Tokenizer({**{f"w{i}": i for i in range(60)}, "<pad>": 60, "<unk>": 61}),
                          ["w59 w1"], 0, 1)
    with pytest.raises(ValueError, match="train stream has id 59 but the model has"):
        lm.train_lm(other, stream, epochs=1, progress=False)
    with pytest.raises(ValueError, match="num_heads=3 must divide the model width 16"):
        tiny(kv, num_heads=3)
    with pytest.raises(ValueError, match="share_vectors=True but the vectors are on cpu and the model "
                                         "was asked for on cuda"):
        lm.DecoderLM.from_vectors(kv, share_vectors=True, device="cuda", **TINY)
    with pytest.raises(ValueError, match="positions must be"):
        tiny(kv, positions="rotary")


# ------------------------------------------------------------ saving

def test_save_and_load_round_trip(tmp_path, trained):
    path = lm.save_lm(trained, tmp_path / "lm")
    assert path.endswith(os.path.join("lm", "model.safetensors"))
    loaded = lm.load_lm(tmp_path / "lm")
    ids = torch.tensor([[trained.bos_id, 0, 1, 2]])
    torch.testing.assert_close(loaded(ids), trained(ids))
    assert loaded.tokenizer.key_to_index == trained.tokenizer.key_to_index
    assert lm.generate(loaded, "the cat", 6, temperature=0).tokens == \
        lm.generate(trained, "the cat", 6, temperature=0).tokens
    untied = tiny(toy_vectors(), tie=False, positions="sinusoidal", width=8)
    lm.save_lm(untied, tmp_path / "u.safetensors")
    assert lm.load_lm(tmp_path / "u.safetensors").config == untied.config


def test_truncated_foreign_and_hostile_files_are_refused(tmp_path, trained):
    good = lm.save_lm(trained, tmp_path / "good")
    data = open(good, "rb").read()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.safetensors is not a readable embforge tensor file"):
        lm.load_lm(cut)
    # a pickle that would run code when unpickled: never unpickled, just refused
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="evil.safetensors is not a readable"):
        lm.load_lm(evil)
    assert not marker.exists()
    torch.save(trained.state_dict(), tmp_path / "torch.safetensors")
    with pytest.raises(ValueError, match="not a readable"):
        lm.load_lm(tmp_path / "torch.safetensors")

    from embforge.training.tensor_files import read_tensors, write_tensors
    tensors, meta = read_tensors(good)
    for name, edit, message in (
            ("huge", lambda m: m["config"].update(width=1 << 30), "config out of range"),
            ("words", lambda m: m.update(vocab=[1] * len(m["vocab"])), "distinct strings"),
            ("format", lambda m: m.update(format="other"), "format 'other'"),
            ("kind", lambda m: m["config"].update(num_layers="2"), "num_layers='2' is not a int")):
        bad = {**meta, "config": dict(meta["config"])}
        edit(bad)
        write_tensors(tmp_path / f"{name}.safetensors", tensors, bad)
        with pytest.raises(ValueError, match=f"{name}.safetensors: not a usable .*{message}"):
            lm.load_lm(tmp_path / f"{name}.safetensors")
    wrong = dict(tensors)
    wrong["norm.weight"] = torch.zeros(3)
    write_tensors(tmp_path / "shape.safetensors", wrong, meta)
    with pytest.raises(ValueError, match=r"do not match .*wrong shape \['norm.weight'\]"):
        lm.load_lm(tmp_path / "shape.safetensors")
    nan = dict(tensors)
    nan["norm.weight"] = torch.full_like(tensors["norm.weight"], float("nan"))
    write_tensors(tmp_path / "nan.safetensors", nan, meta)
    with pytest.raises(ValueError, match="NaN"):
        lm.load_lm(tmp_path / "nan.safetensors")
    with pytest.raises(FileNotFoundError):
        lm.load_lm(tmp_path / "absent")


# ------------------------------------------------------------ dialogue

def test_dialogue_keeps_a_bounded_history(trained):
    dialogue = lm.Dialogue(trained, history=1, max_new_tokens=3, seed=0, user="the", bot="cat")
    first = dialogue.reply("a bird")
    assert dialogue.prompt("the dog") == " ".join(["the", "a", "bird", "cat", *first.text.split(),
                                                  "the", "the", "dog", "cat"])
    dialogue.reply("the dog")
    dialogue.reply("a")
    assert len(dialogue.history) == 1 and dialogue.history[0][:3] == ["the", "a", "cat"]
    # a long line keeps its end, and the prompt always leaves room for the answer
    prompt = dialogue.prompt(" ".join(["dog"] * 40))
    assert len(prompt.split()) + 1 + 3 <= trained.context
    with pytest.raises(ValueError, match="an empty line"):
        dialogue.reply("   ")
    with pytest.raises(ValueError, match="max_new_tokens must be in 1..13"):
        lm.Dialogue(trained, max_new_tokens=30)


# ------------------------------------------------------------ GPU, end to end

@pytest.mark.cuda
def test_cuda_vectors_to_a_language_model_on_the_same_gpu():
    """Vectors trained with device="cuda" -> language model -> fine-tuning ->
    generation, all on that GPU; shared, the embedding is the trainer's buffer."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU visible to torch")
    from embforge import _native
    if not _native.cuda_available():
        pytest.skip(f"needs embforge's CUDA trainer: {_native.cuda_unavailable_reason()}")
    kv = toy_vectors(device="cuda")
    shared = lm.DecoderLM.from_vectors(kv, share_vectors=True, seed=0, **TINY)
    assert shared.embedding.weight.data_ptr() == torch_bridge.to_torch(kv).data_ptr()
    own = lm.DecoderLM.from_vectors(kv, seed=0, **TINY)   # its own copy, made on the GPU
    assert own.embedding.weight.data_ptr() != shared.embedding.weight.data_ptr()
    for model in (shared, own):
        assert {str(p.device) for p in model.parameters()} == {"cuda:0"}
        train, valid = streams(model, 100)
        result = lm.train_lm(model, train, valid, epochs=1, lr=1e-2, seed=0, progress=False)
        assert np.isfinite(result.best_val_perplexity)
        assert lm.generate(model, ["the cat", "a"], 5, seed=0)[0].tokens
