"""Collectives that fail within the group's timeout, with a clear message.

Each wrapper calls the process group's own method (``ProcessGroup.allreduce``
and kin, the layer under ``torch.distributed.all_reduce``) with the
operation's ``timeout`` option set to ``group.timeout``, and waits for it
with the same bound (``Work.wait(timeout)``). So a peer that stopped
answering (SIGSTOP, a hang, a lost node) raises here instead of blocking for
the process group's own timeout (gloo: 30 minutes). Both matter: waiting
alone returns on time but leaves gloo's worker thread blocked in the
operation until the group's timeout, and the process then cannot exit (its
interpreter waits for that thread at shutdown); with the option set, gloo
gives the operation up itself and the process exits at once. A peer that died is
usually seen sooner: its sockets close and gloo reports "Connection closed by
peer" at once. Either way the caller gets a :class:`PeerError` (a
RuntimeError) naming our rank, the operation and how long it waited. After
one, the process group is broken: end the job. A script may catch the error
or let it propagate and then exit as usual: the exit status is the
interpreter's own (0, or 1 with the traceback), atexit handlers run, and the
process neither hangs nor aborts. The last needs care: gloo's worker thread
lets go of the failed operation when it gives it up, which can be after we
raised; had it the last reference, it would destroy the operation's tensors,
and doing that while the interpreter finalizes aborts the process (SIGABRT,
"terminate called without an active exception"). So a failed operation is
kept until the process ends (see ``_keep_until_exit``).

numpy arrays travel through ``torch.from_numpy`` (no copy) on gloo; with nccl
they are copied to the group's GPU and back. torch tensors are used as given.
"""
from __future__ import annotations

import pickle
import time
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

from .group import TIMEOUT_ENV, Group

__all__ = ["PeerError", "all_reduce", "all_gather", "all_gather_ints", "all_gather_bytes",
           "all_gather_object", "broadcast", "broadcast_object", "barrier", "run_op", "op_options",
           "check_rank"]


class PeerError(RuntimeError):
    """A collective failed or timed out: a peer probably died or stopped answering."""


def _dist() -> Any:
    import torch.distributed as dist
    return dist


def op_options(kind: str, group: Group) -> Any:
    """A c10d options object (AllreduceOptions, ...) carrying our timeout."""
    from torch.distributed import distributed_c10d
    options = getattr(distributed_c10d, kind)()
    options.timeout = group.timedelta
    return options


def process_group_of(group: Group) -> Any:
    return group.process_group if group.process_group is not None else _dist().group.WORLD


def run_op(group: Group, what: str, start: Callable[[], Any]) -> None:
    """Runs ``start()`` (which returns a torch Work, or None when done) and
    waits for it at most ``group.timeout`` seconds; any failure becomes a
    PeerError saying which rank we are, what `what` was and after how long."""
    began = time.monotonic()
    work, done = None, False
    try:
        work = start()
        if work is not None:
            work.wait(timeout=group.timedelta)
        done = True
    except Exception as error:  # torch raises RuntimeError or its DistError subclasses
        raise _peer_error(group, what, time.monotonic() - began, error) from error
    finally:
        if work is not None and not done:  # failed, or interrupted (Ctrl-C) while waiting
            _keep_until_exit(work)


def _keep_until_exit(work: Any) -> None:
    """Gives the failed operation `work` one reference that is never
    released, so that gloo's worker thread never destroys it.

    The worker thread holds its own reference while it runs the operation
    and drops it when the operation ends (at our timeout, or at once when
    the peer's connection closed), which can be after we raised. If ours is
    gone by then, the worker destroys the operation, and with it the
    tensors, whose Python objects need the GIL to be released. Should the
    interpreter be finalizing at that moment (the script caught the error,
    or did not, and is exiting), taking the GIL ends the thread
    (pthread_exit) inside a noexcept C++ destructor: std::terminate,
    "terminate called without an active exception", SIGABRT. A list in
    this module would not do: it is emptied when the interpreter tears the
    modules down, which can also come before the worker lets go. Hence an
    extra reference count: a failed operation's buffers (and the arrays
    they view, which gloo may still write into) live until the process
    ends, which it should soon: the group is broken."""
    try:
        import ctypes
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(work))
    except (ImportError, AttributeError, OSError):  # no ctypes: keep it for as long as we can
        _kept.append(work)


_kept: List[Any] = []


def _peer_error(group: Group, what: str, elapsed: float, error: BaseException) -> PeerError:
    detail = " ".join(str(error).split())
    if len(detail) > 300:
        detail = detail[:300] + "..."
    if elapsed >= 0.9 * group.timeout:
        why = (f"no answer within the timeout of {group.timeout:g} s: a peer probably stopped "
               "answering (hung, stopped or overloaded) or died")
    else:
        why = "a peer probably died (its connection closed; see that rank's log)"
    return PeerError(f"rank {group.rank} of {group.world_size} ({group.backend}): {what} failed "
                     f"after {elapsed:.1f} s; {why}; set ${TIMEOUT_ENV} or timeout= "
                     f"to wait longer [{type(error).__name__}: {detail}]")


