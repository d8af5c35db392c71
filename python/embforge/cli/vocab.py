"""`embforge vocab`: count a corpus's words to a 'word count' file.

Under torchrun each rank counts its share of the files and the counts are
merged (distributed/corpus_share.py): the file rank 0 writes is the one a
single process writes."""
from __future__ import annotations

import argparse
import time

from .._checks import parse_memory
from ..corpus_threads import count_words
from .common import join_job

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
                   help="memory budget for the table of distinct words, e.g. 4GB (default 1GB; "
                        "each thread's table is held to it)")
    p.add_argument("--temp-dir", default=None,
                   help="accepted for compatibility: words are counted without keeping the "
                        "encoded text, so nothing spills")
    p.add_argument("--threads", type=int, default=None,
                   help="counting threads (default: all cores, divided among torchrun's processes on this machine); the counts are the same for any")
    p.set_defaults(run=run_vocab)


def run_vocab(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    job = join_job("cpu")
    # Counting alone: a vocabulary file needs no id stream, and not writing
    # one saves a store per token and the pass that remaps it.
    if job.world_size > 1:
        from ..distributed.corpus_share import count_share
        vocab, raw_tokens, dropped = count_share(args.corpus, job.group, min_count=args.min_count,
                                                 max_vocab_size=args.max_vocab,
                                                 vocab_memory=parse_memory(args.memory),
                                                 workers=args.threads)
    else:
        vocab, raw_tokens, dropped = count_words(args.corpus, min_count=args.min_count,
                                                 max_vocab_size=args.max_vocab,
                                                 workers=args.threads,
                                                 vocab_memory=parse_memory(args.memory))
    if job.writes:
        vocab.save(args.output)
    ranks = f" ({job.world_size} processes)" if job.world_size > 1 else ""
    job.say(f"{len(vocab)} words from {raw_tokens} tokens ({dropped} out of vocabulary) in "
            f"{time.perf_counter() - start:.2f}s{ranks} -> {args.output}")
    return 0
