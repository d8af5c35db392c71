"""`embforge cooccur`: count a corpus's co-occurrence matrix to a file."""
from __future__ import annotations

import argparse
from typing import Any, Dict

from ..backends import get_backend
from ..cooccurrence import cooccurrence
from ..cooccurrence_count import cooccurrence_to_glove
from ..vocab import Vocabulary
from .common import Job, corpus_arg, join_job

__all__ = ["add_cooccur_parser", "run_cooccur"]


def add_cooccur_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = subparsers.add_parser(
        "cooccur", help="count word-word co-occurrences (GloVe's cooccur)",
        description="Count the co-occurrence matrix of CORPUS and write it to OUTPUT: GloVe's "
                    "binary records when OUTPUT ends in .bin (read by glove.c; write the "
                    "vocabulary with --vocab-out), else embforge's own format (.npz).")
    p.add_argument("corpus", nargs="+", help="corpus file(s): text, .gz, .bz2 or .xz")
    p.add_argument("-o", "--output", required=True, help="file to write")
    p.add_argument("--vocab", default=None, help="use this 'word count' vocabulary file")
    p.add_argument("--vocab-out", default=None, help="also write the vocabulary here")
    p.add_argument("--min-count", type=int, default=5, help="ignore rarer words (default 5)")
    p.add_argument("--max-vocab", type=int, default=None, help="keep at most this many words")
    p.add_argument("--window", type=int, default=15, help="context window (default 15)")
    p.add_argument("--asymmetric", action="store_true", help="left context only (-symmetric 0)")
    p.add_argument("--no-distance-weighting", action="store_true", help="add 1, not 1/distance")
    p.add_argument("--memory", default="1GB", help="memory budget, e.g. 4GB (default 1GB)")
    p.add_argument("--temp-dir", default=None, help="where runs spill (default: system temp)")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores, divided among the processes torchrun started on this machine)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_cooccur)


def run_cooccur(args: argparse.Namespace) -> int:
    job = join_job(args.device)
    vocab = Vocabulary.load(args.vocab) if args.vocab else None
    glove_binary = args.output.endswith(".bin")
    if glove_binary and job.world_size == 1 and get_backend(args.device).counts_to_file:
        # straight to glove.c's file: the matrix is never held in memory
        written = cooccurrence_to_glove(
            corpus_arg(args.corpus), args.output, vocab, vocab_path=args.vocab_out,
            window=args.window, symmetric=not args.asymmetric,
            distance_weighting=not args.no_distance_weighting, min_count=args.min_count,
            max_vocab_size=args.max_vocab, workers=args.threads, memory=args.memory,
            temp_dir=args.temp_dir, progress=False if args.quiet else None, device=args.device)
        _report(job, written.nnz, len(written.vocab), written.stats, args)
        return 0
    # Where the device can (the CPU, one process), the counts stream straight
    # into the .npz file (path=); otherwise (a GPU, a torchrun job's
    # partitions) the matrix is held in memory and saved after: a job's by
    # rank 0, fetching it from the ranks a piece at a time.
    to_file = (not glove_binary and job.world_size == 1
               and get_backend(args.device).counts_to_file)
    matrix = cooccurrence(corpus_arg(args.corpus), vocab, window=args.window,
                          symmetric=not args.asymmetric,
                          distance_weighting=not args.no_distance_weighting,
                          min_count=args.min_count, max_vocab_size=args.max_vocab,
                          workers=args.threads, memory=args.memory, temp_dir=args.temp_dir,
                          device=args.device, progress=False if args.quiet else None,
                          path=args.output if to_file else None, process_group=job.group)
    s = matrix.stats
    nnz = sum(job.all_gather(matrix.nnz))  # a partition a rank under torchrun
    if glove_binary:
        matrix.save_glove_binary(args.output)  # every rank: rank 0 writes
    elif not to_file:
        matrix.save(args.output)
    if not job.writes:
        return 0
    if args.vocab_out:
        matrix.vocab.save(args.vocab_out)
    _report(job, nnz, len(matrix.vocab), s, args)
    return 0


def _report(job: Job, nnz: int, words: int, stats: Dict[str, Any], args: argparse.Namespace) -> None:
    ranks = f", {job.world_size} processes" if job.world_size > 1 else ""
    job.say(f"{nnz} nonzeros, {words} words, "
            f"{stats['raw_tokens'] * job.world_size / stats['seconds'] / 1e6:.2f}M tokens/s{ranks} "
            f"({stats['spilled_runs']} runs spilled) -> {args.output}")
