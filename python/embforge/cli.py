"""The `embforge` command line: vocab, train, eval, similar, cooccur, finetune."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import List, Optional

__all__ = ["main", "load_vectors", "save_vectors"]


def load_vectors(path):
    """Reads vectors by extension: .kv (embforge), .bin (word2vec binary),
    anything else text (word2vec text with a header line, or GloVe without)."""
    from .io.word2vec_header import has_header
    from .keyedvectors import KeyedVectors
    path = os.fspath(path)
    if path.endswith(".kv"):
        return KeyedVectors.load(path)
    if path.endswith(".bin"):
        return KeyedVectors.load_word2vec_format(path, binary=True)
    return KeyedVectors.load_word2vec_format(path, binary=False, no_header=not has_header(path))


def save_vectors(wv, path) -> None:
    """Writes vectors in the format the extension names (see load_vectors)."""
    path = os.fspath(path)
    if path.endswith(".kv"):
        wv.save(path)
    else:
        wv.save_word2vec_format(path, binary=path.endswith(".bin"))


# ------------------------------------------------------------------ vocab
def _add_vocab(sub):
    p = sub.add_parser("vocab", help="count words and write a 'word count' vocabulary",
                       description="Count the words of CORPUS (text, .gz, .bz2 or .xz; one sentence "
                                   "a line) and write them, most frequent first, as GloVe's "
                                   "'word count' lines.")
    p.add_argument("corpus", nargs="+", help="corpus file(s)")
    p.add_argument("-o", "--output", required=True, help="vocabulary file to write")
    p.add_argument("--min-count", type=int, default=5, help="keep words seen this often (default 5)")
    p.add_argument("--max-vocab", type=int, default=None, help="keep at most this many words")
    p.set_defaults(run=_run_vocab)


def _run_vocab(args) -> int:
    from .corpus import encode
    start = time.perf_counter()
    corpus = encode(_corpus_arg(args.corpus), min_count=args.min_count, max_vocab_size=args.max_vocab)
    corpus.vocab.save(args.output)
    _say(f"{len(corpus.vocab)} words from {corpus.raw_tokens} tokens "
         f"({corpus.dropped_tokens} out of vocabulary) in {time.perf_counter() - start:.2f}s "
         f"-> {args.output}")
    return 0


# ------------------------------------------------------------------ train
def _add_train(sub):
    p = sub.add_parser("train", help="train word vectors (skip-gram, CBOW or GloVe)",
                       description="Train word vectors on CORPUS and write them to OUTPUT "
                                   "(.bin: word2vec binary, .kv: embforge, else word2vec text).")
    p.add_argument("corpus", nargs="+", help="corpus file(s): text, .gz, .bz2 or .xz")
    p.add_argument("-o", "--output", required=True, help="vectors file to write")
    p.add_argument("--model", choices=["sgns", "cbow", "glove"], default="sgns",
                   help="sgns: skip-gram, cbow: CBOW (both with negative sampling), glove: GloVe")
    p.add_argument("--size", type=int, default=100, help="vector size (default 100)")
    p.add_argument("--window", type=int, default=None,
                   help="context window (default 5; 15 for glove)")
    p.add_argument("--epochs", type=int, default=None, help="passes (default 5; 25 for glove)")
    p.add_argument("--min-count", type=int, default=5, help="ignore rarer words (default 5)")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all cores)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--seed", type=int, default=1)
    w2v = p.add_argument_group("skip-gram / CBOW")
    w2v.add_argument("--negative", type=int, default=5, help="noise words per pair (default 5)")
    w2v.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold (default 1e-3)")
    w2v.add_argument("--alpha", type=float, default=None,
                     help="initial learning rate (default 0.025 sgns, 0.05 cbow)")
    w2v.add_argument("--save-model", default=None,
                     help="also save the full trainable model here (resume training later)")
    try:
        from .glove import add_glove_train_arguments
        add_glove_train_arguments(p.add_argument_group("GloVe"))
    except ImportError:
        pass
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args) -> int:
    if args.model == "glove":
        from .glove import cli_train_glove
        return cli_train_glove(args)
    from .word2vec import Word2Vec
    model = Word2Vec(sg=int(args.model == "sgns"), vector_size=args.size, window=args.window or 5,
                     epochs=args.epochs or 5, min_count=args.min_count, workers=args.threads,
                     negative=args.negative, sample=args.sample, alpha=args.alpha, seed=args.seed,
                     device=args.device, progress=False if args.quiet else None)
    model.fit(_corpus_arg(args.corpus))
    save_vectors(model.wv, args.output)
    if args.save_model:
        model.save(args.save_model)
    state = "stopped early (Ctrl-C); vectors saved so far" if model.interrupted else "done"
    _say(f"{state}: {len(model.wv)} words x {model.vector_size}, "
         f"{model.words_per_second / 1e6:.2f}M words/s -> {args.output}")
    return 130 if model.interrupted else 0


# ------------------------------------------------------------------ eval / similar
def _add_eval(sub):
    p = sub.add_parser("eval", help="score vectors on analogies and word-pair similarity",
                       description="Analogy accuracy (3CosAdd over the --restrict most frequent "
                                   "words, OOV questions skipped) and Spearman's rho on word pairs.")
    p.add_argument("vectors", help="vectors file (.bin, .kv or text)")
    p.add_argument("--analogies", action="append", default=[],
                   help="questions-words style file (repeatable)")
    p.add_argument("--pairs", action="append", default=[],
                   help="word pairs with scores, e.g. wordsim353.tsv or simlex999.txt (repeatable)")
    p.add_argument("--restrict", type=int, default=30000,
                   help="analogies: search the N most frequent words (default 30000)")
    p.set_defaults(run=_run_eval)


def _run_eval(args) -> int:
    if not args.analogies and not args.pairs:
        raise SystemExit("embforge eval: give at least one --analogies or --pairs file")
    wv = load_vectors(args.vectors)
    _say(f"{args.vectors}: {len(wv)} words x {wv.vector_size}")
    for path in args.analogies:
        score, _ = wv.evaluate_word_analogies(path, restrict_vocab=args.restrict)
        _say(f"analogies  {os.path.basename(path)}: accuracy {score:.4f}")
    for path in args.pairs:
        delimiter = "\t" if path.endswith(".tsv") else None
        _, spearman, oov = (wv.evaluate_word_pairs(path, delimiter=delimiter) if delimiter
                            else wv.evaluate_word_pairs(path))
        _say(f"word pairs {os.path.basename(path)}: spearman {spearman[0]:.4f} (OOV {oov:.1f}%)")
    return 0


def _add_similar(sub):
    p = sub.add_parser("similar", help="print the nearest words to WORD",
                       description="Print the words whose vectors have the highest cosine "
                                   "similarity with WORD's.")
    p.add_argument("vectors", help="vectors file (.bin, .kv or text)")
    p.add_argument("word", nargs="+", help="query word(s); several are averaged")
    p.add_argument("-n", "--topn", type=int, default=10)
    p.set_defaults(run=_run_similar)


def _run_similar(args) -> int:
    wv = load_vectors(args.vectors)
    missing = [w for w in args.word if w not in wv]
    if missing:
        raise SystemExit(f"embforge similar: not in the vocabulary: {', '.join(missing)}")
    for word, score in wv.most_similar(positive=args.word, topn=args.topn):
        print(f"{score:.4f}  {word}")
    return 0


# ------------------------------------------------------------------ main
def _corpus_arg(paths: List[str]):
    return paths[0] if len(paths) == 1 else list(paths)


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embforge",
        description="Fast word-embedding training (skip-gram, CBOW, GloVe) on CPU threads and "
                    "CUDA GPUs. Run 'embforge COMMAND --help' for a command's options.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_vocab(sub)
    _add_train(sub)
    _add_eval(sub)
    _add_similar(sub)
    for module, adder in (("cooccurrence", "add_cooccur_parser"), ("finetune", "add_finetune_parser")):
        try:
            add = getattr(__import__(f"embforge.{module}", fromlist=[adder]), adder)
        except (ImportError, AttributeError):
            continue
        add(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (ValueError, OSError, RuntimeError, FloatingPointError) as error:
        _say(f"embforge {args.command}: error: {error}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
