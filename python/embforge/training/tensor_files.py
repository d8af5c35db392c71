"""Tensors in a safetensors file with a JSON header of our own: nothing in
such a file is ever unpickled, so a hostile file can fail to load but cannot
run code. Writes are atomic (a kill leaves the previous file)."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Tuple

from .._typing import StrPath
from ..io.atomic import atomic_write
from ..torch_bridge import require_torch

torch = require_torch()

__all__ = ["write_tensors", "read_tensors"]

_KEY = "embforge"   # the header entry holding our JSON


def _safetensors() -> Any:
    try:
        import safetensors.torch  # noqa: PLC0415 - optional dependency
    except ImportError as error:
        raise ImportError("saving and loading models needs safetensors: pip install safetensors "
                          "(or pip install 'embforge[torch]')") from error
    return safetensors.torch


def write_tensors(path: StrPath, tensors: Dict[str, Any], meta: Dict[str, Any]) -> None:
    """Writes `tensors` (on any device; copied to the host) and `meta` (JSON).

    Tensors that are the same memory (tied weights) are stored once; the
    others' names are recorded in the header and restored by read_tensors."""
    st = _safetensors()
    seen: Dict[Tuple[int, int, Tuple[int, ...]], str] = {}
    stored, aliases = {}, {}
    for name, tensor in tensors.items():
        key = (tensor.data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        stored[name] = tensor.detach().to("cpu").contiguous()
    header = {_KEY: json.dumps({"meta": meta, "aliases": aliases})}
    data = st.save(stored, metadata=header)
    with atomic_write(os.fspath(path), "wb", expected_bytes=len(data)) as out:
        out.write(data)


def read_tensors(path: StrPath, device: Optional[str] = "cpu"
                 ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(tensors, meta)`` of a :func:`write_tensors` file, tensors on `device`.

    A missing file is FileNotFoundError; a truncated, corrupt or foreign file
    a ValueError naming it."""
    st = _safetensors()
    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    try:
        tensors = st.load(data)
        header = _header(data)
        parsed = json.loads(header[_KEY])
        meta, aliases = parsed["meta"], parsed["aliases"]
        if not isinstance(meta, dict) or not isinstance(aliases, dict):
            raise TypeError("header entries of the wrong type")
        for name, target in aliases.items():
            tensors[name] = tensors[target]
    except Exception as error:  # safetensors raises its own types for corrupt input
        raise ValueError(f"{path} is not a readable embforge tensor file (truncated, corrupt or "
                         f"written by something else): {type(error).__name__}: {error}") from None
    if device is not None and not (isinstance(device, str) and device == "cpu"):
        tensors = {name: t.to(device) for name, t in tensors.items()}
    return tensors, meta


def _header(data: bytes) -> Dict[str, Any]:
    """The ``__metadata__`` of safetensors bytes (8-byte length, then JSON)."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise ValueError("header longer than the file")
    metadata = json.loads(data[8:8 + size].decode("utf-8")).get("__metadata__") or {}
    if _KEY not in metadata:
        raise ValueError("no embforge header")
    return metadata
