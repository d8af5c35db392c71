"""Anonymous memory of a whole fit at 1x and 10x the bench corpus.

Each measurement is a fresh process (`--child JOB SCALE`); this parent samples
its /proc/<pid>/status every 10 ms and keeps the peaks of RssAnon (the
process's heap, stacks and anonymous maps: what a corpus in RAM costs),
RssFile (file pages mapped: a memory-mapped stream, the libraries) and
RssShmem. /proc has no peak of RssAnon (VmHWM is the peak of their sum), hence
the sampling; the child also reports its VmHWM and its RssAnon right after
`import embforge` (the interpreter's baseline).

The 10x corpus is the two files given ten times over (a list of 20 paths:
the same text, 86.7M tokens, without a 10x file on disk), counted with
min_count 5 x scale: every count is then exactly 10x, so the vocabulary
(58,362 words) and the model's weights are the same at both scales and only
the corpus grows. (With min_count 5 at both, the words seen once at 1x pass
at 10x: 247,457 words, and the weights alone grow by 151 MB.)

    nice python bench/bench_memory.py --tree after=python --tree before=../main/python

Jobs: `w2v` is `Word2Vec(sg=1, epochs=1, workers=2).fit(corpus)` with every
other default (memory included); `cooc` is `cooccurrence(corpus, window=10,
memory="1GB", workers=2)`.
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from shared_data import CORPORA  # noqa: E402

FIELDS = ("RssAnon", "RssFile", "RssShmem", "VmHWM", "VmRSS")


def status(pid="self") -> dict:
    """The FIELDS of /proc/PID/status, in bytes (empty once the process is gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name in FIELDS:
                    out[name] = int(value.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


# ---------------------------------------------------------------- the child
def child(job: str, scale: int) -> None:
    import embforge
    paths = CORPORA * scale
    min_count = 5 * scale
    baseline = status()
    started = time.perf_counter()
    extra = {}
    if job == "w2v":
        model = embforge.Word2Vec(sg=1, epochs=1, workers=2, min_count=min_count,
                                  progress=False).fit(paths)
        corpus = model._corpus
        extra = {"words": len(corpus.vocab), "ids": int(corpus.n_tokens), "sentences": len(corpus),
                 "stream_in_ram": int(getattr(corpus, "ram_bytes",
                                              corpus.ids.nbytes + corpus.offsets.nbytes)),
                 "memory": getattr(model, "memory", None)}
    elif job == "cooc":
        matrix = embforge.cooccurrence(paths, window=10, memory="1GB", workers=2,
                                       min_count=min_count, progress=False)
        extra = {"words": len(matrix.vocab), "nnz": int(matrix.nnz), "on_disk": bool(matrix.stats.get("result_file_counts")),
                 "planned_peak": int(matrix.stats["planned_peak_bytes"]),
                 "spilled_runs": int(matrix.stats["spilled_runs"])}
    else:
        raise ValueError(f"unknown job {job!r}")
    seconds = time.perf_counter() - started
    print(json.dumps({"baseline_anon": baseline["RssAnon"], "seconds": seconds,
                      "end": status(), **extra}), flush=True)


# ---------------------------------------------------------------- the parent
def measure(python_path: str, job: str, scale: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(python_path))
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", job,
                                str(scale)], stdout=subprocess.PIPE, env=env, text=True)
    peaks = dict.fromkeys(FIELDS, 0)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for name, value in status(process.pid).items():
                peaks[name] = max(peaks[name], value)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise RuntimeError(f"{job} x{scale} with {python_path} failed ({process.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak"] = peaks
    return result


def mb(n) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("JOB", "SCALE"), help=argparse.SUPPRESS)
    parser.add_argument("--tree", action="append", default=None,
                        help="NAME=PYTHONPATH of an embforge tree (repeatable; default after=python)")
    parser.add_argument("--jobs", default="w2v,cooc")
    parser.add_argument("--scales", default="1,10")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    trees = [t.split("=", 1) for t in (args.tree or ["after=" + os.path.join(HERE, "..", "python")])]
    print(f"load {os.getloadavg()[0]:.1f}; peaks sampled every 10 ms", flush=True)
    rows = []
    for name, path in trees:
        for job in args.jobs.split(","):
            for scale in (int(s) for s in args.scales.split(",")):
                r = measure(path, job, scale)
                peak = r["peak"]
                row = (f"| {name} | {job} | {scale}x | {mb(peak['RssAnon'])} | "
                       f"{mb(r['baseline_anon'])} | {mb(peak['RssFile'])} | "
                       f"{mb(r['end'].get('VmHWM', peak['VmHWM']))} | {r['seconds']:.1f} s | "
                       + ", ".join(f"{k} {v:,}" if isinstance(v, int) and not isinstance(v, bool)
                                   else f"{k} {v}" for k, v in r.items()
                                   if k not in ("peak", "end", "baseline_anon", "seconds")) + " |")
                rows.append(row)
                print(row, flush=True)
    print("\n| tree | job | corpus | peak RssAnon | RssAnon after import | peak RssFile | VmHWM "
          "| time | details |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
