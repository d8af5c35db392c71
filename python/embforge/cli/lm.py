"""`embforge lm train` (fine-tune a language model that starts from trained
vectors, on plain text) and `embforge lm generate` (continue prompts)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Optional

from .._typing import StrPath
from ..backends.arrays import same_device
from ..keyedvectors import KeyedVectors
from .common import load_vectors, say

__all__ = ["add_lm_parser", "run_lm_train", "run_lm_generate", "add_sampling_options"]


def add_sampling_options(p: argparse.ArgumentParser, max_new_tokens: Optional[int] = 30) -> None:
    p.add_argument("--max-new-tokens", type=int, default=max_new_tokens,
                   help=f"tokens generated at most (default: {max_new_tokens or 'a third of the context'})")
    p.add_argument("--temperature", type=float, default=0.8, help="0: greedy")
    p.add_argument("--top-k", type=int, default=40, help="sample among the K likeliest (0: all)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling threshold (1: off)")
    p.add_argument("--seed", type=int, default=None, help="repeatable sampling")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")


def sampling(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(temperature=args.temperature, top_k=args.top_k or None,
                top_p=None if args.top_p >= 1 else args.top_p)


def add_lm_parser(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]"
                  ) -> argparse.ArgumentParser:
    """Adds ``embforge lm train|generate``."""
    lm = subparsers.add_parser("lm", help="language model: train from vectors, generate",
                               description="A GPT-2-style language model whose token embedding "
                                           "starts from word vectors.")
    sub = lm.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    p = sub.add_parser("train", help="fine-tune a language model on plain text",
                       description="Fine-tunes a decoder-only language model whose embedding starts "
                                   "from word vectors on text files (a line is a text) and writes "
                                   "it to a directory.")
    p.add_argument("--vectors", required=True,
                   help="vectors: .kv (embforge), .bin (word2vec binary), else word2vec/GloVe text")
    p.add_argument("--binary", action="store_true", help="read the vectors as binary word2vec")
    p.add_argument("--train", required=True, nargs="+", help="text file(s), plain or compressed")
    p.add_argument("--valid", nargs="+", default=None,
                   help="held-out text scored after every epoch (default: --valid-fraction of --train)")
    p.add_argument("--valid-fraction", type=float, default=0.05,
                   help="share of the training lines held out when there is no --valid (0: none)")
    p.add_argument("-o", "--output", required=True, help="directory for model.safetensors")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="share of steps of linear warm-up")
    p.add_argument("--patience", type=int, default=2, help="epochs without a better held-out loss")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=None, help="attention heads (default: 4, else 2 or 1)")
    p.add_argument("--width", type=int, default=None,
                   help="model width (default: the vector size; another adds a projection)")
    p.add_argument("--ff-dim", type=int, default=None, help="feed-forward width (default: 4 x width)")
    p.add_argument("--context", type=int, default=128, help="tokens attended over")
    p.add_argument("--positions", choices=("learned", "sinusoidal"), default="learned")
    p.add_argument("--untied", action="store_true", help="an output layer of its own (default: the embedding)")
    p.add_argument("--dropout", type=float, default=0.1)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--freeze-embedding", action="store_true",
                      help="train all but the embedding (tied: the output layer is frozen with it)")
    what.add_argument("--train-last-layers", type=int, default=None, metavar="K",
                      help="train only the last K blocks and the final norm")
    p.add_argument("--random-init", action="store_true",
                   help="baseline: same vocabulary, random embedding instead of the vectors")
    p.add_argument("--max-lines", type=int, default=None, help="read at most this many training lines")
    p.add_argument("--checkpoint", default=None,
                   help="directory for the training state after every epoch (--resume continues it)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_lm_train)

    g = sub.add_parser("generate", help="continue prompts with a trained language model",
                       description="Continues each --prompt with a model written by 'embforge lm "
                                   "train'; one line per prompt on stdout.")
    g.add_argument("model", help="directory written by 'embforge lm train' (or its model.safetensors)")
    g.add_argument("--prompt", required=True, action="append", help="text to continue (repeatable)")
    add_sampling_options(g)
    g.set_defaults(run=run_lm_generate)
    return lm


def _split(texts: Any, fraction: float, seed: int) -> Any:
    if not fraction:
        return texts, None
    if not 0 < fraction < 1:
        raise ValueError(f"--valid-fraction must be in [0, 1), got {fraction}")
    if len(texts) < 2:
        raise ValueError(f"--valid-fraction needs at least 2 training lines, got {len(texts)}; "
                         "give --valid instead")
    import numpy as np
    held = set(np.random.default_rng(seed).permutation(len(texts))[:max(1, int(fraction * len(texts)))].tolist())
    return [t for i, t in enumerate(texts) if i not in held], [t for i, t in enumerate(texts) if i in held]


def run_lm_train(args: argparse.Namespace) -> int:
    """Runs ``embforge lm train``; returns the exit status."""
    from ..lm import encode_texts, read_texts
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint DIR (where the training state was written)")
    texts = read_texts(args.train, limit=args.max_lines)
    valid_texts = read_texts(args.valid) if args.valid else None
    if valid_texts is None:
        texts, valid_texts = _split(texts, args.valid_fraction, args.seed)
    # the parts that need torch, imported when the command runs
    from ..lm import DecoderLM, perplexity, save_lm, train_lm
    kv = (KeyedVectors.load_word2vec_format(args.vectors, binary=True) if args.binary
          else load_vectors(args.vectors))
    # the vectors read from the file belong to this command alone: sharing
    # their buffer saves a copy and changes nobody's vectors
    shared = same_device(args.device, getattr(kv, "device", "cpu")) and not args.random_init
    width = args.width or kv.vector_size
    model = DecoderLM.from_vectors(
        kv, share_vectors=shared, device=args.device, init="random" if args.random_init else "vectors",
        seed=args.seed, width=args.width, num_layers=args.layers, ff_dim=args.ff_dim,
        num_heads=args.heads or next(h for h in (4, 2, 1) if width % h == 0), dropout=args.dropout,
        context=args.context, positions=args.positions, tie=not args.untied)
    train = encode_texts(model.tokenizer, texts, model.bos_id, model.eos_id)
    valid = encode_texts(model.tokenizer, valid_texts, model.bos_id, model.eos_id) if valid_texts else None
    print(f"{len(kv)} vectors of {kv.vector_size} dims; {len(texts)} training lines "
          f"({train.words} words, {train.unknown_rate:.1%} unknown), "
          f"{len(valid_texts or [])} held-out lines"
          + (f" ({valid.words} words, {valid.unknown_rate:.1%} unknown)" if valid else ""))
    result = train_lm(model, train, valid, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      weight_decay=args.weight_decay, warmup=args.warmup, patience=args.patience,
                      freeze_embedding=args.freeze_embedding, train_last_layers=args.train_last_layers,
                      checkpoint_dir=args.checkpoint, resume=args.resume, seed=args.seed,
                      progress=not args.quiet)
    path = save_lm(model, args.output)
    if result.interrupted:
        kept = f"epoch {result.best_epoch}'s weights" if result.best_epoch else "the weights so far"
        say(f"embforge lm train: stopped early (Ctrl-C) after {len(result.history)} whole epoch(s); "
            f"kept {kept}, saved to {path}")
        return 130
    for row in result.history:
        held = f", held-out perplexity {row['val_perplexity']:.2f}" if "val_perplexity" in row else ""
        print(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}{held}")
    if valid is not None:
        scores = perplexity(model, valid, context=model.context, bos_id=model.bos_id)
        print(f"held-out perplexity {scores['perplexity']:.2f} over {scores['tokens']} tokens "
              f"({scores['unknown_rate']:.1%} of the words unknown), best epoch {result.best_epoch}")
    print(f"saved {path}")
    return 0


def load_model_arg(path: StrPath, device: str) -> Any:
    from ..lm import load_lm
    if not os.path.exists(path):
        raise ValueError(f"model {path!r} does not exist (a directory written by 'embforge lm train')")
    return load_lm(path, device=device)


def run_lm_generate(args: argparse.Namespace) -> int:
    """Runs ``embforge lm generate``; returns the exit status."""
    from ..lm import generate
    model = load_model_arg(args.model, args.device)
    completions = generate(model, args.prompt, args.max_new_tokens, seed=args.seed, **sampling(args))
    for prompt, completion in zip(args.prompt, completions):
        if completion.unknown:
            say(f"embforge lm generate: {completion.unknown} word(s) of {prompt!r} are not in the "
                "vocabulary (read as <unk>)")
        print(f"{prompt} {completion.text}".strip())
    sys.stdout.flush()
    return 0
