"""A dialogue with a language model: each user line is answered by
continuing a simple template over a bounded history (no retrieval)."""
from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, cast

from .generation import Completion, generate

if TYPE_CHECKING:
    pass

__all__ = ["Dialogue"]


class Dialogue:
    """``reply(line)`` continues ``<user> line <bot>`` after the last
    `history` exchanges, up to <eos> or `max_new_tokens`.

    The prompt is the template's words (default "question" / "answer":
    ordinary words, so a model fine-tuned on plain text has vectors for
    them), oldest exchanges dropped first when it would not leave room for
    the answer in the model's context.
    """

    def __init__(self, model: Any, *, history: int = 3, max_new_tokens: int = 30,
                 user: str = "question", bot: str = "answer", temperature: float = 0.8,
                 top_k: Optional[int] = 40, top_p: Optional[float] = 0.95,
                 seed: Optional[int] = None) -> None:
        if history < 0:
            raise ValueError(f"history must be >= 0 exchanges, got {history}")
        if not 1 <= max_new_tokens < model.context - 2:
            raise ValueError(f"max_new_tokens must be in 1..{model.context - 3} for a context of "
                             f"{model.context}, got {max_new_tokens}")
        self.model, self.user, self.bot = model, user, bot
        # a full deque drops its oldest exchange
        self.history: Deque[List[str]] = deque(maxlen=history)
        self.options: Dict[str, Any] = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                            top_p=top_p, banned=[model.tokenizer.unk_id])
        self.seed = seed
        self.turns = 0

    def prompt(self, line: str) -> str:
        """The text the model continues for `line`, history trimmed to fit."""
        words = line.split()
        if not words:
            raise ValueError("an empty line: say something")
        room = self.model.context - 1 - self.options["max_new_tokens"]
        current = [self.user, *words, self.bot]
        if len(current) > room:   # an over-long line keeps its end
            current = [self.user, *words[-(room - 2):], self.bot] if room > 2 else current[-room:]
        kept: List[List[str]] = []
        for exchange in reversed(self.history):
            if len(exchange) + len(current) + sum(map(len, kept)) > room:
                break
            kept.insert(0, exchange)
        return " ".join([word for exchange in kept for word in exchange] + current)

    def reply(self, line: str) -> Completion:
        prompt = self.prompt(line)
        seed = None if self.seed is None else self.seed + self.turns
        # one str prompt: one Completion
        answer = cast("Completion", generate(self.model, prompt, seed=seed, **self.options))
        self.turns += 1
        self.history.append([self.user, *line.split(), self.bot,
                             *answer.text.split()])
        return answer
