"""Training across processes (torch.distributed, gloo on localhost) against one process.

    python bench/bench_distributed.py speed   [--models sgns cbow] [--repeat 2]
    python bench/bench_distributed.py quality [--models sgns cbow] [--seeds 1 2 3]
    python bench/bench_distributed.py big     [--times 10] [--glove-epochs 5] [--repeat 1]
    python bench/bench_distributed.py vocab   [--times 10] [--repeat 3]
    python bench/bench_distributed.py ceiling [--times 10] [--glove-epochs 5] [--repeat 2]
    python bench/bench_distributed.py glove-cost [--intervals 20000000 2000000 500000]
                                      [--sync-dtypes float32 float16] [--strata on off]
                                      [--procs 2]
    python bench/bench_distributed.py sync-quality [--models sgns] [--seeds 1 2 3]
                                      [--configs '{"sync_interval": 500000}' ...] [--cache F]

What a user waits for is timed: the whole command, from launch to exit
(interpreter and torch start, rendezvous, vocabulary merge, training, writing
the output), with `time.perf_counter` around `subprocess.run`:
* one process:  python -m embforge train ... --threads 1
* N processes:  python -m torch.distributed.run --standalone --nproc-per-node N
                -m embforge train ... --threads 1
speed:   skip-gram and CBOW, 5 epochs on the bench corpus (gcide + kdocs,
         8.67M tokens, decompressed once to a plain file that every run reads),
         words/s = 5 x raw tokens / wall time; 1 x 1 thread against 2 x 1 thread.
quality: 2 processes x 1 thread against 1 process x 2 threads, per seed, and the
         means (analogy / WordSim-353 / SimLex-999, scored as every bench does,
         shared_data.quality over one frequency order).
big:     `embforge cooccur` (tokens/s) and `embforge train --model glove`
         (pair-updates/s) on the bench corpus repeated --times times, 1 x 1
         thread against 2 x 1 thread.
vocab:   `embforge vocab` on the bench corpus repeated --times times: 1 x 1
         thread, 1 x 2 threads, 2 x 1 thread (each rank counts its share, the
         counts merged), the same file written by each (compared).
ceiling: the most a 2-rank run can reach on this machine, for each speed
         target. Two ranks do at least one process's work; two copies of the
         whole command started together (1 thread each) show how fast this
         machine runs two processes against one; torchrun's start (its
         interpreter and torch, then 2 workers that import torch and meet,
         a no-op job) comes on top. bound = one / (copies / 2 + start).
         Also two plain processes each on half the corpus (cut at a line
         start past the middle byte) side by side: a rank's share as a job
         of its own, no torch, nothing exchanged (no bound for GloVe, where
         a half's matrix has more than half the pairs). Skip-gram and CBOW
         on the bench corpus, the count and GloVe on it --times times.
glove-cost: GloVe's cost after each of 10 epochs on kdocs (window 10, d = 50),
         one process against --procs processes (2) at each --intervals sync
         interval, --sync-dtypes type of the changes and --strata setting
         (stratified or not; bench/dist_glove_cost.py is
         the rank), with the bytes the syncs sent.
sync-quality: Word2Vec's quality against the sync options: 1 process x 2
         threads, then 2 processes x 1 thread with each --configs JSON of
         Word2Vec keyword arguments (bench/dist_w2v_sync.py is the rank);
         per seed and the means. --cache keeps finished runs in a JSON file
         (keyed by model, seed, processes and options) so a sweep can grow.
The machine is shared and noisy: compare the ratios printed by one run.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shared_data import CORPORA, frequency_order, quality, write_plain  # noqa: E402

W2V = ["--size", "100", "--window", "5", "--negative", "5", "--sample", "1e-3", "--min-count", "5",
       "--epochs", "5"]


def decompress(paths, directory, times=1) -> str:
    return write_plain(paths, os.path.join(directory, f"corpus-x{times}.txt"), times)


def count_tokens(path) -> int:
    tokens = 0
    with open(path, "rb") as f:
        for line in f:
            tokens += len(line.split())
    return tokens


def command(args, processes: int, torchrun: bool = True):
    """The command line of `embforge args` in one plain process
    (processes == 1 and not torchrun), or in `processes` processes under
    torchrun (torch.distributed.run) on this machine."""
    if processes == 1 and not torchrun:
        return [sys.executable, "-m", "embforge", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", "-m", "embforge", *args]


def timed(cmd) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-3000:]}")
    return seconds


def train(model, corpus, out, processes, threads, seed, extra=(), torchrun=None):
    args = ["train", "--model", model, corpus, "-o", out, "--threads", str(threads),
            "--seed", str(seed), "--quiet", *(W2V if model != "glove" else ()), *extra]
    return timed(command(args, processes, processes > 1 if torchrun is None else torchrun))


def speed(args, work):
    corpus = decompress(CORPORA, work)
    tokens = count_tokens(corpus)
    print(f"corpus: {tokens} tokens; 5 epochs; the whole command timed, best of {args.repeat}")
    print("model  setup                          seconds  Mwords/s  x plain 1 proc")
    for model in args.models:
        best = {}
        # the last row is what the same two cores give one process: the bound
        # two processes on this machine work against
        for name, processes, threads, launcher in (
                ("1 proc x 1 thread, plain", 1, 1, False),
                ("1 proc x 1 thread, torchrun", 1, 1, True),
                ("2 procs x 1 thread, torchrun", 2, 1, True),
                ("1 proc x 2 threads, plain", 1, 2, False)):
            runs = [train(model, corpus, os.path.join(work, "v.bin"), processes, threads, 1,
                          torchrun=launcher) for _ in range(args.repeat)]
            best[name] = min(runs)
            first = next(iter(best.values()))
            print(f"{model:5s}  {name:29s}  {best[name]:8.2f}  {5 * tokens / best[name] / 1e6:8.3f}  "
                  f"{first / best[name]:5.2f}x  (runs: {', '.join(f'{r:.2f}' for r in runs)})",
                  flush=True)


def quality_runs(args, work):
    corpus = decompress(CORPORA, work)
    order = frequency_order(CORPORA)
    from embforge import KeyedVectors
    print("model  setup               seed  analogy   WS353  SimLex  seconds")
    for model in args.models:
        means = {}
        for name, processes, threads in (("1 proc x 2 threads", 1, 2), ("2 procs x 1 thread", 2, 1)):
            scores = []
            for seed in args.seeds:
                out = os.path.join(work, f"{model}-{processes}-{seed}.bin")
                seconds = train(model, corpus, out, processes, threads, seed)
                q = quality(KeyedVectors.load_word2vec_format(out, binary=True), order)
                scores.append(q)
                print(f"{model:5s}  {name}  {seed:4d}  {q[0]:.4f}  {q[1]:.4f}  {q[2]:.4f}  "
                      f"{seconds:7.2f}", flush=True)
            means[name] = [sum(s[i] for s in scores) / len(scores) for i in range(3)]
            print(f"{model:5s}  {name}  mean  {means[name][0]:.4f}  {means[name][1]:.4f}  "
                  f"{means[name][2]:.4f}")
        a, b = means["1 proc x 2 threads"], means["2 procs x 1 thread"]
        print(f"{model:5s}  2 procs - 1 proc: analogy {b[0] - a[0]:+.4f}, WS353 {b[1] - a[1]:+.4f}, "
              f"SimLex {b[2] - a[2]:+.4f}")


def big(args, work):
    corpus = decompress(CORPORA, work, args.times)
    tokens = count_tokens(corpus)
    print(f"corpus: the bench corpus x{args.times}, {tokens} tokens")
    # (processes, threads): 1 x 1 is the baseline, 2 x 1 the distributed run,
    # 1 x 2 what the same two cores give one process
    setups = ((1, 1), (2, 1), (1, 2))
    best = {}
    for processes, threads in setups:
        runs = [timed(command(["cooccur", corpus, "-o", os.path.join(work, "c.npz"), "--window",
                               "10", "--threads", str(threads), "--memory", "4GB", "--quiet"],
                              processes, processes > 1))
                for _ in range(args.repeat)]
        best[processes, threads] = min(runs)
        seconds = best[processes, threads]
        print(f"cooccur  {processes} proc x {threads} thread  {seconds:8.2f} s  "
              f"{tokens / seconds / 1e6:7.2f}M tokens/s  {best[1, 1] / seconds:5.2f}x", flush=True)
    best = {}
    for processes, threads in setups:
        runs = [train("glove", corpus, os.path.join(work, "g.bin"), processes, threads, 1,
                      ("--window", "10", "--epochs", str(args.glove_epochs), "--memory", "4GB"))
                for _ in range(args.repeat)]
        best[processes, threads] = min(runs)
        seconds = best[processes, threads]
        print(f"glove    {processes} proc x {threads} thread  {seconds:8.2f} s  "
              f"{best[1, 1] / seconds:5.2f}x  (count + {args.glove_epochs} epochs, whole command)",
              flush=True)


def split_lines(path, directory) -> list:
    """`path` cut in two at the first line start past its middle byte."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(size // 2)
        f.readline()
        middle = f.tell()
        f.seek(0)
        halves = [os.path.join(directory, f"half-{i}.txt") for i in range(2)]
        for half, length in zip(halves, (middle, size - middle)):
            with open(half, "wb") as out:
                while length:
                    block = f.read(min(length, 16 << 20))
                    out.write(block)
                    length -= len(block)
    return halves


