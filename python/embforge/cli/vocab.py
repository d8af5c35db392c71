"""`embforge vocab`: count a corpus's words to a 'word count' file."""
from __future__ import annotations

import argparse
import time
from typing import Any

from ..corpus import encode, stream_memory
from .common import corpus_arg, say

__all__ = ["add_vocab_parser", "run_vocab"]


def add_vocab_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("vocab", help="count words and write a 'word count' vocabulary",
                       description="Count the words of CORPUS (text, .gz, .bz2 or .xz; one sentence "
                                   "a line) and write them, most frequent first, as GloVe's "
                                   "'word count' lines.")
    p.add_argument("corpus", nargs="+", help="corpus file(s)")
    p.add_argument("-o", "--output", required=True, help="vocabulary file to write")
    p.add_argument("--min-count", type=int, default=5, help="keep words seen this often (default 5)")
    p.add_argument("--max-vocab", type=int, default=None, help="keep at most this many words")
    p.add_argument("--memory", default="1GB",
                   help="memory budget for the table of distinct words and the encoded text, "
                        "e.g. 4GB (default 1GB)")
    p.add_argument("--temp-dir", default=None, help="where the encoded text spills (default: "
                                                    "system temp)")
    p.set_defaults(run=run_vocab)


def run_vocab(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    corpus = encode(corpus_arg(args.corpus), min_count=args.min_count, max_vocab_size=args.max_vocab,
                    memory=stream_memory(args.memory), temp_dir=args.temp_dir,
                    vocab_memory=args.memory)
    corpus.vocab.save(args.output)
    say(f"{len(corpus.vocab)} words from {corpus.raw_tokens} tokens "
        f"({corpus.dropped_tokens} out of vocabulary) in {time.perf_counter() - start:.2f}s "
        f"-> {args.output}")
    return 0
