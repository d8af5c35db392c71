"""Throughput and quality stages of the GPU check; bench/gpu_stages.py runs
each as its own process under its own time cap.

    python bench/gpu_bench.py STAGE --data .gpu_data --out DIR [--rows rows.jsonl] [--dry-run]

STAGE is one of
  headline       skip-gram words/s, co-occurrence tokens/s, GloVe pair-updates/s
                 (then CBOW words/s) on the shared corpus repeated --repeat times,
                 through the raw launchers; raw corpus tokens per second
  cpu-reference  the CPU's quality over seeds 1..--seeds (skip-gram, CBOW, GloVe),
                 read from --reference / DATA/cpu_reference.json when it matches the
                 corpus and settings, else trained here on every core and written
                 to OUT/cpu_reference.json, run by run (copy it into the data folder:
                 a rerun then skips this stage's work)
  quality        seed 1 on the GPU against the CPU's seeds, the co-occurrence
                 matrix against the CPU's bit for bit, the public API's
                 co-occurrence and GloVe
  fasttext       FastText skip-gram and CBOW words/s on the GPU and its scores
                 against the CPU's, one seed (gpu_fasttext.py)
  seeds          GPU seeds 2..--seeds, and the verdict over all of them
  large-vocab    a synthetic Zipf stream over ~2M words at d=300 (state far beyond L2)
  tuning         the speed variants not yet measured (Launch.variant): skip-gram's
                 pipelined loads, register-capped kernels and span queue, GloVe's
                 variants 0-3, co-occurrence's narrow keys and compacted pairs;
                 then skip-gram launch sizes (warps per block, context batch, span)

Settings: d=100, window 5, negative 5, sample 1e-3 (Word2Vec, 5 epochs for
quality); window 10 symmetric 1/d (co-occurrence); x_max 100, alpha 0.75, eta
0.05 (GloVe, 15 epochs for quality). Quality: analogy accuracy over the 30k
most frequent words (questions-words.txt) and WS353 Spearman; a GPU mean
passes when within gpu_stats.K_SIGMA standard errors of the CPU's (the
tolerance from the CPU's own seed spread, gpu_stats.tolerance).

--dry-run runs the same code on the CPU (CpuRunner stands in for the GPU) on a
small synthetic corpus, with a stand-in score where no evaluation files exist.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpu_report  # noqa: E402
import gpu_stats  # noqa: E402
from gpu_runners import CpuRunner, GpuRunner, w2v_train  # noqa: E402

STAGES = ("headline", "cpu-reference", "quality", "fasttext", "seeds", "large-vocab", "tuning")
COOC = dict(window=10, symmetric=True, distance_weighting=True)
TARGETS = {"skip-gram words/s": ">= 100M", "co-occurrence tokens/s": ">= 500M",
           "GloVe pair-updates/s": ">= 1,000M", "co-occurrence (API) tokens/s": ">= 500M",
           "GloVe (API) pair-updates/s": ">= 1,000M", "co-occurrence equal to CPU": "True"}
MODELS = ("skip-gram", "CBOW", "GloVe")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("stage", choices=STAGES)
    p.add_argument("--data", default=os.path.join(os.path.dirname(HERE), ".gpu_data"))
    p.add_argument("--out", default="/tmp/embforge-gpu-check/gpu_check")
    p.add_argument("--rows", default=None, help="append the rows here (JSON lines)")
    p.add_argument("--reference", default=None,
                   help="CPU reference JSON to read (default DATA/cpu_reference.json, then OUT's)")
    p.add_argument("--repeat", type=int, default=8, help="copies of the corpus in the timed stream")
    p.add_argument("--seeds", type=int, default=3, help="seeds per model for quality (>= 3)")
    p.add_argument("--dry-run", action="store_true", help="the CPU stands in for the GPU, tiny data")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.seeds < 3:
        p.error(f"--seeds must be >= 3 (a spread needs them), got {args.seeds}")
    return args


# ---------------------------------------------------------------- the corpus
class Corpus:
    """The encoded shared corpus (cached in OUT between stages) or, in a dry
    run, a small synthetic one."""

    def __init__(self, words, counts, ids, offsets, raw_tokens):
        from embforge.vocab import Vocabulary
        self.vocab = Vocabulary(list(words), counts)
        self.counts = np.asarray(counts, np.int64)
        self.ids, self.offsets, self.raw_tokens = ids, offsets, int(raw_tokens)
        self.raw_per_id = self.raw_tokens / max(1, len(ids))

    @property
    def size(self) -> int:
        return len(self.counts)

    def tables(self, core):
        keep = core.subsampling_thresholds(self.counts, 1e-3)
        noise = core.build_alias_table(self.counts.astype(np.float64) ** 0.75)
        return (keep, *noise)

    def fingerprint(self) -> dict:
        return {"ids": len(self.ids), "sentences": len(self.offsets) - 1, "vocabulary": self.size,
                "raw_tokens": self.raw_tokens, "crc32": zlib.crc32(np.ascontiguousarray(self.ids).data)}


def load_corpus(args) -> Corpus:
    if args.dry_run:
        ids, offsets, counts = gpu_stats.zipf_stream(2000, 60_000, seed=0)
        order = np.argsort(-counts, kind="stable")  # a Vocabulary is count-descending
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return Corpus([f"w{i}" for i in order], counts[order], rank[ids].astype(np.uint32), offsets,
                      len(ids))
    from embforge.corpus import encode
    paths = sorted(glob.glob(os.path.join(args.data, "*.txt.gz")))
    if not paths:
        raise ValueError(f"no *.txt.gz corpus in {args.data!r}: see bench/gpu_check.sh")
    # encoded once per run by the first stage; keyed by the files, never stale
    files = json.dumps([(os.path.basename(p), os.path.getsize(p), int(os.path.getmtime(p))) for p in paths])
    cache = os.path.join(args.out, f"corpus-{zlib.crc32(files.encode()):08x}.npz")
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=False)
        return Corpus(z["words"], z["counts"], z["ids"], z["offsets"], int(z["raw_tokens"]))
    t = time.perf_counter()
    c = encode(paths, min_count=5)
    print(f"  corpus: {len(c.ids):,} ids, vocabulary {len(c.vocab):,}, encoded in "
          f"{time.perf_counter() - t:.1f}s")
    os.makedirs(args.out, exist_ok=True)
    np.savez(cache + ".tmp.npz", words=np.array(c.vocab.words), counts=c.vocab.counts, ids=c.ids,
             offsets=c.offsets, raw_tokens=c.raw_tokens)
    os.replace(cache + ".tmp.npz", cache)
    return Corpus(c.vocab.words, c.vocab.counts, c.ids, c.offsets, c.raw_tokens)


def repeat_stream(ids, offsets, times):
    """The encoded stream `times` times over, sentence boundaries included."""
    n = len(ids)
    starts = (offsets[:-1][None, :] + n * np.arange(times, dtype=np.int64)[:, None]).ravel()
    return np.tile(ids, times), np.append(starts, n * times).astype(np.int64)


def scores(args, corpus, vectors) -> dict:
    """Analogy accuracy (30k most frequent words) and WS353 Spearman where the
    files exist; in a dry run a stand-in (the mean cosine of the 50 most
    frequent words to each other) so that the comparison code runs."""
    questions = os.path.join(args.data, "questions-words.txt")
    ws353 = os.path.join(args.data, "wordsim353.tsv")
    if hasattr(vectors, "cpu"):  # a torch tensor on the device
        vectors = vectors.cpu().numpy()
    if args.dry_run or not (os.path.exists(questions) and os.path.exists(ws353)):
        x = np.asarray(vectors[:50], np.float64)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return {"stand-in": float((x @ x.T).mean())}
    from embforge.evaluation import evaluate_word_analogies, evaluate_word_pairs
    from embforge.keyedvectors import KeyedVectors
    kv = KeyedVectors.from_storage(corpus.vocab.words, np.ascontiguousarray(vectors, dtype=np.float32))
    return {"analogy": float(evaluate_word_analogies(kv, questions, restrict_vocab=30000)[0]),
            "WS353": float(evaluate_word_pairs(kv, ws353)[1][0])}


def word2vec_run(args, runner, corpus, model, seed, tables=None, ids=None, offsets=None) -> dict:
    from embforge._native import core
    sg = model == "skip-gram"
    t = time.perf_counter()
    vectors = w2v_train(runner, corpus.ids if ids is None else ids,
                        corpus.offsets if offsets is None else offsets, corpus.size,
                        tables or corpus.tables(core), sg=sg, seed=seed, epochs=2 if args.dry_run else 5,
                        dim=16 if args.dry_run else 100)
    return {**scores(args, corpus, vectors), "seconds": time.perf_counter() - t}


def glove_run(args, runner, corpus, matrix, seed) -> dict:
    """GloVe through the public API, as a user runs it."""
    import embforge
    t = time.perf_counter()
    model = embforge.GloVe(vector_size=16 if args.dry_run else 100, epochs=3 if args.dry_run else 15,
                           seed=seed, progress=False, device=runner.device,
                           **({"workers": runner.workers} if runner.name == "cpu" else {})).fit(matrix)
    runner.sync()
    return {**scores(args, corpus, model.wv.vectors), "cost": [float(c) for c in model.cost_history],
            "pairs_per_second": float(model.pairs_per_second), "seconds": time.perf_counter() - t}


def gpu_runner(args):
    """The GPU, or its CPU stand-in in a dry run."""
    if args.dry_run:
        r = CpuRunner(workers=1)
        r.name = "gpu (dry run: CPU)"
        return r
    return GpuRunner()


def timed(runner, fn):
    runner.sync()
    t = time.perf_counter()
    result = fn()
    runner.sync()
    return result, time.perf_counter() - t


# ------------------------------------------------------------------ headline
def stage_headline(args, rec):
    from embforge._native import core
    corpus, gpu = load_corpus(args), gpu_runner(args)
    repeat = 2 if args.dry_run else args.repeat
    rep_ids, rep_offsets = repeat_stream(corpus.ids, corpus.offsets, repeat)
    raw = len(rep_ids) * corpus.raw_per_id
    V, dim = corpus.size, 16 if args.dry_run else 100
    d_tables = [gpu.upload(t) for t in corpus.tables(core)]
    d_ids, d_offsets = gpu.upload(corpus.ids), gpu.upload(corpus.offsets)
    d_rep = gpu.upload(rep_ids), gpu.upload(rep_offsets)   # uploads stay outside the timings
    print(f"  timed stream: corpus x{repeat} = {len(rep_ids):,} ids ({raw:,.0f} raw tokens), "
          f"vocabulary {V:,}")
    kw = dict(window=5, negative=5, shrink_windows=True, alpha_start=0.025, alpha_end=0.0001, seed=1,
              epoch=0)

    def word2vec(name, sg):
        inp, out = gpu.w2v_alloc(V, dim, 1)
        gpu.w2v_epoch(d_ids, d_offsets, inp, out, d_tables, skip_gram=sg, **kw)  # warm-up
        stats, seconds = timed(gpu, lambda: gpu.w2v_epoch(*d_rep, inp, out, d_tables, skip_gram=sg, **kw))
        finite = bool(np.isfinite(gpu.host(inp)).all())
        rec.row(f"{name} words/s", raw / seconds, target=TARGETS.get(f"{name} words/s", ""),
                kept=stats["words_trained"] / max(1, stats["ids_processed"]),
                working_set=gpu_stats.word2vec_working_set(V, dim),
                note=f"{stats['words_trained'] / seconds / 1e6:,.1f}M trained words/s, {seconds:.2f}s, "
                     f"finite={finite}")

    word2vec("skip-gram", True)
    gpu.cooccur(d_ids, d_offsets, V, **COOC)  # warm-up
    (rows, cols, values, stats), seconds = timed(gpu, lambda: gpu.cooccur(*d_rep, V, **COOC))
    nnz = len(rows)
    rec.row("co-occurrence tokens/s", raw / seconds, target=TARGETS["co-occurrence tokens/s"], nnz=nnz,
            working_set=gpu_stats.cooccur_working_set(nnz),
            note=f"{seconds:.2f}s, {stats.get('chunks')} chunks; nnz as for x1 (a repeated corpus adds none)")
    del rows, cols, values
    rows, cols, values, _ = gpu.cooccur(d_ids, d_offsets, V, **COOC)
    pairs = gpu.glove_pairs(rows, cols, values, V)
    w, g = gpu.glove_alloc(V, dim, 1)
    gpu.glove_epoch(pairs, w, g, 1, 0)  # warm-up
    epochs = 3
    s, seconds = timed(gpu, lambda pairs=pairs, w=w, g=g: [gpu.glove_epoch(pairs, w, g, 1, e)
                                                             for e in range(1, epochs + 1)][-1])
    rec.row("GloVe pair-updates/s", len(rows) * epochs / seconds, target=TARGETS["GloVe pair-updates/s"],
            nnz=len(rows), working_set=gpu_stats.glove_working_set(V, dim, len(rows)),
            note=f"{epochs} epochs in {seconds:.2f}s, cost {s['cost']:.4g}, skipped {s['skipped']}")
    del pairs, w, g, rows, cols, values
    word2vec("CBOW", False)


# ------------------------------------------------------------ CPU reference
def reference_key(args, corpus) -> dict:
    return {"corpus": corpus.fingerprint(), "dry_run": args.dry_run,
            "settings": "w2v d100 w5 n5 s1e-3 5 epochs; cooc w10 sym 1/d; glove d100 xmax100 a.75 eta.05 "
                        "15 epochs; analogy 30k, WS353"}


def read_reference(args, corpus):
    """The CPU runs recorded for this corpus and these settings ({model:
    {seed: scores}}) from the first matching file, or {} and why not."""
    key, best = reference_key(args, corpus), ({}, None)
    for path in dict.fromkeys([args.reference, os.path.join(args.data, "cpu_reference.json"),
                               os.path.join(args.out, "cpu_reference.json")]):
        if path and os.path.exists(path):
            with open(path) as f:
                ref = json.load(f)
            if ref.get("key") != key:
                print(f"  {path} is for another corpus or settings: not used")
            elif sum(map(len, ref["runs"].values())) > sum(map(len, best[0].values())):
                best = ref["runs"], path  # a carried file completed here is in OUT
    return best


def write_reference(args, corpus, runs):
    path = args.reference or os.path.join(args.out, "cpu_reference.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump({"key": reference_key(args, corpus), "runs": runs, "workers": os.cpu_count()}, f, indent=1)
    os.replace(path + ".tmp", path)
    return path


def cpu_matrix(args, corpus):
    import embforge
    rows, cols, values, _ = CpuRunner().cooccur(corpus.ids, corpus.offsets, corpus.size, **COOC)
    return embforge.Cooccurrence(rows, cols, values, corpus.vocab, check=False)


def stage_cpu_reference(args, rec):
    corpus = load_corpus(args)
    runs, path = read_reference(args, corpus)
    runs = {m: dict(runs.get(m, {})) for m in MODELS}
    missing = [(seed, m) for seed in range(1, args.seeds + 1) for m in MODELS if str(seed) not in runs[m]]
    if path:
        rec.row("CPU reference", "read", note=f"{path}; {len(missing)} runs missing")
    cpu, matrix = CpuRunner(), None
    for seed, model in missing:  # seed by seed: a cut-short stage leaves every model a few
        if model == "GloVe":
            matrix = matrix or cpu_matrix(args, corpus)
            result = glove_run(args, cpu, corpus, matrix, seed)
        else:
            result = word2vec_run(args, cpu, corpus, model, seed)
        runs[model][str(seed)] = result
        out = write_reference(args, corpus, runs)
        rec.row(f"{model} CPU seed {seed}", ", ".join(f"{k} {v:.4f}" for k, v in result.items()
                                                      if k in ("analogy", "WS353", "stand-in")),
                note=f"{result['seconds']:.0f}s on {cpu.workers} threads; {out}")
    for model in MODELS:
        for metric in metrics_of(runs[model]):
            mean, sd, n = gpu_stats.spread([r[metric] for r in runs[model].values()])
            rec.row(f"{model} {metric} CPU", mean, note=f"sd {sd:.4f} over {n} seeds")


def metrics_of(runs_of_model) -> list:
    keys = [k for r in runs_of_model.values() for k in r if k in ("analogy", "WS353", "stand-in")]
    return list(dict.fromkeys(keys))


# ------------------------------------------------------------------- quality
def gpu_results_path(args):
    return os.path.join(args.out, "gpu_quality.json")


def load_gpu_results(args, corpus) -> dict:
    path = gpu_results_path(args)
    if os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        if saved.get("key") == reference_key(args, corpus):
            return saved["runs"]
    return {m: {} for m in MODELS}


def save_gpu_results(args, corpus, runs):
    path = gpu_results_path(args)
    with open(path + ".tmp", "w") as f:
        json.dump({"key": reference_key(args, corpus), "runs": runs}, f, indent=1)
    os.replace(path + ".tmp", path)


def verdict_rows(rec, model, cpu_runs, gpu_runs):
    """One row per metric: the GPU mean within the tolerance from the CPU's spread?"""
    for metric in metrics_of(gpu_runs):
        cpu_values = [r[metric] for r in cpu_runs.values() if metric in r]
        gpu_values = [r[metric] for r in gpu_runs.values()]
        if len(cpu_values) < 2:
            rec.row(f"{model} {metric}, GPU vs CPU", "no CPU spread",
                    note=f"GPU {np.mean(gpu_values):.4f}; the CPU reference has {len(cpu_values)} runs")
            continue
        c = gpu_stats.compare(cpu_values, gpu_values)
        rec.row(f"{model} {metric}, GPU vs CPU", c["ok"], target=f"abs(d) <= {c['tolerance']:.4f}",
                note=f"d {c['diff']:+.4f}; GPU {c['gpu_mean']:.4f} sd {c['gpu_sd']:.4f} (n={c['n_gpu']}), "
                     f"CPU {c['cpu_mean']:.4f} sd {c['cpu_sd']:.4f} (n={c['n_cpu']})")
    costs = [r["cost"] for r in gpu_runs.values() if "cost" in r]
    ref = [r["cost"] for r in cpu_runs.values() if "cost" in r]
    if costs and ref:
        c, r = np.mean(costs, axis=0), np.mean(ref, axis=0)
        ratios = c / r - 1
        worst = int(np.argmax(np.abs(ratios)))
        rec.row(f"{model} cost GPU/CPU-1, worst epoch", float(ratios[worst]),
                target="cost curve matching the CPU's",
                note=f"epoch {worst + 1}; last epoch {ratios[-1]:+.4f} (means over seeds)")


