"""`embforge train`: skip-gram or CBOW (Word2Vec), FastText and GloVe, corpus to vectors.

The two families share the general options (size, window, epochs, ...) and
each has its own group. `--alpha` is Word2Vec's learning rate only: GloVe's
learning rate is `--eta` and its weighting exponent (glove.c's -alpha) is
`--weight-power`, so `--alpha` with `--model glove` is refused rather than
silently taken for one of them.
"""
from __future__ import annotations

import argparse
from typing import Any, cast

from ..cooccurrence import Cooccurrence
from ..corpus import encode
from ..fasttext import FastText
from ..glove import OUTPUTS, GloVe
from ..distributed.sync_schedule import (HOT_AVERAGE_MOMENTUM, HOT_AVERAGE_ROWS, HOT_SYNC_INTERVAL,
                                         HOT_SYNC_ROWS, MOMENTUM_PAST, SYNC_INTERVAL)
from ..word2vec import Word2Vec
from .common import corpus_arg, join_job, save_vectors
from .resume import add_checkpoint_arguments, check_same_vocabulary, plan_checkpoint
from ..keyedvectors import KeyedVectors

__all__ = ["add_train_parser", "run_train", "train_word2vec", "train_fasttext", "train_glove"]

FASTTEXT_MODELS = ("fasttext-sg", "fasttext-cbow")


def add_train_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("train", help="train word vectors (skip-gram, CBOW, FastText or GloVe)",
                       description="Train word vectors on CORPUS and write them to OUTPUT "
                                   "(.bin: word2vec binary, or fastText's model for fasttext-*; "
                                   ".kv: embforge; else word2vec text, which keeps no n-grams).")
    p.add_argument("corpus", nargs="+", help="corpus file(s): text, .gz, .bz2 or .xz")
    p.add_argument("-o", "--output", required=True, help="vectors file to write")
    p.add_argument("--model", choices=["sgns", "cbow", *FASTTEXT_MODELS, "glove"], default="sgns",
                   help="sgns: skip-gram, cbow: CBOW (both with negative sampling), "
                        "fasttext-sg/fasttext-cbow: the same with character n-grams (vectors "
                        "for unseen words), glove: GloVe")
    p.add_argument("--size", type=int, default=100, help="vector size (default 100)")
    p.add_argument("--window", type=int, default=None,
                   help="context window (default 5; 15 for glove)")
    p.add_argument("--epochs", type=int, default=None, help="passes (default 5; 25 for glove)")
    p.add_argument("--min-count", type=int, default=5, help="ignore rarer words (default 5)")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores, divided among the processes torchrun started on this machine)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--save-model", default=None,
                   help="also save the full trainable model here (resume training later)")
    p.add_argument("--memory", default="1GB",
                   help="memory budget, e.g. 4GB (default 1GB): the encoded corpus is held in RAM "
                        "up to 1/16 of it, a larger one is memory-mapped from a deleted temporary "
                        "file; GloVe counts and trains within it (past it, CPU training goes out "
                        "of core; on a GPU it is the counting workspace)")
    p.add_argument("--temp-dir", default=None,
                   help="where temporary files go: the encoded corpus past its share of "
                        "--memory, GloVe's spilled runs and pair file (default: system temp)")
    add_checkpoint_arguments(p)
    p.add_argument("--sync-interval", type=int, default=None,
                   help="under torchrun: each rank's ids (Word2Vec) or pairs (GloVe, default "
                        "20M) trained between two combinations of the ranks' whole models "
                        "(GloVe in strata combines after each stratum, and only looks for a "
                        "stop every this many pairs). "
                        "Word2Vec combines its most frequent words' rows more often, in tiers "
                        "(--hot-sync-rows, --hot-sync-interval), and by default its whole "
                        "model only when a tier reaches it and at each epoch's end (every "
                        f"{SYNC_INTERVAL:,} ids without tiers)")
    p.add_argument("--hot-sync-rows", type=int, default=HOT_SYNC_ROWS,
                   help="under torchrun, Word2Vec: the most frequent words' rows combined every "
                        "--hot-sync-interval ids, twice as many every second time, and so on "
                        f"(default {HOT_SYNC_ROWS}; 0: whole models only)")
    p.add_argument("--hot-sync-interval", type=int, default=None,
                   help="under torchrun, Word2Vec: each rank's ids between two combinations of "
                        f"the --hot-sync-rows rows (default {HOT_SYNC_INTERVAL} for 2 processes, "
                        f"{HOT_SYNC_INTERVAL} x (2/N)^2 for N: more processes need more "
                        "frequent syncs)")
    p.add_argument("--hot-average-rows", type=int, default=None,
                   help="under torchrun, Word2Vec with --combine sum: the most frequent words' "
                        "rows whose changes are averaged over the ranks, not added (default "
                        f"{HOT_AVERAGE_ROWS} up to 4 processes, {HOT_AVERAGE_ROWS} x N/4 for N; "
                        "at most 1/256 of the vocabulary; 0: add every row's)")
    p.add_argument("--hot-average-momentum", type=float, default=None,
                   help="under torchrun, Word2Vec: the averaged rows move by a velocity that "
                        "keeps this much of its last value, building up moves the ranks agree "
                        f"on (default {HOT_AVERAGE_MOMENTUM} past {MOMENTUM_PAST} processes, 0 "
                        "up to them: the mean alone)")
    p.add_argument("--sync-dtype", choices=["float32", "float16"], default="float32",
                   help="under torchrun, Word2Vec and GloVe --no-stratify: the type each "
                        "rank's summed changes travel as (float16: half their bytes, the same "
                        "quality on the bench corpus; for links between nodes; GloVe's strata "
                        "sum none: their rows go as they are)")
    p.add_argument("--no-stratify", action="store_true",
                   help="under torchrun, GloVe: let every rank train all its pairs between "
                        "syncs (each --sync-interval pairs) instead of one stratum of the "
                        "context words at a time, synced after each: fewer waits for the "
                        "slowest rank, at a cost curve that lags one process's")
    p.add_argument("--combine", choices=["sum", "average"], default="sum",
                   help="under torchrun, Word2Vec: add every rank's change (sum, default) or "
                        "average the ranks' models")
    _add_word2vec_arguments(p.add_argument_group("skip-gram / CBOW"))
    _add_fasttext_arguments(p.add_argument_group("FastText"))
    _add_glove_arguments(p.add_argument_group("GloVe"))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_train)


