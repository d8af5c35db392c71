"""The GPU check's stages, in order of value, each under its own time cap.

    python3 bench/gpu_stages.py [--dry-run] [--budget 285] [--data .gpu_data] [--out DIR]

run by bench/gpu_check.sh (which puts nvcc on PATH first). Standard library
only: it runs before the package is installed.

Order (most valuable first; a lease cut short has measured what matters):
  build, GPU tests, headline throughputs (skip-gram words/s, co-occurrence
  tokens/s, GloVe pair-updates/s), the CPU reference (only when no
  cpu_reference.json was carried), quality against the CPU (seed 1), then the
  optional stages: FastText (skip-gram/CBOW words/s and scores against the
  CPU, one seed), compute-sanitizer memcheck and racecheck on the small test
  fixtures, quality seeds 2.., the large-vocabulary Zipf case, tuning
  variants, the distributed NCCL run.
Each stage runs as a child process group, killed at min(its cap, the budget
left); its rows reach $OUT/gpu_check/rows.jsonl as they are measured and its
part of the table is printed the moment it ends, so whatever is cut short, every
finished stage's numbers are on the screen and on disk. A stage is skipped,
saying so, when less time is left than it needs to be worth starting.

--dry-run (or EMBFORGE_GPU_CHECK_DRY=1) runs the same schedule on the CPU with
tiny stand-ins (no build, no GPU, a small synthetic corpus), in a few seconds:
what tests/test_gpu_check.py runs in CI.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gpu_report  # noqa: E402  (bench/ is not a package)

# Seconds kept back from every cap for the scheduler's own printing.
RESERVE = 3.0
KILL_GRACE = 5.0   # SIGTERM, then SIGKILL after this long


@dataclass
class Stage:
    name: str
    command: list            # argv
    cap: float               # at most this many seconds
    need: float              # not started with less than this left
    optional: bool = False
    env: dict = field(default_factory=dict)
    skip: Optional[str] = None       # a reason known before starting (a tool missing)
    requires: tuple = ()             # stages that must have ended "ok"
    summary: Optional[str] = None    # the last output line containing this becomes the note


@dataclass
class Outcome:
    name: str
    status: str       # ok, failed (rc N), timed out (cap Ns), skipped: why
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def plan_cap(stage: Stage, left: float, reserve: float = RESERVE) -> Optional[float]:
    """The time cap a stage gets with `left` seconds of budget, or None when it
    would not get the time it needs."""
    cap = min(stage.cap, left - reserve)
    return cap if cap >= stage.need else None


def run_capped(command, cap: float, env: dict, log_path: str, out, on_line: Callable = None) -> tuple:
    """Runs `command` in its own process group, its output streamed to `out`
    (indented) and to `log_path`; kills the whole group after `cap` seconds.
    Returns (return code or None when killed, seconds)."""
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, **env}, start_new_session=True, text=True,
                                errors="replace", bufsize=1)

        def pump():
            for line in proc.stdout:
                log.write(line)
                log.flush()
                print("    " + line.rstrip("\n"), file=out, flush=True)
                if on_line:
                    on_line(line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            rc = None
            for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, None)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            proc.wait()
        reader.join(timeout=5)
    return rc, time.monotonic() - started


def run_stages(stages, budget: float, log_dir: str, rows_path: str, out=None,
               clock: Callable = time.monotonic) -> list:
    """Runs `stages` in order within `budget` seconds; prints each stage's part
    of the table as it ends; returns one Outcome per stage."""
    out = out or sys.stdout
    start = clock()
    outcomes = {}
    for stage in stages:
        left = budget - (clock() - start)
        missing = [r for r in stage.requires if r not in outcomes or not outcomes[r].ok]
        cap = plan_cap(stage, left)
        if stage.skip:
            outcome = Outcome(stage.name, f"skipped: {stage.skip}", 0.0)
        elif missing:
            outcome = Outcome(stage.name, f"skipped: {', '.join(missing)} did not pass", 0.0)
        elif cap is None:
            outcome = Outcome(stage.name, f"skipped: needs {stage.need:.0f}s, {max(left, 0):.0f}s left", 0.0)
        else:
            print(f"== {stage.name} (cap {cap:.0f}s, {left:.0f}s of the budget left)", file=out, flush=True)
            seen = []
            on_line = (lambda line: seen.append(line.strip()) if stage.summary in line else None) \
                if stage.summary else None
            rc, seconds = run_capped(stage.command, cap, stage.env,
                                     os.path.join(log_dir, f"{stage.name}.log"), out, on_line)
            status = "ok" if rc == 0 else (f"timed out (cap {cap:.0f}s)" if rc is None
                                          else f"failed (rc {rc})")
            outcome = Outcome(stage.name, status, seconds, seen[-1] if seen else "")
        outcomes[stage.name] = outcome
        rec = gpu_report.Recorder(stage.name, rows_path, out=open(os.devnull, "w"))
        rec.row("stage", outcome.status, note=f"{outcome.seconds:.0f}s" + (f"; {outcome.note}"
                                                                           if outcome.note else ""))
        part = [r for r in gpu_report.read_rows(rows_path) if r["stage"] == stage.name]
        print(f"-- {stage.name}: {outcome.status} after {outcome.seconds:.0f}s "
              f"(total {clock() - start:.0f}s)", file=out)
        print(gpu_report.markdown(part), file=out, flush=True)
    return [outcomes[s.name] for s in stages]


# ------------------------------------------------------------ the stage list
def bench(stage: str, args, *extra) -> list:
    command = [args.python, os.path.join(HERE, "gpu_bench.py"), stage, "--data", args.data,
               "--out", args.out, "--rows", args.rows_path]
    return command + (["--dry-run"] if args.dry_run else []) + list(extra)


def make_stages(args) -> list:
    py = args.python
    if args.dry_run:
        sleeper = [py, "-c", "import time; print('a stage past its cap', flush=True); time.sleep(60)"]
        return [
            Stage("build", [py, "-c", "print('dry run: no build')"], cap=10, need=1),
            Stage("tests", [py, "-c", "print('dry run: 0 passed')"], cap=10, need=1,
                  requires=("build",), summary="passed"),
            Stage("headline", bench("headline", args), cap=60, need=2, requires=("build",)),
            Stage("cpu-reference", bench("cpu-reference", args), cap=60, need=2, requires=("build",)),
            Stage("quality", bench("quality", args), cap=60, need=2, requires=("build",)),
            Stage("fasttext", bench("fasttext", args), cap=60, need=2, optional=True, requires=("build",)),
            Stage("memcheck", sleeper, cap=1.5, need=1, optional=True),  # shows a cap at work
            Stage("racecheck", [], cap=10, need=1, optional=True,
                  skip="compute-sanitizer not found (dry run)"),
            Stage("seeds", bench("seeds", args), cap=60, need=2, optional=True, requires=("build",)),
            Stage("large-vocab", bench("large-vocab", args), cap=60, need=2, optional=True,
                  requires=("build",)),
            Stage("tuning", bench("tuning", args), cap=60, need=2, optional=True, requires=("build",)),
            Stage("nccl", [], cap=10, need=1e9, optional=True),  # never fits: shows a skip
        ]
    pip_log = os.path.join(args.out, "pip-install.log")
    build = (f"if ! EMBFORGE_CUDA=ON PIP_BREAK_SYSTEM_PACKAGES=1 CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "
             f"{py} -m pip install --no-build-isolation --no-deps "
             f"--config-settings=cmake.define.CMAKE_CUDA_ARCHITECTURES=90 . >{pip_log} 2>&1; then "
             f"tail -40 {pip_log}; echo BUILD FAILED; exit 1; fi; tail -1 {pip_log}; cd /tmp && "
             f"{py} -c \"from embforge import _native as n; ok = n.cuda_available(); "
             "print('cuda available:', ok, n.cuda_unavailable_reason() or '', n.device_info(0) if ok else ''); "
             "raise SystemExit(0 if ok else 1)\"")
    sanitizer = shutil.which("compute-sanitizer")
    # The small fixtures: the cuda-marked tests of the CUDA test files (a
    # 53-word toy corpus). torch's caching allocator would hide an overrun
    # inside a pooled block from memcheck, so it is switched off.
    fixtures = [py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "cuda",
                "tests/test_cuda_word2vec.py", "tests/test_cuda_glove.py", "tests/test_cuda_cooccur.py",
                "tests/test_cuda_fasttext.py"]
    # every launch waited for and checked: a fault is pinned on its kernel
    san_env = {"PYTORCH_NO_CUDA_MEMORY_CACHING": "1", "EMBFORGE_CUDA_SYNC": "1"}
    no_san = None if sanitizer else "compute-sanitizer not found"

    def sanitize(tool):
        return [sanitizer or "compute-sanitizer", "--tool", tool, "--error-exitcode", "1",
                "--print-limit", "20"] + fixtures

    # The distributed path on the GPU: the command under torchrun with one
    # NCCL rank, then two gloo ranks sharing the GPU (NCCL refuses two ranks
    # on one device), which run the replicas' syncs on CUDA tensors, in
    # float32 and float16 (bench/gpu_replicas.py)
    nccl = ["bash", "-c", f"zcat {args.data}/kdocs.txt.gz | head -c 20000000 > /tmp/embforge-nccl.txt && "
            f"{py} -m torch.distributed.run --standalone --nproc-per-node 1 -m embforge train "
            "--model sgns /tmp/embforge-nccl.txt -o /tmp/embforge-nccl.bin --device cuda --epochs 1 --quiet "
            "&& ls -l /tmp/embforge-nccl.bin && "
            f"{py} -m torch.distributed.run --standalone --nproc-per-node 2 "
            f"{os.path.join(HERE, 'gpu_replicas.py')} /tmp/embforge-nccl.txt --device cuda"]
    return [
        Stage("build", ["bash", "-c", build], cap=180, need=60, summary="cuda available"),
        Stage("tests", [py, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "cuda", "tests"],
              cap=100, need=30, requires=("build",), summary="passed"),
        Stage("headline", bench("headline", args), cap=75, need=25, requires=("build",)),
        Stage("cpu-reference", bench("cpu-reference", args), cap=75, need=20, requires=("build",)),
        Stage("quality", bench("quality", args), cap=60, need=20, requires=("build",)),
        # ~20 s expected on an H200 (2 epochs x 2 models on GPU and CPU);
        # the cap keeps a slow first run from eating the sanitizers' time
        Stage("fasttext", bench("fasttext", args), cap=45, need=20, optional=True, requires=("build",)),
        Stage("memcheck", sanitize("memcheck"), cap=45, need=20, optional=True, env=san_env,
              skip=no_san, requires=("build",), summary="ERROR SUMMARY"),
        Stage("racecheck", sanitize("racecheck"), cap=45, need=20, optional=True, env=san_env,
              skip=no_san, requires=("build",), summary="ERROR SUMMARY"),
        Stage("seeds", bench("seeds", args), cap=60, need=20, optional=True, requires=("build",)),
        Stage("large-vocab", bench("large-vocab", args), cap=60, need=25, optional=True,
              requires=("build",)),
        Stage("tuning", bench("tuning", args), cap=40, need=15, optional=True, requires=("build",)),
        Stage("nccl", nccl, cap=100, need=40, optional=True, requires=("build",)),
    ]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true",
                   default=os.environ.get("EMBFORGE_GPU_CHECK_DRY", "") not in ("", "0"),
                   help="the schedule on the CPU with tiny stand-ins (EMBFORGE_GPU_CHECK_DRY=1)")
    p.add_argument("--budget", type=float,
                   default=float(os.environ.get("EMBFORGE_GPU_CHECK_SECONDS", 285)),
                   help="seconds for the whole check (EMBFORGE_GPU_CHECK_SECONDS, default 285)")
    p.add_argument("--data", default=os.environ.get("EMBFORGE_GPU_DATA", os.path.join(ROOT, ".gpu_data")))
    p.add_argument("--out", default=os.path.join(os.environ.get("OUT") or "/tmp/embforge-gpu-check",
                                                 "gpu_check"))
    p.add_argument("--python", default=os.environ.get("PYTHON") or sys.executable)
    p.add_argument("--only", default="", help="comma-separated stage names to run (the rest skipped)")
    args = p.parse_args(argv)
    if args.budget <= 0:
        p.error(f"--budget must be > 0, got {args.budget}")
    args.rows_path = os.path.join(args.out, "rows.jsonl")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    # rerunnable: a fresh table and fresh GPU results each run; the CPU
    # reference (cpu_reference.json) and the encoded corpus stay as caches
    for stale in (args.rows_path, os.path.join(args.out, "gpu_quality.json")):
        if os.path.exists(stale):
            os.remove(stale)
    stages = make_stages(args)
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {s.name for s in stages}
        if unknown:
            raise ValueError(f"--only names unknown stages {sorted(unknown)}; "
                             f"stages are {[s.name for s in stages]}")
        for s in stages:
            if s.name not in wanted:
                s.skip = s.skip or "not in --only"
                s.requires = ()
    outcomes = run_stages(stages, args.budget, args.out, args.rows_path)
    rows = gpu_report.read_rows(args.rows_path)
    print("\n== the whole table (also " + args.rows_path + ")")
    print(gpu_report.markdown(rows))
    failed = [o.name for o, s in zip(outcomes, stages) if not s.optional and not o.ok
              and not o.status.startswith("skipped: not in --only")]
    failed += sorted({r["stage"] for r in rows if r["value"] is False})
    if failed:
        print("needs a look: " + ", ".join(dict.fromkeys(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
