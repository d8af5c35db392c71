"""Runs fuzz targets one after another and reports each one's executions,
coverage, crashes, hangs and out-of-memory kills (a markdown table on stdout,
the same as JSON with --json).

    PYTHONPATH=python python3 fuzz/run_all.py --work fuzz/work --seconds 2    # CI smoke
    PYTHONPATH=python python3 fuzz/run_all.py --work fuzz/work --runs 100000 \\
        --seconds 150 --nice 10                                              # long run

Each target starts from its seed corpus (regenerated into WORK/seeds) and
the inputs it kept in earlier runs (WORK/corpus); crashing inputs land in
WORK/artifacts/<target>/ (crash-*, timeout-*, oom-*). Exit status 1 when a
target crashed, hung, ran out of memory or ran fewer than --min-runs inputs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

FUZZ_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, FUZZ_DIR)

import _harness  # noqa: E402
from make_seeds import TARGETS, write_seeds  # noqa: E402

_STATUS = re.compile(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+)", re.M)
_DONE = re.compile(r"^Done (\d+) runs in (\d+) second", re.M)
_UNITS = re.compile(r"stat::number_of_executed_units:\s+(\d+)")
_PEAK = re.compile(r"stat::peak_rss_mb:\s+(\d+)")


def run_target(name: str, args) -> dict:
    work = os.path.abspath(args.work)
    seeds, corpus = (os.path.join(work, kind, name) for kind in ("seeds", "corpus"))
    artifacts = os.path.join(work, "artifacts", name)
    for folder in (corpus, artifacts):
        os.makedirs(folder, exist_ok=True)
    before = set(os.listdir(artifacts))
    command = [sys.executable, os.path.join(FUZZ_DIR, name + ".py"), corpus, seeds,
               f"-timeout={args.timeout}", f"-rss_limit_mb={args.rss_limit_mb}",
               f"-max_len={args.max_len}", f"-artifact_prefix={artifacts}/",
               "-print_final_stats=1"]
    if args.runs:
        command.append(f"-runs={args.runs}")
    if args.seed:
        command.append(f"-seed={args.seed}")
    if args.seconds:
        command.append(f"-max_total_time={args.seconds}")
    if args.nice:
        command[:0] = ["nice", "-n", str(args.nice)]
    started = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace")
    wall = time.monotonic() - started
    # libFuzzer ends the target without Python's atexit: its scratch folder
    # stays behind unless removed here (the target's process is gone now).
    _harness.remove_stale_scratch(_harness.scratch_base())
    log = done.stdout
    with open(os.path.join(work, name + ".log"), "w") as f:
        f.write(log)
    found = sorted(set(os.listdir(artifacts)) - before)
    status = _STATUS.findall(log)
    units = _UNITS.findall(log) or _DONE.findall(log)
    peak = _PEAK.findall(log)
    result = {
        "target": name,
        "executions": int(units[-1] if isinstance(units[-1], str) else units[-1][0]) if units
        else (int(status[-1][0]) if status else 0),
        "cov": int(status[-1][1]) if status else 0,
        "ft": int(status[-1][2]) if status else 0,
        "crashes": sum(a.startswith("crash-") for a in found),
        "hangs": sum(a.startswith("timeout-") for a in found),
        "oom": sum(a.startswith("oom-") for a in found),
        "peak_rss_mb": int(peak[-1]) if peak else None,
        "seconds": round(wall, 1),
        "exit": done.returncode,
        "artifacts": [os.path.join(artifacts, a) for a in found],
    }
    if done.returncode != 0 and not found:
        result["crashes"] += 1  # e.g. the target failed to start: show its log
        result["error"] = log[-3000:]
    elif found:
        result["error"] = log[-3000:]
    return result


def table(results) -> str:
    lines = ["| target | executions | cov | ft | crashes | hangs | out-of-memory | peak RSS MB | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['target']} | {r['executions']:,} | {r['cov']} | {r['ft']} | "
                     f"{r['crashes']} | {r['hangs']} | {r['oom']} | {r['peak_rss_mb']} | "
                     f"{r['seconds']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="folder for seeds, corpora, logs, artifacts")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--seconds", type=int, default=0, help="time budget per target")
    parser.add_argument("--runs", type=int, default=0, help="executions per target")
    parser.add_argument("--min-runs", type=int, default=1,
                        help="fail when a target ran fewer inputs than this")
    parser.add_argument("--timeout", type=int, default=10, help="seconds per input (a hang)")
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument("--max-len", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0,
                        help="libFuzzer's random seed (0: a new one each run); with --runs the "
                             "run is repeatable, as CI's smoke step needs")
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    if not (args.seconds or args.runs):
        parser.error("give --seconds, --runs or both")
    write_seeds(os.path.join(args.work, "seeds"), args.targets)
    results = []
    for name in args.targets:
        results.append(run_target(name, args))
        r = results[-1]
        print(f"{name}: {r['executions']} executions, cov {r['cov']} ft {r['ft']}, "
              f"{r['crashes']} crashes, {r['hangs']} hangs, {r['oom']} oom, {r['seconds']} s",
              file=sys.stderr, flush=True)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    failed = [r for r in results if r["crashes"] or r["hangs"] or r["oom"]
              or r["executions"] < args.min_runs]
    for r in failed:
        print(f"\n=== {r['target']}: {r['executions']} executions, artifacts "
              f"{r['artifacts']}\n{r.get('error', '')}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