def _add_word2vec_arguments(group: "argparse._ArgumentGroup") -> None:
    group.add_argument("--negative", type=int, default=5, help="noise words per pair (default 5)")
    group.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold (default 1e-3)")
    group.add_argument("--alpha", type=float, default=None,
                       help="initial learning rate (default 0.025 sgns, 0.05 cbow); "
                            "GloVe takes --eta and --weight-power instead")


def _add_fasttext_arguments(group: "argparse._ArgumentGroup") -> None:
    group.add_argument("--min-n", type=int, default=3,
                       help="FastText: shortest character n-gram, < > markers included (default 3)")
    group.add_argument("--max-n", type=int, default=6, help="FastText: longest n-gram (default 6)")
    group.add_argument("--bucket", type=int, default=2_000_000,
                       help="FastText: n-gram rows (default 2000000; bucket x size floats are "
                            "allocated up front)")


def _add_glove_arguments(group: "argparse._ArgumentGroup") -> None:
    group.add_argument("--x-max", type=float, default=100.0,
                       help="GloVe: weighting cutoff x_max (default 100)")
    group.add_argument("--weight-power", type=float, default=0.75,
                       help="GloVe: exponent of the weighting f(x) (glove.c -alpha; default 0.75)")
    group.add_argument("--eta", type=float, default=0.05,
                       help="GloVe: learning rate (glove.c -eta; default 0.05)")
    group.add_argument("--grad-clip", type=float, default=100.0,
                       help="GloVe: gradient clipping (default 100)")
    group.add_argument("--asymmetric", action="store_true", help="GloVe: count left contexts only")
    group.add_argument("--no-distance-weighting", action="store_true",
                       help="GloVe: count 1 per pair, not 1/distance")
    group.add_argument("--vectors", choices=OUTPUTS, default="sum",
                       help="GloVe: write main+context (sum, glove.c -model 2), main or context")
    group.add_argument("--cooccurrence", default=None,
                       help="GloVe: train on this saved matrix (Cooccurrence.save) instead of "
                            "counting the corpus")
    group.add_argument("--save-cooccurrence", default=None,
                       help="GloVe: also save the counted matrix (.bin: GloVe binary)")