def gpu_quality(args, rec, seeds, first: bool):
    """GPU runs of `seeds` (saved with earlier ones), then the verdicts over
    every GPU seed saved; `first`: also the API throughputs and the matrix check."""
    corpus, gpu = load_corpus(args), gpu_runner(args)
    cpu_runs, path = read_reference(args, corpus)
    if not path:
        rec.row("CPU reference", "missing", note="run the cpu-reference stage (or carry cpu_reference.json)")
    runs = load_gpu_results(args, corpus)
    from embforge._native import core
    tables = [gpu.upload(t) for t in corpus.tables(core)]
    d_ids, d_offsets = gpu.upload(corpus.ids), gpu.upload(corpus.offsets)
    api_matrix = None
    for seed in seeds:
        for model in MODELS:
            if model == "GloVe":
                if api_matrix is None:
                    api_matrix = count_through_api(args, rec, corpus, gpu, first)
                result = glove_run(args, gpu, corpus, api_matrix, seed)
                if first and seed == seeds[0]:
                    rec.row("GloVe (API) pair-updates/s", result["pairs_per_second"],
                            target=TARGETS["GloVe (API) pair-updates/s"], nnz=api_matrix.nnz,
                            working_set=gpu_stats.glove_working_set(corpus.size, 100, api_matrix.nnz),
                            note=f"fit(), {len(result['cost'])} epochs, {result['seconds']:.1f}s")
            else:
                result = word2vec_run(args, gpu, corpus, model, seed, tables, d_ids, d_offsets)
            runs[model][str(seed)] = result
            save_gpu_results(args, corpus, runs)
            rec.row(f"{model} GPU seed {seed}", ", ".join(f"{k} {v:.4f}" for k, v in result.items()
                                                          if k in ("analogy", "WS353", "stand-in")),
                    note=f"{result['seconds']:.1f}s")
    for model in MODELS:
        verdict_rows(rec, model, cpu_runs.get(model, {}), runs[model])


