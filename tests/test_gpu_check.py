"""The GPU check (bench/gpu_check.sh, gpu_stages.py, gpu_bench.py) on the CPU:
its argument parsing, the stage scheduler and its time caps, the table, the
Zipf stream of the large-vocabulary case, the tolerance from the CPU's seed
spread, and the whole schedule end to end in its dry run (the CPU standing in
for the GPU on a tiny corpus). No GPU is needed; what only a GPU can show (the
figures themselves) is not checked here."""
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)

import gpu_report  # noqa: E402
import gpu_stages  # noqa: E402
import gpu_stats  # noqa: E402
from gpu_stages import Stage  # noqa: E402

PY = sys.executable


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_check_script_is_valid_bash():
    subprocess.run(["bash", "-n", os.path.join(BENCH, "gpu_check.sh")], check=True)


# ---------------------------------------------------------------- arguments
def test_stage_arguments(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBFORGE_GPU_CHECK_DRY", raising=False)
    monkeypatch.setenv("EMBFORGE_GPU_CHECK_SECONDS", "123")
    monkeypatch.setenv("OUT", str(tmp_path))
    args = gpu_stages.parse_args([])
    assert args.budget == 123 and not args.dry_run
    assert args.rows_path == os.path.join(str(tmp_path), "gpu_check", "rows.jsonl")
    monkeypatch.setenv("EMBFORGE_GPU_CHECK_DRY", "1")
    assert gpu_stages.parse_args([]).dry_run
    assert gpu_stages.parse_args(["--budget", "9"]).budget == 9
    with pytest.raises(SystemExit):
        gpu_stages.parse_args(["--budget", "0"])


def test_bench_arguments():
    import gpu_bench
    args = gpu_bench.parse_args(["quality", "--dry-run"])
    assert args.stage == "quality" and args.dry_run and args.seeds == 3 and args.repeat == 8
    for bad in (["nonsense"], ["quality", "--seeds", "2"], ["headline", "--repeat", "0"]):
        with pytest.raises(SystemExit):
            gpu_bench.parse_args(bad)


def test_stages_are_in_order_of_value(tmp_path):
    """Build, tests, the three headline throughputs and quality come before
    every optional stage; the tuning variants no longer precede co-occurrence
    and GloVe."""
    args = gpu_stages.parse_args(["--out", str(tmp_path), "--data", str(tmp_path)])
    args.dry_run = False
    names = [s.name for s in gpu_stages.make_stages(args)]
    assert names[:5] == ["build", "tests", "headline", "cpu-reference", "quality"]
    stages = gpu_stages.make_stages(args)
    first_optional = min(i for i, s in enumerate(stages) if s.optional)
    assert all(not s.optional for s in stages[:first_optional])
    assert all(s.optional for s in stages[first_optional:])
    assert names.index("tuning") > names.index("headline") and names[-1] == "nccl"
    assert {"memcheck", "racecheck", "seeds", "large-vocab", "fasttext"} <= set(names[first_optional:])
    assert names[first_optional] == "fasttext"  # new kernels' first figures before the extras
    for s in stages:
        assert 0 < s.need <= s.cap


# ---------------------------------------------------------------- scheduler
def test_plan_cap():
    s = Stage("x", [], cap=60, need=20)
    assert gpu_stages.plan_cap(s, 1000, reserve=3) == 60
    assert gpu_stages.plan_cap(s, 40, reserve=3) == 37
    assert gpu_stages.plan_cap(s, 22, reserve=3) is None


def _writer(stage, rows, metric, then=""):
    code = (f"import sys; sys.path.insert(0, {BENCH!r}); import gpu_report; "
            f"gpu_report.Recorder({stage!r}, {rows!r}).row({metric!r}, 1.5e8, kept=0.7, nnz=12, "
            f"working_set=4096); {then}")
    return [PY, "-c", code]


def test_scheduler_caps_skips_and_keeps_finished_rows(tmp_path):
    rows = str(tmp_path / "rows.jsonl")
    pid_file = tmp_path / "grandchild.pid"
    sleeper = ("import subprocess, time; p = subprocess.Popen(['sleep', '60']); "
               f"open({str(pid_file)!r}, 'w').write(str(p.pid)); print('waiting', flush=True); "
               "time.sleep(60)")
    stages = [
        Stage("fast", _writer("fast", rows, "speed"), cap=20, need=1),
        Stage("broken", [PY, "-c", "raise SystemExit(3)"], cap=20, need=1),
        Stage("after-broken", [PY, "-c", "print('never')"], cap=20, need=1, requires=("broken",)),
        Stage("slow", _writer("slow", rows, "before the cap", then=sleeper), cap=1.5, need=1),
        Stage("absent", [], cap=20, need=1, skip="tool not found"),
        Stage("greedy", [PY, "-c", "print('never')"], cap=1000, need=1000),
        Stage("tail", [PY, "-c", "print('tests: 3 passed')"], cap=20, need=1, summary="passed"),
    ]
    out = io.StringIO()
    started = time.monotonic()
    outcomes = gpu_stages.run_stages(stages, 100, str(tmp_path), rows, out=out)
    assert time.monotonic() - started < 15  # the slow stage was cut at its cap
    status = {o.name: o.status for o in outcomes}
    assert status["fast"] == "ok" and status["broken"] == "failed (rc 3)"
    assert status["after-broken"] == "skipped: broken did not pass"
    assert status["slow"] == "timed out (cap 2s)"
    assert status["absent"] == "skipped: tool not found"
    assert status["greedy"].startswith("skipped: needs 1000s")
    assert outcomes[-1].note == "tests: 3 passed"
    # the killed stage's row survives, and its whole process group is gone
    kept = gpu_report.read_rows(rows)
    assert [r["metric"] for r in kept if r["stage"] == "slow"] == ["before the cap", "stage"]
    assert not _running(int(pid_file.read_text()))
    printed = out.getvalue()
    assert "| fast | speed | 150.0M |  | 0.700 | 12 | 4.0 KiB |" in printed
    assert printed.index("| fast | speed") < printed.index("== slow")  # printed as it finished
    assert (tmp_path / "slow.log").read_text().endswith("waiting\n")


def _running(pid) -> bool:
    """True while `pid` runs (a zombie waiting for its reaper does not)."""
    for _ in range(20):
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        except OSError:  # no /proc: ask the kernel
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            return True
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


# -------------------------------------------------------------------- table
def test_table_formatting_and_rows_file(tmp_path):
    assert gpu_report.fmt_value(123_456_789.0) == "123.5M"
    assert gpu_report.fmt_value(0.25) == "0.2500" and gpu_report.fmt_value(12_345.6) == "12,346"
    assert gpu_report.fmt_value(True) == "True" and gpu_report.fmt_value(float("nan")) == "nan"
    assert gpu_report.fmt_bytes(48 << 20) == "48.0 MiB" and gpu_report.fmt_bytes(None) == ""
    assert gpu_report.fmt_count(19_407_824) == "19.4M"
    path = tmp_path / "rows.jsonl"
    out = io.StringIO()
    rec = gpu_report.Recorder("headline", str(path), out=out)
    rec.row("a|b", 2.0, target=">= 1", note="n")
    assert "a|b: 2.0000" in out.getvalue()
    with open(path, "a") as f:
        f.write('{"stage": "cut by a ki')  # a line cut short by a kill
    rows = gpu_report.read_rows(str(path))
    assert len(rows) == 1
    table = gpu_report.markdown(rows).splitlines()
    assert table[0] == "| " + " | ".join(gpu_report.COLUMNS) + " |"
    assert table[2] == "| headline | a/b | 2.0000 | >= 1 |  |  |  | n |"  # no stray column


# ---------------------------------------------------------------- statistics
def test_tolerance_from_the_cpu_spread():
    cpu = [0.24, 0.25, 0.26]  # sd 0.01
    assert gpu_stats.tolerance(cpu, 3) == pytest.approx(3 * 0.01 * math.sqrt(2 / 3))
    assert gpu_stats.tolerance(cpu, 1) == pytest.approx(3 * 0.01 * math.sqrt(4 / 3))
    assert gpu_stats.tolerance([0.3] * 3, 3) == pytest.approx(3 * gpu_stats.MIN_SD * math.sqrt(2 / 3))
    c = gpu_stats.compare(cpu, [0.25, 0.26, 0.27])
    assert c["ok"] and c["diff"] == pytest.approx(0.01) and c["n_cpu"] == 3 and c["n_gpu"] == 3
    assert not gpu_stats.compare(cpu, [0.28, 0.28, 0.29])["ok"]
    assert not gpu_stats.compare(cpu, [])["ok"]
    assert gpu_stats.spread([0.1, float("nan"), 0.3])[2] == 2
    with pytest.raises(ValueError, match=r"0\.25"):
        gpu_stats.tolerance([0.25], 3)
    with pytest.raises(ValueError, match="n_gpu"):
        gpu_stats.tolerance(cpu, 0)


@pytest.mark.parametrize("exponent", [1.0, 1.5])
def test_zipf_stream_size_and_distribution(exponent):
    vocab, n = 1000, 200_000
    ids, offsets, counts = gpu_stats.zipf_stream(vocab, n, exponent=exponent, sentence_length=20, seed=3)
    assert ids.dtype == np.uint32 and len(ids) == n and int(ids.max()) < vocab
    assert offsets.dtype == np.int64 and offsets[0] == 0 and offsets[-1] == n
    assert np.all(np.diff(offsets) == 20) and len(offsets) == n // 20 + 1
    assert len(counts) == vocab and counts.min() >= 1
    seen = np.bincount(ids, minlength=vocab)
    assert np.array_equal(np.maximum(seen, 1), counts)
    p = 1.0 / np.arange(1, vocab + 1) ** exponent
    p /= p.sum()
    top = slice(0, 20)  # each within 5 binomial standard deviations
    assert np.all(np.abs(seen[top] - n * p[top]) < 5 * np.sqrt(n * p[top] * (1 - p[top])))
    ranks = np.arange(1, 101)
    slope = np.polyfit(np.log(ranks), np.log(seen[:100]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.08)
    again = gpu_stats.zipf_stream(vocab, n, exponent=exponent, sentence_length=20, seed=3)[0]
    assert np.array_equal(ids, again)
    short = gpu_stats.zipf_stream(10, 45, sentence_length=20)[1]
    assert list(short) == [0, 20, 40, 45]


def test_zipf_stream_rejects_bad_sizes():
    with pytest.raises(ValueError, match="-5"):
        gpu_stats.zipf_stream(-5, 10)
    with pytest.raises(ValueError, match="exponent"):
        gpu_stats.zipf_stream(10, 10, exponent=0)


def test_working_sets():
    # the shared corpus's Word2Vec state, 58,362 words at d=100: about 45 MiB
    assert gpu_stats.word2vec_working_set(58_362, 100) == 2 * 58_362 * 400 + 3 * 58_362 * 4
    assert gpu_stats.glove_working_set(10, 4, 7) == 2 * 20 * 5 * 4 + 16 * 7
    assert gpu_stats.word2vec_working_set(2_000_000, 300) > 4e9  # the large-vocabulary case


# ------------------------------------------------------------ the dry run
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_dry_run_end_to_end(tmp_path):
    """The whole schedule on the CPU: every stage's rows, the verdicts, a stage
    cut at its cap, a skipped one, and a rerun that reuses the CPU reference."""
    pytest.importorskip("embforge._native")
    env = {**os.environ, "OUT": str(tmp_path), "EMBFORGE_GPU_CHECK_DRY": "1",
           "PYTHON": sys.executable,
           # the embforge this test imported (the installed package in CI,
           # python/ in a developer build)
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}

    def run():
        return subprocess.run(["bash", os.path.join(BENCH, "gpu_check.sh")], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    done = run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = gpu_report.read_rows(str(tmp_path / "gpu_check" / "rows.jsonl"))
    by = {(r["stage"], r["metric"]): r for r in rows}
    for metric in ("skip-gram words/s", "co-occurrence tokens/s", "GloVe pair-updates/s"):
        assert by[("headline", metric)]["value"] > 0
    assert 0 < by[("headline", "skip-gram words/s")]["kept"] < 1
    assert by[("headline", "co-occurrence tokens/s")]["nnz"] > 0
    assert by[("headline", "GloVe pair-updates/s")]["working_set"] > 0
    assert by[("quality", "co-occurrence equal to CPU")]["value"] is True
    verdicts = [r for r in rows if r["stage"] == "seeds" and r["metric"].endswith("GPU vs CPU")]
    assert len(verdicts) == 3 and all("n=3" in r["note"] for r in verdicts)
    assert by[("memcheck", "stage")]["value"].startswith("timed out")
    assert by[("nccl", "stage")]["value"].startswith("skipped")
    assert any(r["stage"] == "large-vocab" and r["metric"].startswith("GloVe") for r in rows)
    for model in ("skip-gram", "CBOW"):
        for side in ("GPU", "CPU"):
            assert by[("fasttext", f"FastText {model} {side} words/s")]["value"] > 0
        assert by[("fasttext", f"FastText {model} stand-in GPU-CPU")]["value"] == 0  # CPU both sides
    ref = json.loads((tmp_path / "gpu_check" / "cpu_reference.json").read_text())
    assert all(len(ref["runs"][m]) == 3 for m in ("skip-gram", "CBOW", "GloVe"))
    assert "== the whole table" in done.stdout
    assert done.stdout.index("| headline | skip-gram words/s") < done.stdout.index("== quality")
    again = run()  # rerunnable: the CPU reference is read, not trained again
    assert again.returncode == 0
    rows = gpu_report.read_rows(str(tmp_path / "gpu_check" / "rows.jsonl"))
    assert not any(r["stage"] == "cpu-reference" and "CPU seed" in r["metric"] for r in rows)
    assert any(r["metric"] == "CPU reference" and r["value"] == "read" for r in rows)
