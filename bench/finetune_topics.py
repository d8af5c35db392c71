"""Pre-train word vectors, then fine-tune a transformer classifier from them.

    python bench/finetune_topics.py            # the full run recorded in bench/RESULTS.md
    python bench/finetune_topics.py --quick    # 1 seed, a smoke test

1. Skip-gram vectors on ../shared/data/corpus/kdocs.txt.gz (unlabelled).
2. A small TextClassifier (embedding -> 2 pre-norm encoder layers -> mean
   pooling -> linear) fine-tuned on kdocs_topics.train.tsv (8 topics), scored
   on kdocs_topics.test.tsv (held out of the corpus).
3. Embedding initialised from the vectors vs at random (same vocabulary, same
   spread), with 100 labelled examples per class and with the full training
   set, over 5 seeds. For each seed both initialisations see the same
   examples, the same validation split (10 %, for early stopping) and the
   same initial encoder weights, so the difference is the vectors alone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if any((ROOT / "python" / "embforge").glob("_core*")):  # a development build in the tree
    sys.path.insert(0, str(ROOT / "python"))
DATA = Path(os.environ.get("EMBFORGE_DATA", ROOT.parent / "shared" / "data"))

import torch  # noqa: E402

from embforge import finetune as ft  # noqa: E402
from embforge._layout import SPARE_ROWS  # noqa: E402
from embforge.keyedvectors import KeyedVectors  # noqa: E402
from worker_pool import job_runner  # noqa: E402

ARCH = dict(num_layers=2, num_heads=4, ff_dim=200, dropout=0.1, encoder_dropout=0.0, max_length=64)
SETTINGS = {  # the same for both initialisations; the small set needs more passes
    "100/class": dict(epochs=40, patience=8, batch_size=32, lr=3e-3),
    "full": dict(epochs=5, patience=2, batch_size=32, lr=3e-3),
}


def pretrain(corpus, vector_size: int, workers: int, device: str):
    """Skip-gram vectors with embforge's Word2Vec, on `device`."""
    from embforge import Word2Vec
    started = time.perf_counter()
    kv = Word2Vec(sg=1, vector_size=vector_size, window=5, negative=5, min_count=5, epochs=5,
                  workers=workers, seed=1, device=device).fit(str(corpus)).wv
    return kv, time.perf_counter() - started


def load_vectors(path):
    """Saved vectors (skips pre-training): .kv, .bin or text, as the CLI reads them."""
    from embforge.cli import load_vectors as load
    return load(path)


def _as_keyed_vectors(words, vectors):
    """Vectors rebuilt in a worker process, with the spare rows for the specials."""
    storage = np.zeros((len(words) + SPARE_ROWS, vectors.shape[1]), dtype=np.float32)
    storage[: len(words)] = vectors
    return KeyedVectors.from_storage(words, storage)


def sample_per_class(labels, per_class, rng):
    """Row indices with `per_class` rows of each label (all rows when None)."""
    if per_class is None:
        return np.arange(len(labels))
    rows = []
    for label in sorted(set(labels)):
        candidates = [i for i, l in enumerate(labels) if l == label]
        rows.extend(rng.choice(candidates, size=min(per_class, len(candidates)), replace=False).tolist())
    return np.array(sorted(rows))


def split_validation(rows, labels, fraction, rng):
    """Stratified split of `rows` into (train, validation)."""
    held = []
    for label in sorted({labels[i] for i in rows}):
        candidates = [i for i in rows if labels[i] == label]
        held.extend(rng.permutation(candidates)[: max(1, round(fraction * len(candidates)))].tolist())
    held_set = set(held)
    return [i for i in rows if i not in held_set], held


def run_one(kv, classes, data, rows, val_rows, init, seed, settings, device):
    texts, labels, test_texts, test_labels = data
    # The same seed gives both initialisations the same encoder and head.
    model = ft.TextClassifier.from_vectors(kv, classes, copy=True, device=device, init=init,
                                           seed=seed, **ARCH)
    result = ft.finetune(model, [texts[i] for i in rows], [labels[i] for i in rows],
                         [texts[i] for i in val_rows], [labels[i] for i in val_rows],
                         seed=seed, progress=False, **settings)
    accuracy = ft.evaluate(model, test_texts, test_labels)["accuracy"]
    return accuracy, len(result.history), result.seconds


# What each job reads, set up once per process (worker_pool.job_runner).
_WORKER = {}


def _start_worker(words, vectors, classes, data):
    torch.set_num_threads(1)
    _WORKER.update(kv=_as_keyed_vectors(words, vectors), classes=classes, data=data, device="cpu")


