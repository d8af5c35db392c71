"""The fuzz harness's scratch folder (fuzz/_harness.py) outlives no process
for long: libFuzzer and kill -9 end a target without Python's atexit, so
the next process that makes one removes the folders of processes gone.
Each test points the harness at its own folder (EMBFORGE_FUZZ_SCRATCH), so
that it sees only its own processes' folders."""
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ_DIR = os.path.join(ROOT, "fuzz")

# Makes the scratch folder, prints it, then waits for stdin to close (or a kill).
HOLD = ("import sys; sys.path.insert(0, sys.argv[1]); import _harness; "
        "print(_harness.SCRATCH.dir, flush=True); sys.stdin.read()")


def _env(base):
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
                EMBFORGE_FUZZ_SCRATCH=str(base))


def _hold(base):
    process = subprocess.Popen([sys.executable, "-c", HOLD, FUZZ_DIR], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=_env(base))
    folder = process.stdout.readline().strip()
    assert os.path.isdir(folder) and os.path.dirname(folder) == str(base), folder
    return process, folder


def _finish(process):
    process.stdin.close()
    assert process.wait(timeout=60) == 0


def test_a_killed_process_folder_is_removed_by_the_next_and_a_live_one_stays(tmp_path):
    killed, killed_folder = _hold(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)  # collected: a zombie would still count as running
    assert os.path.isdir(killed_folder), "SIGKILL ran the cleanup: this test shows nothing"

    live, live_folder = _hold(tmp_path)
    assert not os.path.exists(killed_folder)
    try:
        other, other_folder = _hold(tmp_path)
        assert os.path.isdir(live_folder), "a running process's folder was removed"
        _finish(other)
        assert not os.path.exists(other_folder)  # a plain exit removes its own
    finally:
        _finish(live)
    assert os.listdir(tmp_path) == []


def test_importing_the_harness_makes_no_folder(tmp_path):
    # make_seeds.py and run_all.py import it without running any input.
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import _harness, os; "
            "os.kill(os.getpid(), 9)")
    done = subprocess.run([sys.executable, "-c", code, FUZZ_DIR], env=_env(tmp_path))
    assert done.returncode == -signal.SIGKILL
    assert os.listdir(tmp_path) == []