def run_train(args: argparse.Namespace) -> int:
    if args.model == "glove":
        if args.alpha is not None:
            raise ValueError(
                f"--alpha {args.alpha}: --alpha is the skip-gram/CBOW learning rate; for GloVe "
                "give --eta (learning rate) or --weight-power (weighting exponent, glove.c's -alpha)")
        return train_glove(args)
    if args.model in FASTTEXT_MODELS:
        return train_fasttext(args)
    return train_word2vec(args)


def train_word2vec(args: argparse.Namespace) -> int:
    """`embforge train --model sgns|cbow`: train, write vectors (and the model)."""
    if args.no_stratify:
        raise ValueError(f"--no-stratify is for --model glove, not {args.model}")
    job = join_job(args.device)
    fresh = Word2Vec(sg=int(args.model == "sgns"), vector_size=args.size, window=args.window or 5,
                     epochs=args.epochs or 5, min_count=args.min_count, workers=args.threads,
                     negative=args.negative, sample=args.sample, alpha=args.alpha, seed=args.seed,
                     device=args.device, progress=False if args.quiet else None,
                     process_group=job.group, sync_interval=args.sync_interval,
                     hot_sync_rows=args.hot_sync_rows, hot_sync_interval=args.hot_sync_interval,
                     hot_average_rows=args.hot_average_rows,
                     hot_average_momentum=args.hot_average_momentum, sync_dtype=args.sync_dtype,
                     combine=args.combine, memory=args.memory, temp_dir=args.temp_dir)
    source = corpus_arg(args.corpus)
    plan = plan_checkpoint(args, fresh, args.corpus, job)
    resumed, model = plan.resumed, plan.model
    model.callbacks = plan.callbacks
    if resumed is None:
        model.fit(source)
    else:
        # encoded as the checkpointed run's build_vocab did, so the ids are the same
        corpus = encode(source, min_count=model.min_count, max_vocab_size=model.max_vocab_size,
                        max_sentence_length=model.max_sentence_length, process_group=job.group,
                        **model.stream_options())
        check_same_vocabulary(resumed, model, corpus.vocab)
        if resumed.remaining_epochs:
            model.train(corpus, **resumed.train_arguments())
    return _finish(job, model, args, f"{model.words_per_second / 1e6:.2f}M words/s")


def train_fasttext(args: argparse.Namespace) -> int:
    """`embforge train --model fasttext-sg|fasttext-cbow`: train (or resume a
    checkpointed run), write the model (.bin: fastText's format, n-grams kept)
    or its vectors."""
    if args.sync_interval is not None or args.sync_dtype != "float32" or args.no_stratify:
        option = ("--sync-interval" if args.sync_interval is not None else
                  "--sync-dtype" if args.sync_dtype != "float32" else "--no-stratify")
        raise ValueError(f"{option} is not available for {args.model}: FastText "
                         "trains in one process")
    job = join_job(args.device)
    if job.world_size > 1:
        raise ValueError(f"{args.model} trains in one process: run it without torchrun")
    fresh = FastText(sg=int(args.model == "fasttext-sg"), vector_size=args.size,
                     window=args.window or 5, epochs=args.epochs or 5, min_count=args.min_count,
                     workers=args.threads, negative=args.negative, sample=args.sample,
                     alpha=args.alpha, seed=args.seed, device=args.device,
                     progress=False if args.quiet else None, min_n=args.min_n,
                     max_n=args.max_n, bucket=args.bucket)
    plan = plan_checkpoint(args, fresh, args.corpus, job)
    resumed, model = plan.resumed, plan.model
    model.callbacks = plan.callbacks
    source = corpus_arg(args.corpus)
    if resumed is None:
        model.fit(source)
    else:
        # encoded as the checkpointed run's build_vocab did, so the ids are the same
        corpus = encode(source, min_count=model.min_count, max_vocab_size=model.max_vocab_size,
                        max_sentence_length=model.max_sentence_length, **model.stream_options())
        check_same_vocabulary(resumed, model, corpus.vocab)
        if resumed.remaining_epochs:
            model.train(corpus, **resumed.train_arguments())
    if args.output.endswith(".bin"):
        model.save_facebook_model(args.output)
    else:
        save_vectors(model.wv, args.output)
    if args.save_model:
        model.save(args.save_model)
    state = "stopped early (Ctrl-C); vectors saved so far" if model.interrupted else "done"
    job.say(f"{state}: {len(cast('KeyedVectors', model.wv))} words + {model.bucket} n-gram buckets x "
            f"{model.vector_size}, {model.words_per_second / 1e6:.2f}M words/s -> {args.output}")
    return 130 if model.interrupted else 0


