"""Throughput and quality of the CUDA backend; run by bench/gpu_check.sh.

    python bench/gpu_bench.py --data .gpu_data [--repeat 8] [--budget 170] [--json out.json]

Reads every *.txt.gz corpus in --data (vocabulary min_count 5), repeats the
encoded stream --repeat times so timings are long enough, and measures, on
the repeated stream:
  skip-gram and CBOW  words/s  (raw corpus tokens / s, d=100, window 5, negative 5, sample 1e-3)
  co-occurrence       tokens/s (raw tokens / s, window 10, symmetric, 1/d)
  GloVe               pair-updates/s (d=100, one epoch of the window-10 matrix)
through the raw launchers (embforge.backends.cuda_launch) and, for co-occurrence and GloVe,
through the public API as a user calls it (embforge.cooccurrence(...,
device="cuda"), GloVe(device="cuda").fit), and, on the corpus itself, quality
against the CPU path with the same settings: analogy accuracy
(questions-words.txt, 30k most frequent words) and WS353 Spearman for
skip-gram and CBOW (5 epochs) and GloVe (15 epochs, with the cost curve),
plus the GPU co-occurrence matrix compared with the CPU's bit for bit (raw
and public API). Every stage checks
the time left (--budget seconds) and is skipped, saying so, when it would not
fit. --fake-device runs the same flow on the CPU through the test stand-in
(tests/fake_device.py) on a small slice, to check this script without a GPU.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = {"skip-gram words/s": ">= 100M", "co-occurrence tokens/s": ">= 500M",
           "co-occurrence (API) tokens/s": ">= 500M", "GloVe pair-updates/s": ">= 1,000M",
           "GloVe (API) pair-updates/s": ">= 1,000M", "co-occurrence equal to CPU": "True",
           "co-occurrence (API) equal to CPU": "True",
           "GloVe cost GPU/CPU-1, worst epoch": "cost curve matching the CPU's",
           "skip-gram analogy GPU-CPU": "|d| <= 0.01", "skip-gram WS353 GPU-CPU": "|d| <= 0.02",
           "CBOW analogy GPU-CPU": "|d| <= 0.01", "CBOW WS353 GPU-CPU": "|d| <= 0.02"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(ROOT, ".gpu_data"))
    p.add_argument("--repeat", type=int, default=8, help="copies of the corpus in the timed stream")
    p.add_argument("--budget", type=float, default=170.0, help="seconds for the whole bench")
    p.add_argument("--json", default=None, help="write the results here as JSON")
    p.add_argument("--fake-device", action="store_true",
                   help="dry run on the CPU through the test stand-in (small slice)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N ids of the corpus")
    return p.parse_args()


class Bench:
    """Rows of results, written to JSON as they come (a run cut short keeps them)."""

    def __init__(self, budget, json_path=None):
        self.deadline = time.perf_counter() + budget
        self.rows = []      # (name, value, note)
        self.results = {}
        self.json_path = json_path

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def fits(self, seconds: float, what: str) -> bool:
        if self.left() >= seconds:
            return True
        self.row(what, "skipped", f"needs ~{seconds:.0f}s, {self.left():.0f}s left")
        return False

    def row(self, name, value, note=""):
        self.rows.append((name, value, note))
        self.results[name] = value
        shown = f"{value:,.0f}" if isinstance(value, float) and value > 1000 else value
        print(f"  {name}: {shown} {note}", flush=True)
        if self.json_path:
            with open(self.json_path, "w") as f:
                json.dump(self.results, f, indent=1, default=str)


def repeat_stream(ids, offsets, times):
    """The encoded stream `times` times over, sentence boundaries included."""
    n = len(ids)
    rep_ids = np.tile(ids, times)
    starts = (offsets[:-1][None, :] + n * np.arange(times, dtype=np.int64)[:, None]).ravel()
    return rep_ids, np.append(starts, n * times).astype(np.int64)


def w2v_epochs(backend, core, train, vocab_size, ids, offsets, tables, sg, epochs, device):
    """`epochs` passes with the trainer's linear schedule; returns host vectors."""
    alpha, min_alpha = (0.025 if sg else 0.05), 1e-4
    if device == "cpu":
        inp = np.empty((vocab_size, 100), np.float32)
        core.init_word2vec_input(inp, 1)
        out = np.zeros_like(inp)
    else:
        storage, out = backend.allocate_word2vec(vocab_size, 100, 1, device)
        inp = storage[:vocab_size]
    for e in range(epochs):
        kw = dict(skip_gram=sg, window=5, negative=5, shrink_windows=True,
                  alpha_start=alpha + (min_alpha - alpha) * e / epochs,
                  alpha_end=alpha + (min_alpha - alpha) * (e + 1) / epochs, seed=1, epoch=e)
        if device == "cpu":
            params = core.Word2VecParams(vector_size=100, workers=os.cpu_count() or 1, **kw)
            core.train_word2vec_epoch(ids, offsets, inp, out, *tables, params,
                                      progress=core.Progress())
        else:
            train(ids, offsets, inp, out, *tables, **kw)
    return host(inp)