def _as_tensor(array: Any, group: Group) -> Tuple[Any, Callable[[Any], Any]]:
    """(tensor for the collective, function bringing its result back into `array`)."""
    import torch
    if isinstance(array, torch.Tensor):
        return array, lambda tensor: array
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a numpy array or a torch tensor, got {type(array).__name__}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError("the array must be C-contiguous and writeable (it is updated in place)")
    tensor = torch.from_numpy(array)
    if group.device == "cpu":
        return tensor, lambda result: array
    moved = tensor.to(group.device)

    def back(result: Any) -> Any:
        array[...] = result.cpu().numpy()
        return array
    return moved, back


_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN", "product": "PRODUCT"}


def all_reduce(array: Any, group: Group, op: str = "sum") -> Any:
    """Reduces `array` (numpy, in place; or a torch tensor) over the ranks and
    returns it. `op`: "sum", "max", "min" or "product"."""
    if op not in _OPS:
        raise ValueError(f"op must be one of {sorted(_OPS)}, got {op!r}")
    dist = _dist()
    tensor, back = _as_tensor(array, group)
    options = op_options("AllreduceOptions", group)
    options.reduceOp = getattr(dist.ReduceOp, _OPS[op])
    run_op(group, f"all_reduce({op}) of {tuple(tensor.shape)} {tensor.dtype}",
           lambda: process_group_of(group).allreduce([tensor], options))
    return back(tensor)


def broadcast(array: Any, group: Group, src: int = 0) -> Any:
    """Overwrites `array` (numpy in place, or a torch tensor) on every rank
    with rank `src`'s (a rank within the group) and returns it."""
    tensor, back = _as_tensor(array, group)
    _broadcast(tensor, group, src, f"broadcast from rank {src} of {tuple(tensor.shape)} {tensor.dtype}")
    return back(tensor)


def check_rank(name: str, rank: int, group: Group) -> None:
    """Raises ValueError unless `rank` (the argument `name`) is a rank of `group`."""
    if not 0 <= int(rank) < group.world_size:
        raise ValueError(f"{name} must be a rank in [0, {group.world_size}), got {rank!r}")


def _broadcast(tensor: Any, group: Group, src: int, what: str) -> None:
    check_rank("src", src, group)
    options = op_options("BroadcastOptions", group)
    options.rootRank, options.rootTensor = src, 0
    run_op(group, what, lambda: process_group_of(group).broadcast([tensor], options))


def barrier(group: Group) -> None:
    """Waits until every rank got here (or raises PeerError)."""
    options = op_options("BarrierOptions", group)
    run_op(group, "barrier", lambda: process_group_of(group).barrier(options))


def all_gather(tensor: Any, group: Group, what: str) -> List[Any]:
    """Every rank's `tensor` (a torch tensor on the group's device, of one
    shape and dtype on every rank), in rank order. `what`: the operation,
    for the error message."""
    import torch
    out = [torch.empty_like(tensor) for _ in range(group.world_size)]
    run_op(group, what, lambda: process_group_of(group).allgather(
        [out], [tensor], op_options("AllgatherOptions", group)))
    return out


def all_gather_ints(values: Sequence[int], group: Group) -> np.ndarray:
    """Every rank's `values` (the same number on every rank), one row a
    rank in rank order: an int64 array [world_size, len(values)]."""
    import torch
    mine = torch.tensor([int(v) for v in values], dtype=torch.int64, device=group.device)
    rows = all_gather(mine, group, f"all_gather of {len(mine)} integers")
    return torch.stack(rows).cpu().numpy()


def all_gather_bytes(data: Any, group: Group) -> List[bytes]:
    """Every rank's `data` (bytes-like), in rank order. Sizes first (one int64
    per rank), then the payloads padded to the largest one."""
    import torch
    payload = np.frombuffer(bytes(data), dtype=np.uint8)
    lengths = [int(n) for n in all_gather_ints([payload.size], group)[:, 0]]
    longest = max(lengths)
    padded = torch.zeros(longest, dtype=torch.uint8)
    padded[:payload.size] = torch.from_numpy(payload.copy())
    out = all_gather(padded.to(group.device), group,
                     f"all_gather of {payload.size} bytes (largest {longest})")
    return [bytes(t.cpu().numpy()[:n]) for t, n in zip(out, lengths)]


def all_gather_object(obj: Any, group: Group) -> List[Any]:
    """Every rank's `obj`, in rank order: small Python objects (statistics,
    fingerprints), pickled. Pickle carries messages between the ranks of one
    job only; nothing pickled is ever written to a file."""
    return [pickle.loads(b) for b in all_gather_bytes(pickle.dumps(obj), group)]


def broadcast_object(obj: Any, group: Group, src: int = 0) -> Any:
    """Rank `src`'s `obj` on every rank (the other ranks' `obj` is ignored)."""
    import torch
    data = np.frombuffer(pickle.dumps(obj), dtype=np.uint8) if group.rank == src else None
    size = torch.tensor([data.size if data is not None else 0], dtype=torch.int64,
                        device=group.device)
    _broadcast(size, group, src, f"broadcast from rank {src} of the payload size")
    buffer = (torch.from_numpy(data.copy()) if data is not None
              else torch.empty(int(size.item()), dtype=torch.uint8)).to(group.device)
    _broadcast(buffer, group, src, f"broadcast from rank {src} of {int(size.item())} bytes")
    return pickle.loads(bytes(buffer.cpu().numpy()))
