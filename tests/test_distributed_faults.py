"""A peer that dies or stops answering: the survivor raises a RuntimeError
naming its rank, the operation and the likely cause, within the timeout
(EMBFORGE_DIST_TIMEOUT, here 3 s), even when the process group's own timeout
is gloo's 30 minutes. Real processes, real signals."""
import os
import signal
import time

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
