"""GloVe on CPU: co-occurrence counting and AdaGrad training, with numpy references.

    nice -n 5 python bench/bench_glove.py [--threads 2] [--epochs 15] [--memory 1GB]
                                          [--reference-tokens 4000] [--skip-reference]
                                          [--glove-c-order] [--x-max 100]
                                          [--ooc-memory 160MB [--ooc-epochs 3]]
                                          [--sweep 10 [--seed 1] [--bias-learning-rate 1]]

Corpus: ../shared/data/corpus/{gcide,kdocs}.txt.gz read one after the other
(8.67M tokens), min_count 5, window 10, symmetric, 1/d weighting, d=100,
x_max 100, alpha 0.75, eta 0.05 (glove.c's defaults otherwise).

Reported:
* counting: tokens/s of the native count (raw corpus tokens / its wall time;
  encoding the text is timed apart), CPU seconds, and the resident memory of
  the call: peak RSS (VmHWM after resetting it through /proc/self/clear_refs)
  minus the RSS before the call, against the budget; once with --memory and
  once with a quarter of it (spilling);
* a vectorised numpy count of the same matrix (np.unique over pair keys):
  time, and equality of the result;
* training: pair-updates/s (nnz x epochs / wall time of train()), seconds per
  epoch, glove.c's cost per epoch, and analogy (3CosAdd over the 30k most
  frequent words) / WordSim-353 / SimLex-999 after the epochs;
* cost-curve check on a prefix of the corpus (--reference-tokens): a plain
  numpy transcription of glove.c's glove_thread (float64, one pair at a
  time) trained 15 epochs from the same initial weights on one fixed order
  (glove.c's protocol), against the kernel with 1 thread on the same order,
  and against the default (fresh order each epoch, 2 threads); and how far
  the kernel's output vectors (main + context) are from the reference's;
* --ooc-memory: count + train (--ooc-epochs) in a fresh process with that
  budget (result on disk, training out of core) and with --memory (in
  memory): peak RSS growth of the whole call, seconds per epoch, cost.
* --sweep K: only count and train --epochs, printing the cost and the
  quality every K epochs (not timed; for the quality study).
The machine is shared and noisy: CPU seconds are printed next to wall times.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shared_data import CORPORA, HERE, quality  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "python"))

from embforge._native import core  # noqa: E402
from embforge.cooccurrence import cooccurrence, parse_memory  # noqa: E402
from embforge.cooccurrence_count import NO_SENTENCE_LIMIT  # noqa: E402
from embforge.corpus import EncodedCorpus, encode  # noqa: E402
from embforge.glove import GloVe  # noqa: E402


def status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measured(call):
    """(result, wall s, cpu s, peak RSS growth in bytes) of call()."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    before = status_kb("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, wall, cpu, (status_kb("VmHWM") - before) * 1024


