"""`embforge finetune`: fine-tune a transformer classifier that starts from
trained vectors, on labelled TSV files, and report test accuracy."""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ..finetune import encode_labels, load_tsv
from ..keyedvectors import KeyedVectors
from ..backends.arrays import same_device
from .common import load_vectors, say

__all__ = ["add_finetune_parser", "run_finetune"]


def add_finetune_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]"
                        ) -> argparse.ArgumentParser:
    """Adds ``embforge finetune`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "finetune", help="fine-tune a transformer classifier that starts from trained vectors",
        description="Fine-tunes a small transformer text classifier whose embedding starts from "
                    "word vectors, on TSV files with a 'label<TAB>text' header, and reports "
                    "test accuracy.")
    p.add_argument("--vectors", required=True,
                   help="vectors: .kv (embforge), .bin (word2vec binary), else word2vec/GloVe text")
    p.add_argument("--binary", action="store_true",
                   help="read the vectors as binary word2vec whatever their extension")
    p.add_argument("--train", required=True, help="training TSV (label<TAB>text header)")
    p.add_argument("--test", required=True, help="test TSV, scored after training")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the training rows held out for early stopping (0: none)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="share of steps of linear warm-up")
    p.add_argument("--patience", type=int, default=3, help="epochs without improvement before stopping")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=None,
                   help="attention heads, must divide the vector size (default: 4, else 5, 2, 3 or 1)")
    p.add_argument("--ff-dim", type=int, default=None, help="feed-forward width (default: 2 x vector size)")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max-length", type=int, default=128, help="tokens kept per text")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--freeze-embedding", action="store_true", help="train all but the embedding")
    what.add_argument("--train-last-layers", type=int, default=None, metavar="K",
                      help="train only the last K encoder layers and the head")
    p.add_argument("--random-init", action="store_true",
                   help="baseline: same vocabulary, random embedding instead of the vectors")
    p.add_argument("--skip-empty", action="store_true", help="drop rows with an empty text")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="write the fine-tuned classifier here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_finetune, func=run_finetune)
    return p


def _split(texts: Any, labels: Any, fraction: float, seed: int) -> Any:
    """Stratified hold-out of `fraction` of the rows (at least one per class
    with 2+ rows)."""
    if not fraction:
        return (texts, labels), (None, None)
    if not 0 < fraction < 1:
        raise ValueError(f"--val-fraction must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for label in sorted(set(labels)):
        rows = [i for i, l in enumerate(labels) if l == label]
        if len(rows) > 1:
            held.extend(rng.permutation(rows)[:max(1, int(round(fraction * len(rows))))].tolist())
    held_set = set(held)
    keep = [i for i in range(len(texts)) if i not in held_set]
    return ([texts[i] for i in keep], [labels[i] for i in keep]), \
        ([texts[i] for i in held], [labels[i] for i in held])


def run_finetune(args: argparse.Namespace) -> int:
    """Runs ``embforge finetune``; returns the exit status."""
    train_texts, train_labels = load_tsv(args.train, skip_empty=args.skip_empty)
    test_texts, test_labels = load_tsv(args.test, skip_empty=args.skip_empty)
    labels = sorted(set(train_labels))
    encode_labels(test_labels, labels, f"{args.test}")  # unseen test labels: fail before training
    # the parts that need torch, imported when the command runs: `embforge --help` works without it
    from ..finetune import evaluate, finetune, save_classifier
    kv = (KeyedVectors.load_word2vec_format(args.vectors, binary=True) if args.binary
          else load_vectors(args.vectors))
    (fit_texts, fit_labels), (val_texts, val_labels) = _split(train_texts, train_labels,
                                                             args.val_fraction, args.seed)
    model = _classifier_from_args(kv, labels, args)
    print(f"{len(kv)} vectors of {kv.vector_size} dims; {len(labels)} classes; "
          f"{len(fit_texts)} training rows, {len(val_texts or [])} validation, {len(test_texts)} test; "
          f"unknown words in test: {model.tokenizer.unknown_rate(test_texts):.1%}")
    result = finetune(model, fit_texts, fit_labels, val_texts, val_labels, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                      warmup=args.warmup, patience=args.patience,
                      freeze_embedding=args.freeze_embedding,
                      train_last_layers=args.train_last_layers, seed=args.seed,
                      progress=not args.quiet)
    if result.interrupted:
        kept = f"epoch {result.best_epoch}'s weights" if result.best_epoch else "the weights so far"
        saved = ""
        if args.save:
            save_classifier(model, args.save)
            saved = f", saved to {args.save}"
        say(f"embforge finetune: stopped early (Ctrl-C) after {len(result.history)} whole "
            f"epoch(s); kept {kept}{saved}; the test set was not scored")
        return 130
    scores = evaluate(model, test_texts, test_labels)
    print(f"trained {len(result.history)} epoch(s) in {result.seconds:.1f}s, best epoch "
          f"{result.best_epoch}; {result.trainable_parameters} trainable parameters")
    print(f"test accuracy {scores['accuracy']:.4f}  loss {scores['loss']:.4f}  (n={scores['n']})")
    if args.save:
        save_classifier(model, args.save)
        print(f"saved {args.save}")
    return 0


def _classifier_from_args(kv: Any, labels: Any, args: argparse.Namespace) -> Any:
    """The classifier the CLI options describe (the loaded vectors are private: copy=False)."""
    from ..finetune import TextClassifier
    return TextClassifier.from_vectors(
        kv, labels, device=args.device, copy=not same_device(args.device, getattr(kv, "device", "cpu")),
        init="random" if args.random_init else "vectors", seed=args.seed,
        num_layers=args.layers, ff_dim=args.ff_dim,
        num_heads=args.heads or next(h for h in (4, 5, 2, 3, 1) if kv.vector_size % h == 0), dropout=args.dropout,
        max_length=args.max_length)
