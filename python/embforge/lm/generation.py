"""Text generation with a :class:`DecoderLM`: sampling (temperature, top-k,
top-p) or greedy, a key/value cache so each new token costs one position
(not a recomputation of the prefix), batched prompts, stopping at <eos>."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Union, cast

from ..torch_bridge import require_torch

if TYPE_CHECKING:
    pass

torch = require_torch()

__all__ = ["Completion", "generate", "encode_prompts"]


@dataclass
class Completion:
    """One prompt's continuation."""
    text: str                 # the new words, space-separated (specials left out)
    tokens: List[int]         # the new ids, up to and including <eos> if it came
    prompt_tokens: int        # ids the prompt became (with its <bos>)
    unknown: int              # prompt words not in the vocabulary (read as <unk>)
    stopped: str              # "eos", "length" (max_new_tokens) or "context" (the model's limit)


def encode_prompts(model: Any, prompts: Sequence[str]) -> Any:
    """``[<bos> + ids]`` per prompt, and the unknown-word count of each."""
    tokenizer = model.tokenizer
    encoded, unknown = [], []
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise ValueError(f"prompt {i} must be a str, got {type(prompt).__name__}")
        ids = tokenizer.encode(prompt, max_length=None)
        if not ids:
            raise ValueError(f"prompt {i} is empty ({prompt!r}): give at least one word")
        if len(ids) + 1 >= model.context:
            raise ValueError(f"prompt {i} has {len(ids)} words, too long for the model's context of "
                             f"{model.context} tokens (it needs room for <bos> and one new token); "
                             "shorten it")
        encoded.append([model.bos_id] + ids)
        unknown.append(sum(1 for t in ids if t == tokenizer.unk_id))
    return encoded, unknown


def _filter(logits: Any, temperature: float, top_k: Optional[int], top_p: Optional[float]) -> Any:
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        # drop a token once the ones before it already reach top_p (the first always stays)
        drop = (cumulative - ordered.softmax(dim=-1)) >= top_p
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return logits


def generate(model: Any, prompts: Union[str, Sequence[str]], max_new_tokens: int = 50, *,
             temperature: float = 1.0, top_k: Optional[int] = None, top_p: Optional[float] = None,
             seed: Optional[int] = None, use_cache: bool = True, stop_at_eos: bool = True,
             banned: Sequence[int] = ()) -> Union[Completion, List[Completion]]:
    """Continues each prompt by up to `max_new_tokens` tokens.

    ``temperature=0`` is greedy; otherwise sampling from the softmax at
    `temperature`, restricted to the `top_k` likeliest tokens and/or the
    smallest set whose probability reaches `top_p`. `seed` makes sampling
    repeatable (a generator on the model's device). Generation stops at
    <eos> (``stop_at_eos``), after `max_new_tokens`, or when the model's
    context is full. <pad> and <bos> are never produced, nor the ids in
    `banned` (e.g. ``[model.tokenizer.unk_id]``). ``use_cache=False``
    recomputes the whole sequence for every token (for checking the cache).

    Returns a :class:`Completion` for a str prompt, a list for a list.
    Prompt words outside the vocabulary become <unk> (counted in
    ``Completion.unknown``); an empty prompt, or one too long for the
    context, is a ValueError naming it.
    """
    single = isinstance(prompts, str)
    prompts = [cast("str", prompts)] if single else list(prompts)
    if not prompts:
        raise ValueError("no prompt given")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0: greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p}")
    encoded, unknown = encode_prompts(model, prompts)
    device = model.device
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(seed)
    else:
        generator.seed()
    longest = max(len(ids) for ids in encoded)
    steps = min(max_new_tokens, model.context - longest)
    ids = torch.full((len(encoded), longest), model.pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), longest), dtype=torch.long)
    for row, seq in enumerate(encoded):   # left padding: every prompt ends at the last column
        ids[row, longest - len(seq):] = torch.tensor(seq)
        mask[row, longest - len(seq):] = 1
    ids, mask = ids.to(device), mask.to(device)
    never = torch.tensor(sorted({model.pad_id, model.bos_id, *map(int, banned)}), device=device)
    done = torch.zeros(len(encoded), dtype=torch.bool, device=device)
    new = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        cache, step_ids = None, ids
        for _ in range(steps):
            if use_cache:
                logits, cache = model(step_ids, attention_mask=mask, past=cache, use_cache=True)
            else:
                logits = model(ids, attention_mask=mask)
            logits = logits[:, -1].float()
            logits[:, never] = float("-inf")
            if temperature == 0:
                token = logits.argmax(dim=-1)
            else:
                probs = _filter(logits, temperature, top_k, top_p).softmax(dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            token = torch.where(done, torch.full_like(token, model.pad_id), token)
            new.append(token)
            if stop_at_eos:
                done |= token == model.eos_id
            step_ids = token[:, None]
            ids = torch.cat([ids, step_ids], dim=1)
            mask = torch.cat([mask, (~done | (token == model.eos_id)).long()[:, None]], dim=1)
            if bool(done.all()):
                break
    model.train(was_training)
    out = _completions(model, new, encoded, unknown, steps, max_new_tokens, stop_at_eos)
    return out[0] if single else out


def _completions(model: Any, new: Any, encoded: Any, unknown: Any, steps: Any, max_new_tokens: Any,
                 stop_at_eos: Any) -> List[Completion]:
    tokenizer = model.tokenizer
    columns = torch.stack(new, dim=1).tolist() if new else [[] for _ in encoded]
    specials = {model.pad_id, model.bos_id, model.eos_id}
    out = []
    for row, tokens in enumerate(columns):
        kept = []
        for token in tokens:
            if token == model.pad_id:
                break
            kept.append(token)
            if token == model.eos_id and stop_at_eos:
                break
        if stop_at_eos and kept and kept[-1] == model.eos_id:
            stopped = "eos"
        else:
            stopped = "length" if steps == max_new_tokens else "context"
        words = [tokenizer.decode([t])[0] for t in kept if t not in specials]
        out.append(Completion(" ".join(words), kept, len(encoded[row]), unknown[row], stopped))
    return out
