"""Runs a test body in N real processes joined by a gloo process group.

    results = run_ranks(body, tmp_path, world_size=2, args=(...,))

`body(rank, world_size, *args)` runs in each process (spawned: a module-level
function of an importable test module) after torch's default process group
is initialised with gloo through a FileStore in `tmp_path` (no ports to
pick). Each process returns what the body returns, or the exception it
raised; a process that died or hung shows its exit code. The whole run has a
hard timeout: processes still alive then are killed and the run reports it,
so a hang fails the test instead of hanging CI.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

import pytest


@dataclass
class RankResult:
    rank: int
    value: Any = None
    error: Optional[str] = None        # exception type name
    message: Optional[str] = None      # its message
    trace: Optional[str] = None
    exitcode: Optional[int] = None     # None while it ran (or never reported)
    exit_delay: Optional[float] = None  # seconds from its result to its exit

    @property
    def ok(self) -> bool:
        return self.error is None and self.trace is None


def _child(body, rank, world_size, store_path, dist_timeout, gloo_timeout, args, results):
    os.environ["EMBFORGE_DIST_TIMEOUT"] = str(dist_timeout)
    try:
        import datetime
        import torch
        import torch.distributed as dist
        torch.set_num_threads(1)
        dist.init_process_group("gloo", store=dist.FileStore(store_path, world_size), rank=rank,
                                world_size=world_size,
                                timeout=datetime.timedelta(seconds=gloo_timeout))
        value = body(rank, world_size, *args)
        results.put(RankResult(rank, value=value))
    except BaseException as error:  # reported to the parent, which fails the test
        results.put(RankResult(rank, error=type(error).__name__, message=str(error),
                               trace=traceback.format_exc()))


def run_ranks(body: Callable, tmp_path, world_size: int = 2, *, args=(), timeout: float = 60.0,
              dist_timeout: float = 20.0, gloo_timeout: Optional[float] = None,
              wait_for: Optional[List[int]] = None) -> List[RankResult]:
    """Runs `body` in `world_size` processes; returns one RankResult per rank.
    `dist_timeout`: the ranks' $EMBFORGE_DIST_TIMEOUT; `gloo_timeout`: the
    process group's own (default: the same). `wait_for`: the ranks whose
    results end the run (default all); the others are then killed."""
    wait_for = list(range(world_size)) if wait_for is None else list(wait_for)
    pytest.importorskip("torch", reason="distributed tests need torch")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    store = os.path.join(str(tmp_path), f"store-{time.monotonic_ns()}")
    processes = [context.Process(target=_child, name=f"rank{rank}", daemon=True,
                                 args=(body, rank, world_size, store, dist_timeout,
                                       gloo_timeout or dist_timeout, args, results))
                 for rank in range(world_size)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    got, received = {}, {}
    while not set(wait_for) <= set(got) and time.monotonic() < deadline:
        try:
            result = results.get(timeout=0.2)
            got[result.rank] = result
            received[result.rank] = time.monotonic()
        except queue.Empty:
            if all(not p.is_alive() for p in processes) and results.empty():
                break
    killed = set()
    for rank, process in enumerate(processes):
        if rank in wait_for:
            process.join(timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            if not process.is_alive() and rank in received:
                got[rank].exit_delay = time.monotonic() - received[rank]
        if process.is_alive():
            process.kill()  # SIGKILL: also ends a stopped (SIGSTOP) process
            process.join(5)
            killed.add(rank)
    out = []
    for rank, process in enumerate(processes):
        result = got.get(rank) or RankResult(
            rank, error="NoResult",
            message=f"rank {rank} gave no result" + (
                f" and was killed when the run ended (limit {timeout:g} s)" if rank in killed
                else f"; it exited with {process.exitcode}"))
        result.exitcode = process.exitcode
        out.append(result)
    return out


def values(results: List[RankResult]) -> List[Any]:
    """The ranks' return values; fails the test with every rank's traceback
    when one of them did not return."""
    failed = [r for r in results if not r.ok]
    if failed:
        pytest.fail("\n".join(f"rank {r.rank}: {r.error}: {r.message}\n{r.trace or ''}"
                              for r in failed))
    return [r.value for r in results]