def timed_together(cmds) -> float:
    """Seconds from starting every command at once until the last exits."""
    # stderr to files, not pipes: a full pipe would stall a child no one reads yet
    logs = [tempfile.TemporaryFile(mode="w+") for _ in cmds]
    started = time.perf_counter()
    running = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
               for cmd, log in zip(cmds, logs)]
    codes = [p.wait() for p in running]
    seconds = time.perf_counter() - started
    for cmd, code, log in zip(cmds, codes, logs):
        if code != 0:
            log.seek(0)
            raise SystemExit(f"failed ({code}): {' '.join(cmd)}\n{log.read()[-3000:]}")
    return seconds


NO_OP_RANK = ("import torch.distributed as dist; dist.init_process_group('gloo'); "
              "dist.barrier(); dist.destroy_process_group()")


def ceiling(args, work):
    plain = {1: decompress(CORPORA, work), args.times: decompress(CORPORA, work, args.times)}
    halves = {}
    for times, path in plain.items():
        os.makedirs(os.path.join(work, f"x{times}"))
        halves[times] = split_lines(path, os.path.join(work, f"x{times}"))
    glove = ("--window", "10", "--epochs", str(args.glove_epochs), "--memory", "4GB")
    seeded = ["--threads", "1", "--seed", "1", "--quiet"]
    jobs = {  # name: (times, the embforge arguments for corpus and output, target)
        "sgns": (1, lambda corpus, out: ["train", "--model", "sgns", corpus, "-o", out, *W2V,
                                         *seeded], 1.7),
        "cbow": (1, lambda corpus, out: ["train", "--model", "cbow", corpus, "-o", out, *W2V,
                                         *seeded], 1.7),
        "cooccur": (args.times, lambda corpus, out: ["cooccur", corpus, "-o", out, "--window", "10",
                                                     "--memory", "4GB", "--threads", "1",
                                                     "--quiet"], 1.6),
        "glove": (args.times, lambda corpus, out: ["train", "--model", "glove", corpus, "-o", out,
                                                   *glove, *seeded], 1.6),
    }
    starts = [timed([sys.executable, "-m", "torch.distributed.run", "--standalone",
                     "--nproc-per-node=2", "--no-python", sys.executable, "-c", NO_OP_RANK])
              for _ in range(args.repeat)]
    python = min(timed([sys.executable, "-c", "pass"]) for _ in range(5))
    # what torchrun's start adds to a job: its own interpreter and torch
    # import, then the workers' (in parallel) and the rendezvous
    start = sum(starts) / len(starts) - python
    print(f"torchrun, 2 workers that import torch and meet, nothing else: "
          f"{', '.join(f'{s:.2f}' for s in starts)} s; a bare interpreter {python:.2f} s")
    print("job      1 proc  2 halves  2 copies  2 ranks (s)   2 ranks  bound  halves bound  target")
    for name in args.jobs:
        times, job, target = jobs[name]
        out = os.path.join(work, "out" + (".npz" if name == "cooccur" else ".bin"))
        outs = [os.path.join(work, f"out-{i}" + os.path.splitext(out)[1]) for i in range(2)]
        runs = {key: [] for key in ("one", "halves", "copies", "ranks")}
        for _ in range(args.repeat):  # rounds interleave the setups: the machine drifts
            runs["one"].append(timed(command(job(plain[times], out), 1, False)))
            runs["halves"].append(timed_together([command(job(half, o), 1, False)
                                                  for half, o in zip(halves[times], outs)]))
            runs["copies"].append(timed_together([command(job(plain[times], o), 1, False)
                                                  for o in outs]))
            runs["ranks"].append(timed(command(job(plain[times], out), 2)))
        mean = {key: sum(r) / len(r) for key, r in runs.items()}
        # Two ranks do at least one process's work, on a machine that runs two
        # processes at 2 x one / copies the speed of one, after torchrun's start.
        bound = mean["one"] / (mean["copies"] / 2 + start)
        # Each rank's half as a process of its own; for GloVe a half's matrix
        # has more than half the pairs, so this one is no bound there.
        halves_bound = ("-" if name == "glove" else
                        f"{mean['one'] / (mean['halves'] + start):.2f}x")
        print(f"{name:7s}  {mean['one']:6.2f}  {mean['halves']:8.2f}  {mean['copies']:8.2f}  "
              f"{mean['ranks']:11.2f}  {mean['one'] / mean['ranks']:6.2f}x  {bound:4.2f}x  "
              f"{halves_bound:>12s}  {target:.1f}x", flush=True)
        for key, r in runs.items():
            print(f"         {key}: {', '.join(f'{s:.2f}' for s in r)}", flush=True)