def count_through_api(args, rec, corpus, gpu, check):
    """The matrix through embforge.cooccurrence (kept on the device); `check`:
    timed, and compared with the CPU's bit for bit."""
    import embforge
    from embforge.corpus import EncodedCorpus
    c = EncodedCorpus(corpus.vocab, corpus.ids, corpus.offsets, corpus.raw_tokens, 0)
    kw = dict(progress=False, **COOC, **({"keep_on_device": True} if gpu.name == "gpu" else {}))
    matrix, seconds = timed(gpu, lambda: embforge.cooccurrence(c, device=gpu.device, **kw))
    if check:
        rec.row("co-occurrence (API) tokens/s", corpus.raw_tokens / seconds,
                target=TARGETS["co-occurrence (API) tokens/s"], nnz=matrix.nnz,
                working_set=gpu_stats.cooccur_working_set(matrix.nnz), note=f"corpus x1, {seconds:.2f}s")
        ref = CpuRunner().cooccur(corpus.ids, corpus.offsets, corpus.size, **COOC)
        same = all(np.array_equal(gpu.host(a).view(np.uint32), np.asarray(b).view(np.uint32))
                   for a, b in zip((matrix.rows, matrix.cols, matrix.values), ref[:3]))
        rec.row("co-occurrence equal to CPU", same, target="True", nnz=len(ref[0]), note="bit for bit")
    return matrix


