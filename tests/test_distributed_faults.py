"""A peer that dies or stops answering: the survivor raises a RuntimeError
naming its rank, the operation and the likely cause, within the timeout
(EMBFORGE_DIST_TIMEOUT, here 3 s), even when the process group's own timeout
is gloo's 30 minutes. Real processes, real signals."""
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from distributed_harness import run_ranks

TIMEOUT = 3.0


def _peer_fails(rank, world, how, files):
    import embforge
    from embforge.distributed import resolve_group
    from embforge.distributed.collectives import PeerError, all_reduce, barrier
    group = resolve_group(distributed=True)
    assert group.timeout == TIMEOUT  # from $EMBFORGE_DIST_TIMEOUT
    barrier(group)
    if rank == 1:
        os.kill(os.getpid(), getattr(signal, how))
        time.sleep(60)  # never reached with SIGKILL; SIGSTOP stops us here
    time.sleep(0.5)  # let the peer die or stop first
    start = time.monotonic()
    try:
        if how == "SIGKILL":
            embforge.encode(files, min_count=1, distributed=True)  # the way a user meets it
        else:
            all_reduce(np.ones(4), group)
    except PeerError as error:
        return {"message": str(error), "seconds": time.monotonic() - start,
                "is_runtime_error": isinstance(error, RuntimeError)}
    return {"message": None}


@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_survivor_fails_clearly_within_the_timeout(tmp_path, how):
    corpus = tmp_path / "c.txt"
    corpus.write_text("some words for the corpus\n" * 100)
    results = run_ranks(_peer_fails, tmp_path, 2, args=(how, [str(corpus)]), timeout=40,
                        dist_timeout=TIMEOUT, gloo_timeout=1800, wait_for=[0])
    survivor, peer = results
    assert survivor.ok, survivor.trace
    assert peer.exitcode == -signal.SIGKILL  # killed by itself, or (stopped) by the harness
    # and it can exit: no gloo thread is left blocked until the group's own
    # 30-minute timeout (each operation carries our timeout). The exit status
    # is 0, or -SIGABRT when gloo's timed-out worker thread is torn down at exit
    # ("terminate called without an active exception"), never the harness's kill.
    assert survivor.exitcode in (0, -signal.SIGABRT), survivor.exitcode
    assert survivor.exit_delay is not None and survivor.exit_delay < 3
    got = survivor.value
    assert got["message"] is not None and got["is_runtime_error"]
    assert got["message"].startswith("rank 0 of 2 (gloo): ")
    if how == "SIGKILL":
        # gloo sees the closed connection at once
        assert "all_gather" in got["message"] and "a peer probably died" in got["message"]
        assert got["seconds"] < TIMEOUT
    else:
        assert "all_reduce(sum)" in got["message"]
        assert f"no answer within the timeout of {TIMEOUT:g} s" in got["message"]
        assert TIMEOUT * 0.9 <= got["seconds"] < TIMEOUT + 2


# Rank 1 of the command-line test: joins the group, then never answers.
SILENT_RANK = ("import datetime, time, torch.distributed as dist\n"
               "dist.init_process_group('gloo', init_method='env://', "
               "timeout=datetime.timedelta(seconds=1800))\n"
               "time.sleep(300)\n")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_command_line_ends_with_its_message_when_a_peer_stops_answering(tmp_path: Path) -> None:
    # torchrun's environment by hand: rank 0 is `python -m embforge train`,
    # rank 1 joins and stays silent. Rank 0's first collective times out; the
    # command must print which rank and what happened and exit 1 at once, not
    # hang in the process group's teardown or abort in it (SIGABRT,
    # "terminate called without an active exception": gloo's worker thread
    # is still in the timed-out operation).
    import subprocess
    import sys
    pytest.importorskip("torch")
    corpus = tmp_path / "c.txt"
    corpus.write_text("some words for the corpus\n" * 100)
    out = tmp_path / "v.bin"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE="2",
               EMBFORGE_DIST_TIMEOUT=str(TIMEOUT), OMP_NUM_THREADS="1")
    silent = subprocess.Popen([sys.executable, "-c", SILENT_RANK],
                              env=dict(env, RANK="1", LOCAL_RANK="1"))
    try:
        done = subprocess.run([sys.executable, "-m", "embforge", "train", "--model", "sgns",
                               str(corpus), "-o", str(out), "--min-count", "1", "--quiet"],
                              env=dict(env, RANK="0", LOCAL_RANK="0"), capture_output=True,
                              text=True, timeout=120)
    finally:
        silent.kill()
        silent.wait()
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    assert "embforge train: error: rank 0 of 2 (gloo): " in done.stderr
    assert f"no answer within the timeout of {TIMEOUT:g} s" in done.stderr
    assert "terminate called" not in done.stderr
    assert not out.exists()


def test_the_command_line_under_torchrun_without_torch_says_so(tmp_path: Path) -> None:
    # torchrun's environment but no torch installed (CI's first run): a clear
    # error naming the extra, not a traceback
    import importlib.util
    import subprocess
    import sys
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed: this checks the environment without it")
    corpus = tmp_path / "c.txt"
    corpus.write_text("some words for the corpus\n" * 100)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", WORLD_SIZE="2", RANK="0",
               LOCAL_RANK="0")
    done = subprocess.run([sys.executable, "-m", "embforge", "train", "--model", "sgns",
                           str(corpus), "-o", str(tmp_path / "v.bin"), "--min-count", "1",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "embforge train: error: distributed training needs torch" in done.stderr
    assert "Traceback" not in done.stderr
