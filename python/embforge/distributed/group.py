"""Which processes take part, and how long any of them may stay silent.

Distributed work is opt-in: ``resolve_group()`` without arguments returns
None (one process, alone), even inside someone's initialised DDP job, so
embedding embforge never changes its behaviour silently. ``distributed=True``
takes torch's default process group, ``process_group=`` any group (as torch
APIs take ``group=``).

Every blocking operation in this package waits at most ``Group.timeout``
seconds (60 by default, or $EMBFORGE_DIST_TIMEOUT), whatever timeout the
process group itself was created with (gloo's default is 30 minutes).
"""
from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass
from typing import Any, List, Optional

from .launch import torchrun_launch

__all__ = ["Group", "resolve_group", "init_from_environment", "resolve_timeout",
           "launched_processes", "DEFAULT_TIMEOUT", "TIMEOUT_ENV"]

DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "EMBFORGE_DIST_TIMEOUT"
_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Group:
    """The processes of one distributed job, seen from one of them.

    `rank` and `world_size` are within `process_group` (a torch ProcessGroup,
    or None for torch's default group, looked up at each use);
    `backend` is its backend name ("gloo", "nccl"); `timeout` the seconds any
    blocking operation may take before it raises; `device` where the
    collectives' tensors live ("cpu" for gloo, the current CUDA device for
    nccl)."""

    rank: int
    world_size: int
    process_group: Any
    backend: str
    timeout: float
    device: str = "cpu"

    def __repr__(self) -> str:
        return (f"Group(rank {self.rank} of {self.world_size}, {self.backend}, "
                f"timeout {self.timeout:g} s)")

    @property
    def timedelta(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.timeout)


def resolve_timeout(timeout: Any = None) -> float:
    """Seconds: `timeout` (a number or a timedelta), else $EMBFORGE_DIST_TIMEOUT,
    else 60."""
    source = "timeout"
    if timeout is None:
        text = os.environ.get(TIMEOUT_ENV, "").strip()
        if not text:
            return DEFAULT_TIMEOUT
        source = f"${TIMEOUT_ENV}"
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(f"{source} must be a number of seconds, got {text!r}") from None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not timeout > 0 or timeout == float("inf"):
        raise ValueError(f"{source} must be a positive, finite number of seconds, got {timeout!r}")
    return float(timeout)


def _torch_distributed() -> Any:
    try:
        import torch.distributed as dist
    except ImportError as error:
        raise ImportError("distributed training needs torch (pip install embforge[torch]); "
                          f"importing torch.distributed failed: {error}") from error
    if not dist.is_available():
        raise ImportError("this torch build has no torch.distributed support")
    return dist


def resolve_group(distributed: bool = False, process_group: Any = None, *,
                  timeout: Any = None) -> Optional[Group]:
    """The Group to work in, or None to work alone.

    `process_group`: any torch process group this process belongs to.
    `distributed=True`: torch's default group, which must be initialised
    (torchrun + ``torch.distributed.init_process_group``, or
    :func:`init_from_environment`). Neither: None, whatever torch holds.
    `timeout`: seconds (see resolve_timeout)."""
    if isinstance(process_group, Group):
        return process_group
    if process_group is None and not distributed:
        return None
    seconds = resolve_timeout(timeout)
    dist = _torch_distributed()
    if not dist.is_initialized():
        what = "process_group=" if process_group is not None else "distributed=True"
        raise ValueError(
            f"{what} needs an initialised torch.distributed default process group: launch with "
            "torchrun and call torch.distributed.init_process_group() (backend 'gloo' for CPU, "
            "'nccl' for GPUs) before training, or leave distributed off to train in this process alone")
    group = process_group if process_group is not None else dist.group.WORLD
    rank = dist.get_rank(group)
    if rank < 0:
        raise ValueError("this process is not a member of the process_group it was given")
    backend = str(dist.get_backend(group))
    device = "cpu"
    if backend == "nccl":
        import torch
        device = f"cuda:{torch.cuda.current_device()}"
    # The default group is looked up at each use (process_group=None), not
    # held: a Group kept alive past destroy_process_group() (by a model at
    # the end of a script) would otherwise keep gloo's process group alive
    # into the interpreter's finalization, whose teardown of it can abort
    # the process ("terminate called without an active exception": 4 of 12
    # two-rank runs here, even after destroy_process_group(); 0 of 12 when
    # only torch held it).
    return Group(rank=rank, world_size=dist.get_world_size(group),
                 process_group=process_group, backend=backend, timeout=seconds, device=device)