# ------------------------------------------------------ large vocabulary
def stage_large_vocab(args, rec):
    """Skip-gram, co-occurrence and GloVe on a synthetic Zipf stream over
    ~2M words at d=300: model state of gigabytes, where the shared corpus's
    ~45 MiB stays resident in the H200's 50 MB L2. Throughput only (random
    text has nothing to learn)."""
    from embforge._native import core
    gpu = gpu_runner(args)
    V, n, dim = (3_000, 50_000, 16) if args.dry_run else (2_000_000, 20_000_000, 300)
    t = time.perf_counter()
    ids, offsets, counts = gpu_stats.zipf_stream(V, n, exponent=1.0, seed=1)
    seen = int((np.bincount(ids, minlength=V) > 0).sum())
    print(f"  Zipf stream: {n:,} ids over {V:,} words ({seen:,} drawn), made in {time.perf_counter() - t:.1f}s")
    keep = core.subsampling_thresholds(counts, 1e-3)
    tables = [gpu.upload(x) for x in (keep, *core.build_alias_table(counts.astype(np.float64) ** 0.75))]
    d_ids, d_offsets = gpu.upload(ids), gpu.upload(offsets)
    cut = min(len(offsets) - 1, 1 << 15)  # the first sentences, for a warm-up
    inp, out = gpu.w2v_alloc(V, dim, 1)
    kw = dict(skip_gram=True, window=5, negative=5, shrink_windows=True, alpha_start=0.025,
              alpha_end=0.0001, seed=1)
    gpu.w2v_epoch(gpu.upload(ids[:offsets[cut]]), gpu.upload(offsets[:cut + 1]), inp, out, tables,
                  epoch=0, **kw)
    stats, seconds = timed(gpu, lambda inp=inp, out=out: gpu.w2v_epoch(d_ids, d_offsets, inp, out, tables,
                                                                      epoch=1, **kw))
    rec.row(f"skip-gram words/s, V={V:,} d={dim}", n / seconds, kept=stats["words_trained"] / n,
            working_set=gpu_stats.word2vec_working_set(V, dim), note=f"{seconds:.2f}s")
    del inp, out
    (rows, cols, values, cstats), seconds = timed(gpu, lambda: gpu.cooccur(d_ids, d_offsets, V, **COOC))
    nnz = len(rows)
    rec.row(f"co-occurrence tokens/s, V={V:,}", n / seconds, nnz=nnz,
            working_set=gpu_stats.cooccur_working_set(nnz), note=f"{seconds:.2f}s, {cstats.get('chunks')} chunks")
    pairs = gpu.glove_pairs(rows, cols, values, V)
    del rows, cols, values
    w, g = gpu.glove_alloc(V, dim, 1)
    s, seconds = timed(gpu, lambda: gpu.glove_epoch(pairs, w, g, 1, 0))
    rec.row(f"GloVe pair-updates/s, V={V:,} d={dim}", nnz / seconds, nnz=nnz,
            working_set=gpu_stats.glove_working_set(V, dim, nnz),
            note=f"1 epoch in {seconds:.2f}s, cost {s['cost']:.4g}")


