"""The fuzzer itself, briefly: every target in fuzz/ runs for FUZZ_SECONDS
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
FUZZ_SECONDS = 1       # per target: about 35 s for the 15 targets with start-up, on an idle 2-core machine
MIN_RUNS = 20          # fewer executions means the target is not fuzzing anything


def test_every_target_runs_clean_for_a_moment(tmp_path):
    import embforge
    env = dict(os.environ)
    # The fuzzers import the embforge this test imported (installed, or python/).
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(os.path.abspath(embforge.__file__))),
                    env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "fuzz", "run_all.py"), "--work", str(tmp_path),
         "--seconds", str(FUZZ_SECONDS), "--min-runs", str(MIN_RUNS), "--max-len", "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-6000:]