def glove_cost(args, work):
    corpus = decompress([p for p in CORPORA if "kdocs" in p], work)
    rank = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dist_glove_cost.py")
    import json
    runs = [("one process", 1, 20_000_000, "float32", "on")] + [
        (f"{args.procs} procs, sync every {i}" + ("" if dtype == "float32" else f", {dtype}")
         + ("" if strata == "on" else ", no strata"), args.procs, i, dtype, strata)
        for strata in args.strata for i in args.intervals for dtype in args.sync_dtypes]
    base = None
    for name, processes, interval, dtype, strata in runs:
        started = time.perf_counter()
        cmd = ([sys.executable, rank] if processes == 1 else
               [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={processes}", rank])
        result = subprocess.run(cmd + [corpus, "--sync-interval", str(interval),
                                       "--sync-dtype", dtype]
                                + ([] if strata == "on" else ["--no-stratify"]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr[-3000:]}")
        info = json.loads(result.stdout.strip().splitlines()[-1])
        cost = info["cost"]
        base = base or cost
        print(f"{name:44s} " + " ".join(f"{c:.5f}" for c in cost)
              + f"   last vs one process {cost[-1] / base[-1] - 1:+.1%}, "
              f"{info.get('bytes', 0) / 1e6:.0f} MB synced, {info.get('syncs', 0)} syncs, "
              f"{time.perf_counter() - started:.1f} s", flush=True)


def sync_quality(args: argparse.Namespace, work: str) -> None:
    import json
    corpus = decompress(CORPORA, work)
    order = frequency_order(CORPORA)
    from embforge import KeyedVectors
    rank = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dist_w2v_sync.py")
    cache = {}
    if args.cache and os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)
    # "procs" and "threads" in a config choose the setup (default 2 x 1)
    setups = [("1 proc x 2 threads", 1, 2, "{}")]
    for config in args.configs:
        options = json.loads(config)
        processes, threads = int(options.pop("procs", 2)), int(options.pop("threads", 1))
        setups.append((f"{processes} procs x {threads} thread", processes, threads,
                       json.dumps(options)))
    print("model  setup               seed  analogy   WS353  SimLex  seconds  options")
    for model in args.models:
        base = None
        for name, processes, threads, options in setups:
            scores = []
            for seed in args.seeds:
                key = f"{model} {seed} {processes} {json.dumps(json.loads(options), sort_keys=True)}"
                if processes * threads != 2:
                    key += f" x{threads}"
                if key not in cache:
                    out = os.path.join(work, "v.bin")
                    cmd = ([sys.executable, rank] if processes == 1 else
                           [sys.executable, "-m", "torch.distributed.run", "--standalone",
                            f"--nproc-per-node={processes}", rank])
                    started = time.perf_counter()
                    result = subprocess.run(cmd + [corpus, "-o", out, "--model", model, "--seed",
                                                   str(seed), "--threads", str(threads),
                                                   "--options", options],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    if result.returncode != 0:
                        raise SystemExit(f"failed: {' '.join(cmd)}\n{result.stderr[-3000:]}")
                    info = json.loads(result.stdout.strip().splitlines()[-1])
                    q = quality(KeyedVectors.load_word2vec_format(out, binary=True), order)
                    cache[key] = {"quality": list(q), "seconds": time.perf_counter() - started,
                                  "syncs": info.get("syncs")}
                    if args.cache:
                        with open(args.cache, "w") as f:
                            json.dump(cache, f, indent=1)
                q, seconds = cache[key]["quality"], cache[key]["seconds"]
                scores.append(q)
                print(f"{model:5s}  {name}  {seed:4d}  {q[0]:.4f}  {q[1]:.4f}  {q[2]:.4f}  "
                      f"{seconds:7.2f}  {options}  {cache[key].get('syncs') or ''}", flush=True)
            mean = [sum(s[i] for s in scores) / len(scores) for i in range(3)]
            base = base or mean
            print(f"{model:5s}  {name}  mean  {mean[0]:.4f}  {mean[1]:.4f}  {mean[2]:.4f}  "
                  f"vs 1 proc {mean[0] - base[0]:+.4f} {mean[1] - base[1]:+.4f} "
                  f"{mean[2] - base[2]:+.4f}  {options}", flush=True)


def vocab(args, work):
    corpus = decompress(CORPORA, work, args.times)
    print(f"corpus: the bench corpus x{args.times}, {count_tokens(corpus)} tokens; "
          f"the whole command, {args.repeat} rounds")
    setups = ((1, 1), (1, 2), (2, 1))
    runs = {setup: [] for setup in setups}
    for _ in range(args.repeat):  # rounds interleave the setups: the machine drifts
        for processes, threads in setups:
            out = os.path.join(work, f"vocab-{processes}x{threads}.txt")
            runs[processes, threads].append(timed(command(
                ["vocab", corpus, "-o", out, "--threads", str(threads)], processes,
                processes > 1)))
    files = {Path(work, f"vocab-{p}x{t}.txt").read_bytes() for p, t in setups}
    for (processes, threads), seconds in runs.items():
        print(f"vocab  {processes} proc x {threads} thread  "
              f"{', '.join(f'{s:.2f}' for s in seconds)} s  "
              f"(mean {sum(seconds) / len(seconds):.2f})", flush=True)
    print("the same file from every setup" if len(files) == 1 else "THE FILES DIFFER")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["speed", "quality", "big", "vocab", "ceiling",
                                         "glove-cost", "sync-quality"])
    parser.add_argument("--jobs", nargs="+", default=["sgns", "cbow", "cooccur", "glove"],
                        choices=["sgns", "cbow", "cooccur", "glove"], help="ceiling: which jobs")
    parser.add_argument("--configs", nargs="+", default=["{}"],
                        help="sync-quality: Word2Vec keyword arguments as JSON, one run set each")
    parser.add_argument("--cache", default=None, help="sync-quality: JSON file of finished runs")
    parser.add_argument("--intervals", type=int, nargs="+", default=[20_000_000, 2_000_000, 500_000])
    parser.add_argument("--strata", nargs="+", default=["on"], choices=["on", "off"],
                        help="glove-cost: stratified GloVe (the default) or not")
    parser.add_argument("--procs", type=int, default=2, help="glove-cost: processes")
    parser.add_argument("--sync-dtypes", nargs="+", default=["float32"],
                        choices=["float32", "float16"], help="glove-cost: the types to run")
    parser.add_argument("--models", nargs="+", default=["sgns", "cbow"], choices=["sgns", "cbow"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--glove-epochs", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="embforge-bench-dist-")
    try:
        {"speed": speed, "quality": quality_runs, "big": big, "vocab": vocab, "ceiling": ceiling,
         "glove-cost": glove_cost, "sync-quality": sync_quality}[args.what](args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