# ------------------------------------------------------------------- tuning
# Launch.variant bits (csrc/include/embforge/launch.h), each against the
# default (0) measured in the same stage. Most valuable first: a run cut at
# the stage's cap keeps the rows printed so far.
W2V_VARIANTS = (("default", {}), ("pipelined (4)", {"variant": 4}), ("span queue (16)", {"variant": 16}),
                ("bounded (8)", {"variant": 8}), ("pipelined+queue (20)", {"variant": 20}),
                ("pipelined+queue+bounded (28)", {"variant": 28}))
GLOVE_VARIANTS = (("default (0)", 0), ("staged (1)", 1), ("tight order (2)", 2), ("staged+tight (3)", 3))
COOC_VARIANTS = (("default (0)", 0), ("narrow keys (32)", 32), ("compact pairs (64)", 64), ("both (96)", 96))
W2V_LAUNCH_SIZES = (("warps=8", {"warps_per_block": 8}), ("batch=4", {"batch": 4}),
                    ("warps=8 batch=4", {"warps_per_block": 8, "batch": 4}), ("span=64", {"span": 64}))


def stage_tuning(args, rec):
    from embforge._native import core
    corpus, gpu = load_corpus(args), gpu_runner(args)
    rep = repeat_stream(corpus.ids, corpus.offsets, 2 if args.dry_run else args.repeat)
    raw = len(rep[0]) * corpus.raw_per_id
    d_rep = gpu.upload(rep[0]), gpu.upload(rep[1])
    d_ids, d_offsets = gpu.upload(corpus.ids), gpu.upload(corpus.offsets)
    tables = [gpu.upload(t) for t in corpus.tables(core)]
    V, dim = corpus.size, 16 if args.dry_run else 100
    kw = dict(skip_gram=True, window=5, negative=5, shrink_windows=True, alpha_start=0.025,
              alpha_end=0.0001, seed=1, epoch=0)

    def skip_gram(name, tuning):
        inp, out = gpu.w2v_alloc(V, dim, 1)
        gpu.w2v_epoch(d_ids, d_offsets, inp, out, tables, **kw, **tuning)  # warm-up, corpus x1
        stats, seconds = timed(gpu, lambda: gpu.w2v_epoch(*d_rep, inp, out, tables, **kw, **tuning))
        finite = bool(np.isfinite(gpu.host(inp)).all())
        rec.row(f"skip-gram {name} words/s", raw / seconds,
                kept=stats["words_trained"] / max(1, stats["ids_processed"]),
                working_set=gpu_stats.word2vec_working_set(V, dim), note=f"{seconds:.2f}s, finite={finite}")

    for name, tuning in W2V_VARIANTS:
        skip_gram(name, tuning)
    # GloVe on the corpus's matrix (counted once, outside the timings)
    rows, cols, values, _ = gpu.cooccur(d_ids, d_offsets, V, **COOC)
    nnz = len(rows)
    pairs = gpu.glove_pairs(rows, cols, values, V)
    del rows, cols, values
    for name, variant in GLOVE_VARIANTS:
        w, g = gpu.glove_alloc(V, dim, 1)
        gpu.glove_epoch(pairs, w, g, 1, 0, variant=variant)  # warm-up
        s, seconds = timed(gpu, lambda w=w, g=g, v=variant, p=pairs: gpu.glove_epoch(p, w, g, 1, 1, variant=v))
        rec.row(f"GloVe {name} pair-updates/s", nnz / seconds, nnz=nnz,
                working_set=gpu_stats.glove_working_set(V, dim, nnz),
                note=f"1 epoch in {seconds:.3f}s, cost {s['cost']:.4g}, skipped {s['skipped']}")
    del pairs, w, g
    reference = None
    for name, variant in COOC_VARIANTS:
        gpu.cooccur(d_ids, d_offsets, V, variant=variant, **COOC)  # warm-up
        (r, c, v, stats), seconds = timed(gpu, lambda v=variant: gpu.cooccur(*d_rep, V, variant=v, **COOC))
        matrix = [gpu.host(a) for a in (r, c, v)]
        reference = reference or matrix
        same = all(np.array_equal(a.view(np.uint32), b.view(np.uint32)) for a, b in zip(matrix, reference))
        rec.row(f"co-occurrence {name} tokens/s", raw / seconds, nnz=len(matrix[0]),
                working_set=gpu_stats.cooccur_working_set(len(matrix[0])),
                note=f"{seconds:.2f}s, {stats.get('chunks')} chunks, equal to default: {same}")
    del reference, matrix, r, c, v
    for name, tuning in W2V_LAUNCH_SIZES:
        skip_gram(name, tuning)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    rec = gpu_report.Recorder(args.stage, args.rows)
    if args.stage == "headline":
        stage_headline(args, rec)
    elif args.stage == "cpu-reference":
        stage_cpu_reference(args, rec)
    elif args.stage == "quality":
        gpu_quality(args, rec, [1], first=True)
    elif args.stage == "fasttext":
        from gpu_fasttext import stage_fasttext
        stage_fasttext(args, rec, load_corpus, scores)
    elif args.stage == "seeds":
        gpu_quality(args, rec, list(range(2, args.seeds + 1)), first=False)
    elif args.stage == "large-vocab":
        stage_large_vocab(args, rec)
    elif args.stage == "tuning":
        stage_tuning(args, rec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