def _work(job):
    size, seed, init, rows, val_rows, settings = job
    return (size, seed, init, len(rows), len(val_rows)) + run_one(
        _WORKER["kv"], _WORKER["classes"], _WORKER["data"], rows, val_rows, init, seed, settings, _WORKER["device"])


def _runner(args, kv, classes, data):
    """A context yielding a function mapping jobs to results: worker processes
    on the CPU, this process (and the vectors' GPU) otherwise."""
    if args.device == "cpu" and args.jobs > 1:
        return job_runner(_work, args.jobs, _start_worker,
                          (kv.index_to_key, np.asarray(kv.vectors), classes, data))
    _WORKER.update(kv=kv, classes=classes, data=data, device=args.device)
    return job_runner(_work)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=DATA / "corpus" / "kdocs.txt.gz", type=Path)
    parser.add_argument("--train", default=DATA / "finetune" / "kdocs_topics.train.tsv", type=Path)
    parser.add_argument("--test", default=DATA / "finetune" / "kdocs_topics.test.tsv", type=Path)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--vector-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for the CPU runs")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: vectors and classifier both live there")
    parser.add_argument("--vectors", type=Path, default=None,
                        help="use these word2vec-format vectors instead of pre-training")
    parser.add_argument("--quick", action="store_true", help="1 seed: a smoke test")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    seeds = range(1 if args.quick else args.seeds)
    started = time.perf_counter()

    if args.vectors:
        kv, pretrain_seconds = load_vectors(args.vectors), 0.0
        print(f"loaded {len(kv)} x {kv.vector_size} vectors from {args.vectors}", flush=True)
    else:
        kv, pretrain_seconds = pretrain(args.corpus, args.vector_size, args.workers, args.device)
        print(f"pre-trained {len(kv)} x {kv.vector_size} skip-gram vectors on {kv.device} "
              f"in {pretrain_seconds:.0f}s", flush=True)
    texts, labels = ft.load_tsv(args.train)
    test_texts, test_labels = ft.load_tsv(args.test)
    classes = sorted(set(labels))
    data = (texts, labels, test_texts, test_labels)
    tokenizer = ft.Tokenizer.from_vectors(kv)
    print(f"{len(classes)} classes, {len(texts)} training rows, {len(test_texts)} test rows; "
          f"unknown words: train {tokenizer.unknown_rate(texts):.1%}, test {tokenizer.unknown_rate(test_texts):.1%}",
          flush=True)

    jobs = []
    for size, per_class in (("full", None), (f"{args.per_class}/class", args.per_class)):
        settings = SETTINGS["100/class" if per_class else "full"]
        for seed in seeds:
            rng = np.random.default_rng(seed)
            rows, val_rows = split_validation(sample_per_class(labels, per_class, rng), labels, 0.1, rng)
            jobs += [(size, seed, init, rows, val_rows, settings) for init in ("vectors", "random")]
    results = {}
    with _runner(args, kv, classes, data) as run:
        for size, seed, init, n_train, n_val, accuracy, epochs, seconds in run(jobs):
            results.setdefault((size, init), []).append(accuracy)
            print(f"  {size:>9}  seed {seed}  init {init:<7}  test accuracy {accuracy:.4f}  "
                  f"({epochs} epochs, {seconds:.0f}s, {n_train} train / {n_val} val)", flush=True)
    results = dict(sorted(results.items(), key=lambda item: (item[0][0] == "full", item[0][1] == "random")))

    total = time.perf_counter() - started
    print(f"\n| training set | init | test accuracy (mean ± sd over {len(seeds)} seeds) |")
    print("|---|---|---|")
    for (size, init), scores in results.items():
        print(f"| {size} | {init} | {100 * np.mean(scores):.1f} ± {100 * np.std(scores, ddof=1 if len(scores) > 1 else 0):.1f} |")
    gains = {}
    for size in {s for s, _ in results}:
        gains[size] = 100 * (np.mean(results[(size, "vectors")]) - np.mean(results[(size, "random")]))
        print(f"gain from the pre-trained vectors, {size}: {gains[size]:+.1f} points")
    small = f"{args.per_class}/class"
    met = gains[small] >= 3.0
    print(f"target (>= +3 points at {small}): {'met' if met else 'NOT met'}; total {total:.0f}s")
    if args.json:
        args.json.write_text(json.dumps({
            "vectors": str(args.vectors or args.corpus), "pretrain_seconds": pretrain_seconds, "total_seconds": total,
            "vocabulary": len(kv), "vector_size": kv.vector_size, "architecture": ARCH,
            "settings": SETTINGS, "results": {f"{s} {i}": v for (s, i), v in results.items()},
            "gains": gains}, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
