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
    # and it exits normally (the body caught the error): no gloo thread is
    # left blocked until the group's own 30-minute timeout (each operation
    # carries our timeout), and no abort at exit when gloo's worker thread
    # lets go of the failed operation while the interpreter finalizes
    # (-SIGABRT, "terminate called without an active exception").
    assert survivor.exitcode == 0, survivor.exitcode
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


# A user's script under a launcher: rank 1 joins, then dies or stops;
# rank 0 meets the PeerError in embforge.encode and either catches it (the
# script then ends normally) or not. Both exit the ordinary way, through the
# interpreter's finalization, with its usual status and the user's atexit
# handlers run. argv: rank, store path, "SIGKILL"/"SIGSTOP", "caught"/"uncaught",
# corpus path.
USER_SCRIPT = """
import atexit, datetime, os, signal, sys, time
import torch.distributed as dist
rank, store, how, mode, corpus = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
dist.init_process_group("gloo", store=dist.FileStore(store, 2), rank=rank, world_size=2,
                        timeout=datetime.timedelta(seconds=1800))
dist.barrier()
if rank == 1:
    os.kill(os.getpid(), getattr(signal, how))
    time.sleep(60)
import embforge
from embforge.distributed.collectives import PeerError
atexit.register(lambda: print("atexit ran at", time.time(), flush=True))
time.sleep(0.5)  # let the peer die or stop first
if mode == "caught":
    try:
        embforge.encode([corpus], min_count=1, distributed=True)
    except PeerError as error:
        print("caught:", error, flush=True)
else:
    embforge.encode([corpus], min_count=1, distributed=True)
"""


# The caught case of SIGKILL is also the harness test's above (exit 0 there);
# SIGSTOP's caught case aborted most often (9 of 25 runs before the fix).
@pytest.mark.parametrize("how,mode", [("SIGKILL", "uncaught"), ("SIGSTOP", "uncaught"),
                                      ("SIGSTOP", "caught")])
def test_a_script_exits_normally_after_a_peer_error(tmp_path: Path, how: str, mode: str) -> None:
    # The exit status is the interpreter's own (0 when the script caught the
    # error, 1 with the traceback when it did not), never an abort: gloo's
    # worker thread can let go of the failed operation while the interpreter
    # finalizes, and destroying the operation there used to abort the process
    # ("terminate called without an active exception", SIGABRT) before the
    # exit status was set: when the script caught the error, in 9 of 25 runs
    # with SIGSTOP and 2 of 29 with SIGKILL on this 2-core machine (under
    # load), so this test fails most runs of its 4 cases without the fix.
    import subprocess
    import sys
    pytest.importorskip("torch")
    corpus = tmp_path / "c.txt"
    corpus.write_text("some words for the corpus\n" * 100)
    store = str(tmp_path / "store")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               EMBFORGE_DIST_TIMEOUT=str(TIMEOUT), OMP_NUM_THREADS="1")
    ranks = [subprocess.Popen([sys.executable, "-c", USER_SCRIPT, str(rank), store, how, mode,
                               str(corpus)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in (1, 0)]
    survivor = ranks[1]
    try:
        out, err = survivor.communicate(timeout=60)  # a hang fails here
        exited = time.time()
    finally:
        for process in ranks:
            if process.poll() is None:
                process.kill()  # also ends a stopped (SIGSTOP) process
            process.communicate()
    assert "terminate called" not in err and "Fatal Python error" not in err, err[-3000:]
    assert survivor.returncode == (0 if mode == "caught" else 1), (survivor.returncode, err[-3000:])
    message = "rank 0 of 2 (gloo): "
    if mode == "caught":
        assert f"caught: {message}" in out, (out, err[-3000:])
        assert "Traceback" not in err, err[-3000:]
    else:
        assert "Traceback (most recent call last)" in err
        assert f"embforge.distributed.collectives.PeerError: {message}" in err, err[-3000:]
    if how == "SIGSTOP":
        assert f"no answer within the timeout of {TIMEOUT:g} s" in out + err
    # the user's atexit handlers ran (a normal exit), and the process ended
    # soon after them: nothing waits for the broken group at teardown
    ran = [line for line in out.splitlines() if line.startswith("atexit ran at ")]
    assert len(ran) == 1, out
    assert exited - float(ran[0].split()[-1]) < 3, exited - float(ran[0].split()[-1])


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


# A script that joins its torchrun job through init_from_environment, all-reduces
# numpy arrays and ends without shutting the group down.
JOINS_AND_ENDS = ("import numpy as np\n"
                  "from embforge.distributed import init_from_environment\n"
                  "from embforge.distributed.collectives import all_reduce\n"
                  "group = init_from_environment()\n"
                  "for _ in range(300):\n"
                  "    all_reduce(np.ones(1000, np.float32), group)\n"
                  "print('done', flush=True)\n")


def test_a_script_that_ends_without_shutting_the_group_down_exits_cleanly() -> None:
    # A gloo group still alive when the interpreter finalizes can abort the
    # process ("terminate called without an active exception"): measured
    # here, 12 of 12 two-rank runs of this loop in bare torch. The group
    # init_from_environment started is destroyed at exit, and the script's
    # Group (a module global here, freed during finalization) does not hold
    # torch's default group: either one missing, most of the three runs
    # failed (2 of 2 test runs each).
    import subprocess
    import sys
    pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               MASTER_ADDR="127.0.0.1", WORLD_SIZE="2", OMP_NUM_THREADS="1")
    for _ in range(3):
        port = str(free_port())
        ranks = [subprocess.Popen([sys.executable, "-c", JOINS_AND_ENDS],
                                  env=dict(env, MASTER_PORT=port, RANK=str(rank), LOCAL_RANK=str(rank)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for rank in (0, 1)]
        try:
            ended = [process.communicate(timeout=60) for process in ranks]
        finally:
            for process in ranks:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
        for process, (out, err) in zip(ranks, ended):
            assert "terminate called" not in err, err[-3000:]
            assert process.returncode == 0 and out == "done\n", (process.returncode, err[-3000:])