_started_here: List[bool] = []  # non-empty once init_from_environment started the default group
_took_part: List[bool] = []  # the same, but never emptied: this process was a rank of a job


def owns_environment() -> bool:
    """Whether init_from_environment started the default group of this
    process (the command line under torchrun), so that the process is ours
    to end."""
    return bool(_started_here)


def took_part_in_job() -> bool:
    """Whether init_from_environment started the default group of this
    process at any time (the group may have been shut down since)."""
    return bool(_took_part)


def shutdown_environment() -> None:
    """Ends the default group that init_from_environment started (if any),
    so that gloo's threads are joined before the interpreter exits: left
    running, a rank could abort at exit ("terminate called without an active
    exception") and torchrun would report the job failed."""
    if not _started_here:
        return
    _started_here.clear()
    dist = _torch_distributed()
    if dist.is_initialized():
        dist.destroy_process_group()


def _under_torchrun() -> bool:
    """Whether RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT are all set (what
    torchrun gives each process, and what joining its job needs)."""
    return all(os.environ.get(name) for name in _TORCHRUN_ENV)


def launched_processes() -> int:
    """The processes of the torchrun job this process was started in
    (WORLD_SIZE, under torchrun), else 1."""
    if not _under_torchrun():
        return 1
    world = os.environ["WORLD_SIZE"].strip()
    return int(world) if world.isdigit() else 1


def init_from_environment(device: str = "cpu", *, timeout: Any = None) -> Optional[Group]:
    """For the command line: under torchrun (RANK, WORLD_SIZE, MASTER_ADDR and
    MASTER_PORT set) initialise torch's default process group, gloo for
    `device="cpu"`, nccl for cuda (one GPU per process: LOCAL_RANK picks it),
    with the timeout, and return its Group; outside torchrun, None. A default
    group that is already initialised is used as it is."""
    if not _under_torchrun():
        return None
    seconds = resolve_timeout(timeout)
    dist = _torch_distributed()
    if not dist.is_initialized():
        kind = str(device).split(":")[0]
        if kind == "cuda":
            import torch
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            backend = "nccl"
        elif kind == "cpu":
            backend = "gloo"
        else:
            raise ValueError(f"device must be 'cpu' or 'cuda' for distributed training, got {device!r}")
        _started_here.append(True)
        _took_part.append(True)
        # A process whose gloo group is still alive when the interpreter
        # finalizes can abort there ("terminate called without an active
        # exception": 6 of 12 two-rank runs of a bare torch script here, 12
        # of 12 with numpy-backed tensors); destroying the group first, as
        # torch asks, ends it cleanly (0 of 20). So a script that ends
        # without shutdown_environment() still exits as it should.
        atexit.register(shutdown_environment)
        delta = datetime.timedelta(seconds=seconds)
        restart = torchrun_launch().restart
        if not restart:
            dist.init_process_group(backend, init_method="env://", timeout=delta)
        else:
            # torchrun's restarts after a failure (--max-restarts) reuse the
            # store of the first start, where the dead start's ranks left
            # their gloo addresses: a new rank read its peer's old address
            # and failed to connect ("connectFullMesh failed ... Connection
            # refused", every try here with torch 2.13). So a restart keys
            # its rendezvous under a prefix of its own.
            store, rank, world_size = next(dist.rendezvous("env://", timeout=delta))
            store = dist.PrefixStore(f"embforge/restart-{restart}", store)
            dist.init_process_group(backend, store=store, rank=rank, world_size=world_size,
                                    timeout=delta)
    return resolve_group(distributed=True, timeout=seconds)
