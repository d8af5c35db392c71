"""All-to-all of byte buffers: each rank sends part i to rank i.

The sizes go first (an all-to-all of one int64 per pair of ranks), then the
payloads in one all-to-all (``ProcessGroup.alltoall_base``, what
``all_to_all_single`` calls; gloo and nccl both implement it), so
the traffic is the data itself: a part travels only to its destination,
never to everyone. ``pass_along`` is the case where every rank sends one
buffer of a size both ends know to one rank and receives one from another
(a ring): one all-to-all, no sizes.
"""
from __future__ import annotations

from typing import Any, List, Sequence, Union

import numpy as np

from .collectives import check_rank, op_options, process_group_of, run_op
from .group import Group

__all__ = ["exchange", "exchange_packed", "pass_along"]


def _as_bytes_array(part: Any) -> np.ndarray:
    if isinstance(part, (bytes, bytearray, memoryview)):
        return np.frombuffer(part, dtype=np.uint8)
    if isinstance(part, np.ndarray):
        return np.ascontiguousarray(part).view(np.uint8).reshape(-1)
    raise TypeError(f"exchange() takes bytes or numpy arrays, got {type(part).__name__}")


def exchange(parts: Sequence[Union[bytes, np.ndarray]], group: Group) -> List[np.ndarray]:
    """Sends ``parts[i]`` to rank i; returns what each rank sent us, in rank
    order, as uint8 arrays (``parts[group.rank]`` comes back as it is)."""
    if len(parts) != group.world_size:
        raise ValueError(f"exchange() needs one part per rank ({group.world_size}), got {len(parts)}")
    arrays = [_as_bytes_array(p) for p in parts]
    sizes = [int(a.size) for a in arrays]
    return exchange_packed(np.concatenate(arrays) if arrays else np.zeros(0, np.uint8), sizes,
                           group)


def exchange_packed(packed: np.ndarray, sizes: Sequence[int], group: Group) -> List[np.ndarray]:
    """exchange() of parts already laid end to end in one C-contiguous array
    (part i: the ``sizes[i]`` bytes after the parts before it), sent as it
    is: what a rank sends is not copied a second time (unless it is
    read-only). Sizes that do not fit the array raise ValueError on every
    rank: the others learn of it from the sizes they receive."""
    import torch

    problem = None
    send_bytes, send_sizes = np.zeros(0, np.uint8), [0] * group.world_size
    if len(sizes) != group.world_size:
        problem = f"exchange_packed() needs one size per rank ({group.world_size}), got {len(sizes)}"
    elif not packed.flags.c_contiguous:
        problem = "exchange_packed() needs a C-contiguous array"
    else:
        send_bytes = packed.view(np.uint8).reshape(-1)
        send_sizes = [int(n) for n in sizes]
        if any(n < 0 for n in send_sizes) or sum(send_sizes) != send_bytes.size:
            problem = (f"the sizes {send_sizes} do not add up to the {send_bytes.size} bytes "
                       "to send")
    # -1 to every rank: this rank's call is wrong, and all of them stop here
    sizes_out = torch.tensor([-1] * group.world_size if problem else send_sizes,
                             dtype=torch.int64, device=group.device)
    sizes_in = torch.empty(group.world_size, dtype=torch.int64, device=group.device)
    run_op(group, "all_to_all of the exchange sizes",
           lambda: process_group_of(group).alltoall_base(
               sizes_in, sizes_out, [1] * group.world_size, [1] * group.world_size,
               op_options("AllToAllOptions", group)))
    recv_sizes = [int(n) for n in sizes_in.cpu().tolist()]
    if problem:
        raise ValueError(problem)
    wrong = [rank for rank, n in enumerate(recv_sizes) if n < 0]
    if wrong:
        raise ValueError(f"rank {wrong[0]} called exchange_packed() with sizes that do not fit "
                         "what it sends (it says why)")
    if not send_bytes.flags.writeable:
        send_bytes = send_bytes.copy()  # torch.from_numpy takes writable arrays only
    send = torch.from_numpy(send_bytes).to(group.device)
    receive = torch.empty(sum(recv_sizes), dtype=torch.uint8, device=group.device)
    run_op(group, f"all_to_all of {sum(send_sizes)} bytes out, {sum(recv_sizes)} in",
           lambda: process_group_of(group).alltoall_base(
               receive, send, recv_sizes, send_sizes, op_options("AllToAllOptions", group)))
    received = receive.cpu().numpy()
    return np.split(received, np.cumsum(recv_sizes)[:-1])


def pass_along(send: Any, dst: int, receive: Any, src: int, group: Group) -> None:
    """Sends `send` to rank `dst` and fills `receive` (C-contiguous, of the
    size `src` sends) from rank `src`, in one all-to-all in which every
    other pair of ranks sends nothing. Both numpy arrays, or both torch
    tensors (on the group's device they travel as they are; elsewhere, as
    CUDA tensors with gloo, through a copy on the group's device)."""
    import torch

    check_rank("dst", dst, group)
    check_rank("src", src, group)
    if isinstance(receive, np.ndarray):
        if not receive.flags.c_contiguous:
            raise ValueError("receive must be C-contiguous (it is filled in place)")
        into = torch.from_numpy(receive.view(np.uint8).reshape(-1))
        out = torch.from_numpy(np.ascontiguousarray(send).view(np.uint8).reshape(-1))
    else:
        if not receive.is_contiguous():
            raise ValueError("receive must be contiguous (it is filled in place)")
        into = receive.view(-1).view(torch.uint8)
        out = send.contiguous().view(-1).view(torch.uint8)
    size_out, size_in = int(out.numel()), int(into.numel())
    send_sizes = [size_out if rank == dst else 0 for rank in range(group.world_size)]
    recv_sizes = [size_in if rank == src else 0 for rank in range(group.world_size)]
    outgoing = out.to(group.device)
    incoming = into if into.device == outgoing.device else torch.empty(
        size_in, dtype=torch.uint8, device=group.device)
    run_op(group, f"passing {size_out} bytes to rank {dst} and {size_in} from rank {src}",
           lambda: process_group_of(group).alltoall_base(
               incoming, outgoing, recv_sizes, send_sizes, op_options("AllToAllOptions", group)))
    if incoming is not into:
        into.copy_(incoming)
