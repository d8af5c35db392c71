"""`embforge chat`: talk to a language model written by `embforge lm train`.

Reads a line from stdin, prints the model's answer (a continuation of a
simple question/answer template over the last few exchanges), until end of
input."""
from __future__ import annotations

import argparse
import sys

from .common import say
from .lm import add_sampling_options, load_model_arg, sampling

__all__ = ["add_chat_parser", "run_chat"]


def add_chat_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]"
                    ) -> argparse.ArgumentParser:
    p = subparsers.add_parser("chat", help="talk to a language model (reads lines from stdin)",
                              description="An interactive loop: each line read is answered by the "
                                          "model continuing a question/answer template; the last "
                                          "--history exchanges are kept; end of input (Ctrl-D) ends it.")
    p.add_argument("model", help="directory written by 'embforge lm train'")
    p.add_argument("--history", type=int, default=3, help="exchanges kept in the prompt")
    add_sampling_options(p, max_new_tokens=None)
    p.set_defaults(run=run_chat)
    return p


def run_chat(args: argparse.Namespace) -> int:
    from ..lm import Dialogue
    model = load_model_arg(args.model, args.device)
    # the default leaves two thirds of the context to the question and the history
    longest = args.max_new_tokens or max(1, min(30, model.context // 3))
    dialogue = Dialogue(model, history=args.history, max_new_tokens=longest,
                        seed=args.seed, **sampling(args))
    interactive = sys.stdin.isatty()
    if interactive:
        say(f"embforge chat: {len(model.tokenizer)} tokens, context {model.context}; Ctrl-D ends")
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:            # end of input
            if interactive:
                print()
            return 0
        if not line.strip():
            continue
        answer = dialogue.reply(line.strip())
        if answer.unknown:
            say(f"({answer.unknown} word(s) not in the vocabulary, read as <unk>)")
        print(answer.text or "...", flush=True)
