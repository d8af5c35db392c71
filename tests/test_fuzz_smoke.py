"""The fuzzer itself, briefly: every target in fuzz/ runs FUZZ_RUNS inputs
under atheris (coverage-guided, Python instrumentation) and must end
without a crash, hang or out-of-memory kill after executing inputs. The long
run and its figures are in bench/RESULTS.md; this catches a reader change
that breaks on the first mutations of its seeds. Skipped without atheris
(pip install 'embforge[fuzz]')."""
import os
import subprocess
import sys

import pytest

pytest.importorskip("atheris", reason="the fuzz smoke step needs atheris: "
                                      "pip install 'embforge[fuzz]'")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Per target: a fixed number of mutations from a fixed seed, so that CI is
# repeatable (a time budget and a fresh seed would fuzz different inputs on
# every run, and a new crash would fail an unrelated change); exploring is
# the long run's job. About 35 s for the 16 targets on an idle 2-core machine.
FUZZ_RUNS = 2000
FUZZ_SEED = 1
MIN_RUNS = 20          # fewer executions means the target is not fuzzing anything


def test_every_target_runs_clean_for_a_moment(tmp_path):
    import embforge
    env = dict(os.environ)
    # The fuzzers import the embforge this test imported (installed, or python/).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(os.path.abspath(embforge.__file__))),
                    env.get("PYTHONPATH")) if p)
    # libFuzzer ends each target without atexit; run_all removes its scratch folder.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env["EMBFORGE_FUZZ_SCRATCH"] = str(scratch)
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "fuzz", "run_all.py"), "--work", str(tmp_path / "work"),
         "--runs", str(FUZZ_RUNS), "--seed", str(FUZZ_SEED), "--seconds", "60",
         "--min-runs", str(MIN_RUNS), "--max-len", "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-6000:]
    assert os.listdir(scratch) == []