def host(a):
    if isinstance(a, np.ndarray):
        return a
    return a.cpu().numpy() if hasattr(a, "cpu") else a.get()


def quality(vocab, vectors, questions, ws353):
    from embforge.evaluation import evaluate_word_analogies, evaluate_word_pairs
    from embforge.keyedvectors import KeyedVectors
    kv = KeyedVectors.from_storage(vocab.words, np.ascontiguousarray(vectors, dtype=np.float32))
    analogy = evaluate_word_analogies(kv, questions, restrict_vocab=30000)[0] if questions else float("nan")
    pairs = evaluate_word_pairs(kv, ws353)[1][0] if ws353 else float("nan")
    return float(analogy), float(pairs)


def main() -> int:
    args = parse_args()
    bench = Bench(args.budget, args.json)
    if args.fake_device:
        sys.path.insert(0, os.path.join(ROOT, "tests"))
        import builtins
        from fake_device import install_fake_device
        install_fake_device(builtins.setattr)
        args.limit = args.limit or 200_000
        args.repeat = min(args.repeat, 2)
    import embforge
    from embforge import _native
    from embforge.backends import cuda_launch, device_arrays
    from embforge._native import core
    from embforge.corpus import EncodedCorpus, encode

    device = "cuda:0"
    if not args.fake_device:
        info = _native.device_info(0)
        bench.results["device"] = info
        print(f"device: {info['name']}, {info['total_memory'] / 2**30:.0f} GiB, "
              f"compute capability {info['compute_capability']}")
    arrays = device_arrays.array_module()

    def sync():
        arrays.synchronize(device)

    paths = sorted(glob.glob(os.path.join(args.data, "*.txt.gz")))
    if not paths:
        print(f"no *.txt.gz corpus in {args.data}: see bench/gpu_check.sh for how to provide it")
        return 2
    questions = os.path.join(args.data, "questions-words.txt")
    ws353 = os.path.join(args.data, "wordsim353.tsv")
    questions = questions if os.path.exists(questions) else None
    ws353 = ws353 if os.path.exists(ws353) else None

    t = time.perf_counter()
    corpus = encode(paths, min_count=5)
    vocab, ids, offsets = corpus.vocab, corpus.ids, corpus.offsets
    if args.limit and args.limit < len(ids):
        cut = int(np.searchsorted(offsets, args.limit, side="right")) - 1
        ids, offsets = ids[:offsets[cut]], offsets[:cut + 1]
    raw_per_id = corpus.raw_tokens / max(1, corpus.n_tokens)
    print(f"corpus: {len(ids):,} ids in {len(offsets) - 1:,} sentences, vocabulary {len(vocab):,} "
          f"(encoded in {time.perf_counter() - t:.1f}s); timed stream x{args.repeat}")
    rep_ids, rep_offsets = repeat_stream(ids, offsets, args.repeat)
    raw_tokens = len(rep_ids) * raw_per_id
    keep = core.subsampling_thresholds(vocab.counts, 1e-3)
    noise = core.build_alias_table(vocab.counts.astype(np.float64) ** 0.75)
    tables = (keep, *noise)
    # uploads happen once, outside the timings
    d_ids, d_offsets = device_arrays.to_device(ids, device), device_arrays.to_device(offsets, device)
    d_rep_ids = device_arrays.to_device(rep_ids, device)
    d_rep_offsets = device_arrays.to_device(rep_offsets, device)
    d_tables = [device_arrays.to_device(x, device) for x in tables]
    V = len(vocab)

    # ------------------------------------------------------ word2vec speed
    print("word2vec throughput")
    base = dict(window=5, negative=5, shrink_windows=True, alpha_start=0.025, alpha_end=0.0001,
                seed=1, epoch=0)
    variants = [("skip-gram", True, {}), ("CBOW", False, {}),
                ("skip-gram warps=8", True, {"warps_per_block": 8}),
                ("skip-gram batch=4", True, {"batch": 4}),
                ("skip-gram warps=8 batch=4", True, {"warps_per_block": 8, "batch": 4}),
                ("skip-gram span=64", True, {"span": 64})]
    for name, sg, tuning in variants:
        if not bench.fits(25, f"{name} words/s"):
            continue
        storage, out = cuda_launch.allocate_word2vec(V, 100, 1, device)
        inp = storage[:V]
        cuda_launch.train_word2vec_epoch(d_ids, d_offsets, inp, out, *d_tables, skip_gram=sg,
                                          **base, **tuning)  # warm-up, one plain pass
        sync()
        t = time.perf_counter()
        stats = cuda_launch.train_word2vec_epoch(d_rep_ids, d_rep_offsets, inp, out, *d_tables,
                                                  skip_gram=sg, **base, **tuning)
        sync()
        seconds = time.perf_counter() - t
        finite = bool(np.isfinite(host(inp)).all())
        bench.row(f"{name} words/s", raw_tokens / seconds,
                  f"({stats['words_trained'] / seconds:,.0f} trained words/s, {seconds:.2f}s, finite={finite})")
        del storage, out, inp

    # ---------------------------------------------------- co-occurrence
    print("co-occurrence (window 10, symmetric, 1/d)")
    matrix = cpu_matrix = None
    kw = dict(window=10, symmetric=True, distance_weighting=True)
    # the raw call's default workspace, passed to the public API as its `memory`
    workspace = min(cuda_launch.COOCCUR_MAX_WORKSPACE, arrays.free_bytes(device) // 2)
    if bench.fits(30, "co-occurrence"):
        matrix = cuda_launch.count_cooccurrences(d_ids, d_offsets, V, device=device, **kw)  # warm-up
        sync()
        if bench.fits(40, "co-occurrence equal to CPU"):
            with tempfile.TemporaryDirectory() as tmp:
                params = core.CooccurParams(workers=os.cpu_count() or 1, memory_bytes=8 << 30,
                                            temp_dir=tmp, **kw)
                cpu_matrix = core.count_cooccurrences(ids, offsets, V, params)
            same = all(np.array_equal(host(a).view(np.uint32), b.view(np.uint32))
                       for a, b in zip(matrix[:3], cpu_matrix[:3]))
            bench.row("co-occurrence equal to CPU", same, f"(nnz {len(cpu_matrix[0]):,})")
        t = time.perf_counter()
        rep = cuda_launch.count_cooccurrences(d_rep_ids, d_rep_offsets, V, device=device, **kw)
        sync()
        seconds = time.perf_counter() - t
        bench.row("co-occurrence tokens/s", raw_tokens / seconds,
                  f"({seconds:.2f}s, {rep[3]['chunks']} chunks, nnz {len(rep[0]):,})")
        del rep

    # The public API on the same streams (the ids are already on the device:
    # to_device's cache; an upload would add ~10 ms). keep_on_device=True is
    # GloVe's path; the default returns host arrays (12 bytes per nonzero).
    api_matrix = None
    api = dict(progress=False, memory=workspace, **kw)
    corpus_1 = EncodedCorpus(vocab, ids, offsets, round(len(ids) * raw_per_id), 0)
    if matrix is not None and bench.fits(30, "co-occurrence (API) tokens/s"):
        rep_corpus = EncodedCorpus(vocab, rep_ids, rep_offsets, round(raw_tokens), 0)
        t = time.perf_counter()
        rep = embforge.cooccurrence(rep_corpus, device=device, keep_on_device=True, **api)
        sync()
        seconds = time.perf_counter() - t
        bench.row("co-occurrence (API) tokens/s", raw_tokens / seconds,
                  f"({seconds:.2f}s, keep_on_device, nnz {rep.nnz:,})")
        del rep
        t = time.perf_counter()
        to_host = embforge.cooccurrence(corpus_1, device=device, **api)
        seconds = time.perf_counter() - t
        bench.row("co-occurrence (API, host result) tokens/s", corpus_1.raw_tokens / seconds,
                  f"({seconds:.2f}s incl. the copy to the host, corpus x1)")
        if cpu_matrix is not None:
            same = all(np.array_equal(a.view(np.uint32), b.view(np.uint32))
                       for a, b in zip((to_host.rows, to_host.cols, to_host.values), cpu_matrix[:3]))
            bench.row("co-occurrence (API) equal to CPU", same)
        del to_host
        api_matrix = embforge.cooccurrence(corpus_1, device=device, keep_on_device=True, **api)

    # ------------------------------------------------------------ GloVe
    print("GloVe (d=100)")
    if matrix is not None and bench.fits(20, "GloVe pair-updates/s"):
        pairs = cuda_launch.make_glove_pairs(*matrix[:3], V, 100.0, 0.75, device=device)
        weights, gradsq = cuda_launch.allocate_glove(V, 100, 1, device)
        cuda_launch.train_glove_epoch(pairs, None, weights, gradsq, learning_rate=0.05,
                                       grad_clip=100.0, seed=1, epoch=0)  # warm-up
        sync()
        t = time.perf_counter()
        epochs = 3
        for e in range(1, epochs + 1):
            s = cuda_launch.train_glove_epoch(pairs, None, weights, gradsq, learning_rate=0.05,
                                               grad_clip=100.0, seed=1, epoch=e)
        sync()
        seconds = time.perf_counter() - t
        bench.row("GloVe pair-updates/s", len(matrix[0]) * epochs / seconds,
                  f"({len(matrix[0]):,} pairs, {seconds:.2f}s for {epochs} epochs, "
                  f"cost {s['cost']:.4g}, skipped {s['skipped']})")
        del pairs, weights, gradsq

    # GloVe as a user runs it: fit() on the matrix kept on the device, 15
    # epochs (bench/RESULTS.md's CPU settings), then the same on the CPU.
    glove_kw = dict(vector_size=100, epochs=15, seed=1, progress=False)
    gpu_costs = None
    if api_matrix is not None and bench.fits(30, "GloVe (API) pair-updates/s"):
        model = embforge.GloVe(device=device, **glove_kw).fit(api_matrix)
        sync()
        gpu_costs = model.cost_history
        finite = bool(np.isfinite(host(model.weights)).all())
        bench.row("GloVe (API) pair-updates/s", model.pairs_per_second,
                  f"({api_matrix.nnz:,} pairs x 15 epochs in {model.train_seconds:.2f}s, "
                  f"finite={finite}, wv on {model.wv.device})")
        print("  GloVe GPU cost per epoch:", " ".join(f"{c:.5f}" for c in gpu_costs))
        analogy, ws = quality(vocab, model.wv.vectors, questions, ws353)
        bench.row("GloVe analogy GPU (15 epochs)", analogy)
        bench.row("GloVe WS353 GPU (15 epochs)", ws)
        del model

    # --------------------------------------------------- word2vec quality
    print("word2vec quality (5 epochs, GPU vs CPU)")
    for name, sg in (("skip-gram", True), ("CBOW", False)):
        if not bench.fits(60, f"{name} quality"):
            continue
        gpu = w2v_epochs(cuda_launch, core, cuda_launch.train_word2vec_epoch, V, d_ids, d_offsets,
                         d_tables, sg, 5, device)
        g_analogy, g_ws = quality(vocab, gpu, questions, ws353)
        bench.row(f"{name} analogy GPU", g_analogy)
        bench.row(f"{name} WS353 GPU", g_ws)
        if not bench.fits(60, f"{name} CPU reference"):
            continue
        t = time.perf_counter()
        cpu = w2v_epochs(cuda_launch, core, None, V, ids, offsets, tables, sg, 5, "cpu")
        c_analogy, c_ws = quality(vocab, cpu, questions, ws353)
        bench.row(f"{name} analogy CPU", c_analogy, f"({time.perf_counter() - t:.0f}s)")
        bench.row(f"{name} WS353 CPU", c_ws)
        bench.row(f"{name} analogy GPU-CPU", g_analogy - c_analogy, "(target: within 0.01)")
        bench.row(f"{name} WS353 GPU-CPU", g_ws - c_ws, "(target: within 0.02)")

    print("GloVe quality and cost curve (15 epochs, GPU vs CPU)")
    if gpu_costs is not None and cpu_matrix is not None and bench.fits(45, "GloVe CPU reference"):
        host_matrix = embforge.Cooccurrence(*cpu_matrix[:3], vocab, check=False)
        t = time.perf_counter()
        model = embforge.GloVe(workers=os.cpu_count() or 1, **glove_kw).fit(host_matrix)
        print("  GloVe CPU cost per epoch:", " ".join(f"{c:.5f}" for c in model.cost_history))
        analogy, ws = quality(vocab, model.wv.vectors, questions, ws353)
        bench.row("GloVe analogy CPU (15 epochs)", analogy, f"({time.perf_counter() - t:.0f}s)")
        bench.row("GloVe WS353 CPU (15 epochs)", ws)
        ratios = [g / c - 1 for g, c in zip(gpu_costs, model.cost_history)]
        bench.row("GloVe cost GPU/CPU-1, worst epoch", max(ratios, key=abs),
                  f"(epoch 15: {ratios[-1]:+.4f})")

    print("\n| metric | value | target |\n| --- | --- | --- |")
    for name, value, note in bench.rows:
        shown = f"{value / 1e6:,.1f}M" if isinstance(value, float) and value > 1e5 else (
            f"{value:.4f}" if isinstance(value, float) else str(value))
        print(f"| {name} | {shown} | {TARGETS.get(name, '')} {note if value == 'skipped' else ''}|")
    return 0


if __name__ == "__main__":
    sys.exit(main())