def _finish(job: Any, model: Any, args: argparse.Namespace, speed: str, extra: str = "") -> int:
    """Writes the vectors (and the model) once, says how it went; the exit code."""
    if job.writes:  # every rank holds the same vectors: one writes them
        save_vectors(model.wv, args.output)
        if args.save_model:
            model.save(args.save_model)
    state = "stopped early (Ctrl-C); vectors saved so far" if model.interrupted else "done"
    ranks = f" ({job.world_size} processes)" if job.world_size > 1 else ""
    job.say(f"{state}: {len(cast('KeyedVectors', model.wv))} words x {model.vector_size}, {speed}{ranks}{extra} "
            f"-> {args.output}")
    return 130 if model.interrupted else 0


def train_glove(args: argparse.Namespace) -> int:
    """`embforge train --model glove`: count (or load the matrix), train, write vectors."""
    job = join_job(args.device)
    fresh = GloVe(vector_size=args.size, window=args.window or 15, epochs=args.epochs or 25,
                  min_count=args.min_count, workers=args.threads, seed=args.seed,
                  x_max=args.x_max, alpha=args.weight_power, learning_rate=args.eta,
                  grad_clip=args.grad_clip, memory=args.memory, temp_dir=args.temp_dir,
                  symmetric=not args.asymmetric, distance_weighting=not args.no_distance_weighting,
                  output_vectors=args.vectors, device=args.device,
                  progress=False if args.quiet else None, process_group=job.group,
                  sync_interval=args.sync_interval or 20_000_000, sync_dtype=args.sync_dtype,
                  stratify=not args.no_stratify)
    data_files = args.corpus + ([args.cooccurrence] if args.cooccurrence else [])
    plan = plan_checkpoint(args, fresh, data_files, job)
    resumed, model = plan.resumed, plan.model
    model.callbacks = plan.callbacks
    if args.cooccurrence:
        matrix = Cooccurrence.load(args.cooccurrence, mmap=True)  # CPU: trained out of core
    else:
        # the fresh model counts with a vocabulary built from the corpus, as
        # the checkpointed run did; a resume then compares the two
        matrix = fresh.count(corpus_arg(args.corpus))
    if resumed is not None:
        check_same_vocabulary(resumed, model, matrix.vocab)
    # a distributed count's partitions: every rank calls save, rank 0 writes
    if args.save_cooccurrence and (matrix.partition is not None or job.writes):
        if args.save_cooccurrence.endswith(".bin"):
            matrix.save_glove_binary(args.save_cooccurrence)
        else:
            matrix.save(args.save_cooccurrence)
    if resumed is None:
        model.fit(matrix)
    elif resumed.remaining_epochs:
        model.fit(matrix, **resumed.train_arguments())
    cost = f", cost {model.cost_history[-1]:.4f}" if model.cost_history else ""
    pairs = sum(job.all_gather(matrix.nnz))  # a distributed count holds a partition a rank
    return _finish(job, model, args, f"{pairs} pairs, "
                   f"{model.pairs_per_second / 1e6:.2f}M pair-updates/s", cost)
