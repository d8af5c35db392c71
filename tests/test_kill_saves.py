"""kill -9 during a save, for every kind of file embforge writes: the target
holds the previous complete file or the new complete one, never a torn one,
and the temporaries the killed processes left are removed by the next save
(tests/save_kinds.py is the process killed; checkpoints have their own kill
tests in test_checkpoint_cli.py)."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from save_kinds import KINDS, load

from embforge.io.atomic import remove_stale_temporaries

HERE = os.path.dirname(os.path.abspath(__file__))
KILLS = 3        # per kind at least, each at a random moment of the save loop ...
MAX_KILLS = 40   # ... and more until one lands mid-write (fast saves spend less time there;
                 # on a loaded machine 12 kills of the vocabulary saver all missed once)


def start_saver(kind, directory):
    # the import path of this test run: an installed package in CI, python/ in a
    # developer build
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    child = subprocess.Popen([sys.executable, os.path.join(HERE, "save_kinds.py"), kind,
                              str(directory)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=env, text=True)
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        child.wait()
        pytest.fail(f"the saver of {kind} did not start: {line!r} {child.stderr.read()}")
    return child


def temporaries(directory):
    return sorted(e for e in os.listdir(directory) if e.startswith(".target."))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kill_during_save_leaves_old_or_new_file_and_no_stray_temporaries(tmp_path, kind):
    rng = random.Random(kind)
    target = str(tmp_path / "target")
    strays = kills = 0
    while kills < KILLS or (strays == 0 and kills < MAX_KILLS):
        kills += 1
        child = start_saver(kind, tmp_path)
        time.sleep(rng.uniform(0.05, 0.4))   # a few saves in: A, B and the target exist
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        a, b = load(kind, str(tmp_path / "ref-A")), load(kind, str(tmp_path / "ref-B"))
        saved = load(kind, target)            # a torn file fails to load or compares unequal
        same = KINDS[kind][4]
        assert same(saved, a) or same(saved, b), f"{kind}: the target is neither version"
        # (each saver's first save removes what the previous one left)
        strays = max(strays, len(temporaries(tmp_path)))
    # A saver was killed mid-write at least once (its temporary is there), so
    # the check above saw what such a kill leaves.
    assert strays >= 1, f"{kind}: none of {kills} kills landed during a write"
    # The next save (this process's) removes the dead savers' temporaries.
    KINDS[kind][2](saved, target)
    assert temporaries(tmp_path) == []
    assert KINDS[kind][4](load(kind, target), saved)


def test_only_dead_processes_temporaries_of_this_host_are_removed(tmp_path):
    from stale_files import dead_pid, stale_temp_name
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": stale_temp_name("model.npz", pid=dead_pid()),
            "live": stale_temp_name("model.npz", pid=live.pid),
            "us": stale_temp_name("model.npz", pid=os.getpid()),
            "other host": stale_temp_name("model.npz", pid=dead_pid(), host="0badf00d"),
            "other file": stale_temp_name("other.npz", pid=dead_pid()),
            "legacy": ".model.npz.0badc0de.tmp",     # no pid: whose it is is unknown
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"torn")
        assert remove_stale_temporaries(str(tmp_path), "model.npz") == 1
        left = set(os.listdir(tmp_path))
        assert left == {n for k, n in names.items() if k != "dead"}
    finally:
        live.kill()
        live.wait()