def numpy_count(corpus: EncodedCorpus, window: int):
    """Symmetric 1/d counts with numpy: every pair key, then np.unique."""
    ids = corpus.ids.astype(np.int64)
    sentence = np.repeat(np.arange(len(corpus)), np.diff(corpus.offsets))
    vocab = len(corpus.vocab)
    keys, weights = [], []
    for d in range(1, window + 1):
        same = sentence[d:] == sentence[:-d]
        left, right = ids[:-d][same], ids[d:][same]
        keys += [left * vocab + right, right * vocab + left]
        weights += [np.full(2 * len(left), 1.0 / d)]
    keys = np.concatenate(keys)
    unique, inverse = np.unique(keys, return_inverse=True)
    values = np.bincount(inverse, weights=np.concatenate(weights))
    return (unique // vocab).astype(np.int32), (unique % vocab).astype(np.int32), values




def reference_epoch(W, G, vocab, pairs, order, eta=0.05, clip=100.0):
    """glove.c's glove_thread in float64 numpy, one pair at a time (vector
    gradients clipped, then times eta; bias steps f * diff without eta)."""
    floats = pairs.view(np.float32)
    d = W.shape[1] - 1
    cost = 0.0
    for i in order:
        row, col, log_x, weight = int(pairs[i, 0]), vocab + int(pairs[i, 1]), floats[i, 2], floats[i, 3]
        w, c = W[row], W[col]
        diff = w[:d] @ c[:d] + w[d] + c[d] - log_x
        fdiff = weight * diff
        cost += 0.5 * fdiff * diff
        grad_w = np.clip(fdiff * c[:d], -clip, clip) * eta
        grad_c = np.clip(fdiff * w[:d], -clip, clip) * eta
        w[:d] -= grad_w / np.sqrt(G[row, :d])
        c[:d] -= grad_c / np.sqrt(G[col, :d])
        G[row, :d] += grad_w * grad_w
        G[col, :d] += grad_c * grad_c
        w[d] -= fdiff / np.sqrt(G[row, d])
        c[d] -= fdiff / np.sqrt(G[col, d])
        G[row, d] += fdiff * fdiff
        G[col, d] += fdiff * fdiff
    return cost / len(order)


def cost_curves(corpus: EncodedCorpus, tokens: int, epochs: int, threads: int):
    """Cost per epoch: numpy glove.c vs the kernel, on a prefix of the corpus."""
    end = int(np.searchsorted(corpus.offsets, tokens))
    prefix = EncodedCorpus(corpus.vocab, corpus.ids[:corpus.offsets[end]], corpus.offsets[:end + 1],
                           int(corpus.offsets[end]), 0)
    X = cooccurrence(prefix, window=10, workers=threads, progress=False)
    model = GloVe(vector_size=100, epochs=epochs, workers=1, reshuffle=False, progress=False)
    model._use(X)
    W, G = model.weights.astype(np.float64), model.gradsq.astype(np.float64)
    order = np.empty(X.nnz, np.uint32)
    core.glove_shuffle(order, int(model.seed), 0, 1)  # the order model.train uses with reshuffle=False
    started = time.perf_counter()
    reference = [reference_epoch(W, G, len(X.vocab), model._pairs, order) for _ in range(epochs)]
    reference_rate = X.nnz * epochs / (time.perf_counter() - started)
    same_order = model.train().cost_history
    default = GloVe(vector_size=100, epochs=epochs, workers=threads, progress=False).fit(X).cost_history
    # Output vectors (main + context) of the words that occur in a pair.
    n, d = len(X.vocab), model.vector_size
    used = np.unique(np.concatenate([X.rows, X.cols]))
    ours = (model.weights[:n, :d] + model.weights[n:, :d])[used].astype(np.float64)
    theirs = (W[:n, :d] + W[n:, :d])[used]
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    return X.nnz, reference, same_order, default, reference_rate, cosine


def rss_run(memory: str, epochs: int, threads: int, x_max: float) -> dict:
    """Count + train in this process with one budget (run in a fresh process)."""
    corpus = encode(CORPORA, min_count=5, max_sentence_length=NO_SENTENCE_LIMIT)

    def count_and_train():
        X = cooccurrence(corpus, window=10, workers=threads, memory=memory, progress=False)
        model = GloVe(vector_size=100, epochs=epochs, workers=threads, memory=memory, x_max=x_max,
                      progress=False).fit(X)
        return X, model

    (X, model), wall, cpu, rss = measured(count_and_train)
    blocks = model._blocks.native.blocks if model._blocks is not None else 0
    return dict(memory=parse_memory(memory), rss=rss, hwm=status_kb("VmHWM") * 1024, wall=wall, cpu=cpu,
                on_disk=X.on_disk, blocks=blocks, count_seconds=X.stats["seconds"],
                epoch_seconds=model.train_seconds / epochs, cost=model.cost_history[-1],
                pairs_per_second=model.pairs_per_second)


def sweep(args):
    corpus = encode(CORPORA, min_count=5, max_sentence_length=NO_SENTENCE_LIMIT)
    X = cooccurrence(corpus, window=10, workers=args.threads, memory=args.memory, progress=False)
    model = GloVe(vector_size=100, workers=args.threads, x_max=args.x_max, seed=args.seed,
                  bias_learning_rate=args.bias_learning_rate, memory=args.memory, progress=False)
    model._use(X)
    for done in range(args.sweep, args.epochs + 1, args.sweep):
        model.train(args.sweep)
        analogy, ws, simlex = quality(model.wv)
        print(f"x_max {args.x_max:g}, seed {args.seed}, bias rate {args.bias_learning_rate:g}, "
              f"epoch {done}: cost {model.cost_history[-1]:.5f}, analogy {analogy:.4f}, "
              f"WS353 {ws:.4f}, SimLex {simlex:.4f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--reference-tokens", type=int, default=4000)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--glove-c-order", action="store_true",
                        help="also train with glove.c's protocol (one shuffled order for all "
                             "epochs) and score it")
    parser.add_argument("--x-max", type=float, default=100.0)
    parser.add_argument("--ooc-memory", default=None,
                        help="also count + train with this budget (out of core) and with --memory, "
                             "each in a fresh process, and compare peak RSS")
    parser.add_argument("--ooc-epochs", type=int, default=3)
    parser.add_argument("--ooc-only", action="store_true", help="only the --ooc-memory comparison")
    parser.add_argument("--sweep", type=int, default=0, help="only score every SWEEP epochs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bias-learning-rate", type=float, default=1.0)
    parser.add_argument("--rss-run", default=None, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.sweep:
        sweep(args)
        return
    if args.rss_run:
        print(json.dumps(rss_run(args.rss_run, args.ooc_epochs, args.threads, args.x_max)))
        return
    if args.ooc_memory:
        for memory in (args.memory, args.ooc_memory):
            child = subprocess.run([sys.executable, __file__, "--rss-run", memory, "--ooc-epochs",
                                    str(args.ooc_epochs), "--threads", str(args.threads),
                                    "--x-max", str(args.x_max)],
                                   check=True, capture_output=True, text=True)
            r = json.loads(child.stdout.strip().splitlines()[-1])
            where = (f"result on disk, {r['blocks']} blocks" if r["blocks"] else
                     f"result {'on disk' if r['on_disk'] else 'in memory'}, pairs in memory")
            print(f"count + {args.ooc_epochs} epochs, memory {r['memory'] / 1e6:.0f} MB ({where}): "
                  f"peak RSS growth {r['rss'] / 1e6:.0f} MB (VmHWM {r['hwm'] / 1e6:.0f} MB), "
                  f"{r['wall']:.1f}s (cpu {r['cpu']:.1f}s; count {r['count_seconds']:.2f}s, "
                  f"{r['epoch_seconds']:.2f}s per epoch = {r['pairs_per_second'] / 1e6:.2f}M "
                  f"pair-updates/s), cost {r['cost']:.5f}")
        if args.ooc_only:
            return
    budget = parse_memory(args.memory)
    print(f"SIMD: {core.simd_level()}; threads {args.threads}; load average {os.getloadavg()[0]:.1f}")

    corpus, wall, _, _ = measured(lambda: encode(CORPORA, min_count=5,
                                                 max_sentence_length=NO_SENTENCE_LIMIT))
    print(f"encode: {corpus.raw_tokens} tokens, {corpus.n_tokens} in vocabulary "
          f"({len(corpus.vocab)} words), {wall:.2f}s")

    for memory in (budget, budget // 4):
        X, wall, cpu, rss = measured(lambda: cooccurrence(corpus, window=10, workers=args.threads,
                                                          memory=memory, progress=False))
        s = X.stats
        print(f"count  memory {memory / 1e6:.0f} MB: {X.nnz} nonzeros in {wall:.2f}s (cpu {cpu:.2f}s; "
              f"count {s['count_seconds']:.2f}s + merge {s['merge_seconds']:.2f}s) = "
              f"{corpus.raw_tokens / wall / 1e6:.2f}M tokens/s; peak RSS growth {rss / 1e6:.0f} MB "
              f"(result {X.nnz * 12 / 1e6:.0f} MB, planned {s['planned_peak_bytes'] / 1e6:.0f} MB); "
              f"dense {s['dense_updates'] / s['pair_updates']:.0%} of updates, max_product "
              f"{s['max_product']}, {s['runs']} runs, {s['spilled_runs']} spilled "
              f"({s['spilled_bytes'] / 1e6:.0f} MB)")
        if memory == budget:
            matrix = X
        del X

    (rows, cols, values), wall, _, rss = measured(lambda: numpy_count(corpus, 10))
    same = (np.array_equal(rows, matrix.rows) and np.array_equal(cols, matrix.cols)
            and np.allclose(values, matrix.values, rtol=1e-6))
    print(f"numpy count: {wall:.2f}s = {corpus.raw_tokens / wall / 1e6:.2f}M tokens/s, peak RSS growth "
          f"{rss / 1e6:.0f} MB; same matrix: {same}")
    del rows, cols, values

    model = GloVe(vector_size=100, epochs=args.epochs, workers=args.threads, x_max=args.x_max,
                  progress=False)
    _, wall, cpu, _ = measured(lambda: model.fit(matrix))
    print(f"train: {args.epochs} epochs x {matrix.nnz} pairs in {model.train_seconds:.1f}s "
          f"(cpu {cpu:.1f}s) = {model.pairs_per_second / 1e6:.2f}M pair-updates/s, "
          f"{model.train_seconds / args.epochs:.2f}s per epoch")
    print("cost per epoch: " + " ".join(f"{c:.5f}" for c in model.cost_history))
    analogy, ws, simlex = quality(model.wv)
    print(f"quality after {args.epochs} epochs: analogy {analogy:.4f}, WS353 {ws:.4f}, "
          f"SimLex {simlex:.4f}")
    if args.glove_c_order:
        once = GloVe(vector_size=100, epochs=args.epochs, workers=args.threads, reshuffle=False,
                     x_max=args.x_max, progress=False).fit(matrix)
        analogy, ws, simlex = quality(once.wv)
        print(f"glove.c order (shuffled once): {once.pairs_per_second / 1e6:.2f}M pair-updates/s; "
              "cost " + " ".join(f"{c:.5f}" for c in once.cost_history))
        print(f"  quality: analogy {analogy:.4f}, WS353 {ws:.4f}, SimLex {simlex:.4f}")
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    if not args.skip_reference:
        nnz, reference, same_order, default, rate, cosine = cost_curves(
            corpus, args.reference_tokens, 15, args.threads)
        print(f"cost curves on the first {args.reference_tokens} tokens ({nnz} pairs, 15 epochs); "
              f"numpy reference {rate:.0f} pair-updates/s")
        for name, curve in (("numpy glove.c (float64)", reference),
                            ("kernel, same order, 1 thread", same_order),
                            (f"kernel, default, {args.threads} threads", default)):
            gap = abs(curve[-1] / reference[-1] - 1)
            print(f"  {name:32s} " + " ".join(f"{c:.5f}" for c in curve) + f"  | epoch 15: {gap:.2%}")
        print(f"  output vectors, kernel (same order) vs numpy: cosine mean {cosine.mean():.6f}, "
              f"min {cosine.min():.6f} over {len(cosine)} words")


if __name__ == "__main__":
    main()
