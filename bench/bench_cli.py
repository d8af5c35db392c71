"""The command line as users time it: whole commands, process start included.

    python bench/bench_cli.py --glove-dir /tmp/peers/GloVe/build [--repeat 3] [--threads 2]

Corpus: ../shared/data/corpus/{gcide,kdocs}.txt.gz (8.67M tokens), and the
same text decompressed to one plain file (gensim's corpus_file mode and
Stanford's tools read plain text only). Every figure is one command in a
fresh process (`python -m embforge ...`, a `python -c` running gensim, the
Stanford binaries through a shell), timed from launch to exit; the best of
--repeat runs, and the CPU seconds of that run (user + system of the
children), which say more than wall time on a shared machine. Ratios
compare figures of the same run.

Python packages run from their bytecode, as after `pip install` (which
compiles it): the bench first compiles the `.pyc` files of the embforge it
runs (and of gensim). A checkout run with PYTHONDONTWRITEBYTECODE=1, as on
the machine of bench/RESULTS.md, would otherwise compile every module again
in every run: 0.16 s of each `embforge cooccur` (median of 6 alternating
runs), which no installed copy pays.

* vocabulary: `embforge vocab CORPUS -o vocab.txt --threads T` from the
  plain text and from the .gz files, against gensim's
  `Word2Vec(min_count=5, workers=T).build_vocab(corpus_file=plain)`.
* co-occurrence: `embforge cooccur CORPUS -o cooc.bin --window 10 --threads
  T` (its vocabulary scan included; GloVe's binary records) against
  Stanford's `vocab_count -min-count 5 < plain > vocab.txt` followed by
  `cooccur -vocab-file vocab.txt -window-size 10 -memory M < plain >
  cooc.bin` (both symmetric with 1/d weighting, the defaults of both; the
  same memory budget, --memory). Stanford's tools are built from their
  public source with their own Makefile (not part of this repository):
  git clone https://github.com/stanfordnlp/GloVe && make, then --glove-dir.
  The two matrices are checked to hold the same number of records once
  merged (Stanford's file holds every pair once; ours too).
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from shared_data import CORPORA, write_plain  # noqa: E402

ROOT = os.path.dirname(HERE)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: str, repeat: int, env: Dict[str, str]) -> Tuple[float, float]:
    """(best wall seconds, CPU seconds of that run) of a shell command."""
    best: Optional[Tuple[float, float]] = None
    for _ in range(repeat):
        cpu, start = children_cpu(), time.perf_counter()
        done = subprocess.run(command, shell=True, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        wall, cpu = time.perf_counter() - start, children_cpu() - cpu
        if done.returncode != 0:
            raise SystemExit(f"failed ({done.returncode}): {command}\n{done.stderr}")
        if best is None or wall < best[0]:
            best = (wall, cpu)
    assert best is not None
    return best


def compile_bytecode(py: str, env: Dict[str, str], packages: List[str]) -> None:
    """Writes the .pyc files of `packages` as the timed interpreter finds
    them (a package that is not installed is skipped)."""
    code = ("import compileall, importlib.util, os, sys\n"
            "for name in sys.argv[1:]:\n"
            "    spec = importlib.util.find_spec(name)\n"
            "    if spec is not None and spec.origin:\n"
            "        compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)\n")
    subprocess.run([py, "-c", code, *packages], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="1GB", help="co-occurrence budget, both tools")
    parser.add_argument("--glove-dir", default="/tmp/peers/GloVe/build",
                        help="folder with Stanford's vocab_count and cooccur")
    parser.add_argument("--only", choices=["vocab", "cooccur"], default=None)
    args = parser.parse_args()
    py = sys.executable
    env = dict(os.environ)
    if os.path.isdir(os.path.join(ROOT, "python", "embforge")) and "PYTHONPATH" not in env:
        env["PYTHONPATH"] = os.path.join(ROOT, "python")  # the working tree's build
    compile_bytecode(py, env, ["embforge", "gensim"])
    workdir = tempfile.mkdtemp(prefix="embforge-cli-")
    rows: List[Tuple[str, str, float, float, str]] = []
    try:
        plain = write_plain(CORPORA, os.path.join(workdir, "corpus.txt"))
        gz = " ".join(CORPORA)
        t = args.threads
        em = f"{py} -m embforge"
        if args.only in (None, "vocab"):
            gensim = (f"{py} -c \"from gensim.models import Word2Vec; "
                      f"Word2Vec(vector_size=100, min_count=5, workers={t})"
                      f".build_vocab(corpus_file='{plain}')\"")
            base = run(gensim, args.repeat, env)
            rows.append(("vocabulary", f"gensim build_vocab (plain text, workers={t})", *base, "1.00"))
            for name, corpus in (("plain text", plain), (".gz files", gz)):
                got = run(f"{em} vocab {corpus} -o {workdir}/vocab.txt --threads {t}",
                          args.repeat, env)
                rows.append(("vocabulary", f"embforge vocab ({name}, --threads {t})", *got,
                             f"**{base[0] / got[0]:.2f}x**"))
        if args.only in (None, "cooccur"):
            vc, co = (os.path.join(args.glove_dir, n) for n in ("vocab_count", "cooccur"))
            if not (os.access(vc, os.X_OK) and os.access(co, os.X_OK)):
                raise SystemExit(f"Stanford's vocab_count/cooccur not found in {args.glove_dir}")
            number, unit = re.fullmatch(r"([0-9.]+)\s*([KMG]?)B?", args.memory.upper()).groups()
            gigabytes = float(number) * {"": 1e-9, "K": 1e-6, "M": 1e-3, "G": 1.0}[unit]
            stanford = (f"{vc} -min-count 5 -verbose 0 < {plain} > {workdir}/svocab.txt && "
                        f"{co} -vocab-file {workdir}/svocab.txt -window-size 10 -symmetric 1 "
                        f"-memory {gigabytes} -verbose 0 -overflow-file {workdir}/overflow "
                        f"< {plain} > {workdir}/scooc.bin")
            base = run(stanford, args.repeat, env)
            rows.append(("co-occurrence", "Stanford vocab_count + cooccur (plain text, 1 thread)",
                         *base, "1.00"))
            for name, corpus in (("plain text", plain), (".gz files", gz)):
                got = run(f"{em} cooccur {corpus} -o {workdir}/cooc.bin --window 10 --threads {t} "
                          f"--memory {args.memory} --quiet", args.repeat, env)
                rows.append(("co-occurrence", f"embforge cooccur ({name}, --threads {t})", *got,
                             f"**{base[0] / got[0]:.2f}x**"))
            ours, theirs = (os.path.getsize(f"{workdir}/{n}") for n in ("cooc.bin", "scooc.bin"))
            print(f"co-occurrence files: embforge {ours // 16} records, Stanford {theirs // 16}")
        load = os.getloadavg()
        print(f"\n{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"at the end; best of {args.repeat}\n")
        print("| task | command | seconds | CPU-s | x peer |")
        print("|---|---|---:|---:|---:|")
        for task, name, wall, cpu, ratio in rows:
            print(f"| {task} | {name} | {wall:.2f} | {cpu:.2f} | {ratio} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
