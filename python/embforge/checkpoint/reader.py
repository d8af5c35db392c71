"""Reading checkpoints: the latest complete one, settings checks, a
rank's model."""
from __future__ import annotations

import os
import stat
from typing import Any, Dict, Optional

from .._typing import StrPath
from ..io._errors import parse_json
from .manifest import (MANIFEST, MAX_MANIFEST_BYTES, MODEL_CLASSES, SETTINGS, SYNC_SETTINGS,
                       CheckpointInfo, check_file, is_int, parse_manifest, plain, size_and_hash,
                       training_settings)

__all__ = ["latest", "check_settings", "load_model"]


def latest(directory: StrPath) -> Optional[CheckpointInfo]:
    """The newest complete checkpoint in `directory`, or None when there is
    none (no directory, or no manifest yet). A manifest that is not a valid
    one, or names rank files that are missing or of another size, raises
    ValueError; nothing is changed on disk. (The files' hashes are checked by
    load_model, each rank its own.)"""
    directory = os.fspath(directory)
    if not os.path.exists(directory):
        return None
    if not os.path.isdir(directory):
        raise ValueError(f"{directory}: not a checkpoint directory (not a directory)")
    path = os.path.join(directory, MANIFEST)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a checkpoint manifest (not a regular file)")
    if info.st_size > MAX_MANIFEST_BYTES:
        raise ValueError(f"{path}: not a checkpoint manifest ({info.st_size} bytes, more than "
                         f"{MAX_MANIFEST_BYTES})")
    with open(path, "rb") as f:
        raw = f.read(MAX_MANIFEST_BYTES + 1)
    manifest = parse_json(raw, f"{path}: not a checkpoint manifest")
    checkpoint = parse_manifest(directory, manifest)
    for entry in checkpoint.files:
        check_file(checkpoint.path(entry.rank), entry.size)
    return checkpoint


def check_settings(info: CheckpointInfo, settings: Dict[str, Any]) -> None:
    """Refuses (ValueError naming the first differing field) to resume `info`
    with other `settings` (training_settings of the model the resuming run
    would build, with its corpus fingerprint)."""
    settings = plain(settings)
    first = ["model", *SETTINGS[info.model], "corpus"]   # the model kind before its details
    alone = SYNC_SETTINGS[info.model] if info.world_size == 1 else ()
    for name in first + sorted((set(info.settings) | set(settings)) - set(first)):
        if name in alone:
            continue
        old, new = info.settings.get(name), settings.get(name)
        if old != new:
            raise ValueError(f"{info.directory}: cannot resume: the checkpoint was trained with "
                             f"{name}={old!r}, this run has {name}={new!r}; give the same "
                             "settings and corpus as the checkpointed run")


def load_model(info: CheckpointInfo, rank: int = 0, world_size: int = 1, device: str = "cpu",
               **options: Any) -> Any:
    """Rank `rank`'s model of checkpoint `info`, on `device`, after checking
    that this run has the checkpoint's world size and that the file has the
    manifest's size and SHA-256 (ValueError otherwise, nothing changed).
    The model's epochs_trained is info.epochs_done; continue with
    model.train(..., **info.train_arguments()). `options` go to the model's
    load() (e.g. process_group= for a distributed run)."""
    if world_size != info.world_size:
        raise ValueError(f"{info.directory}: cannot resume: the checkpoint was written by "
                         f"{info.world_size} process(es) (world size {info.world_size}), this "
                         f"run has {world_size}; resume with {info.world_size}")
    if not is_int(rank, 0, world_size - 1):
        raise ValueError(f"rank must be an integer in [0, {world_size}), got {rank!r}")
    entry = info.files[rank]
    path = info.path(rank)
    check_file(path, entry.size)
    size, digest = size_and_hash(path)
    if size != entry.size or digest != entry.sha256:
        raise ValueError(f"{path}: its SHA-256 is {digest}, the manifest says {entry.sha256} "
                         "(damaged checkpoint)")
    model = MODEL_CLASSES[info.model].load(path, device=device, **options)
    if model.epochs_trained != info.epochs_done:
        raise ValueError(f"{path}: the model has trained {model.epochs_trained} epochs, the "
                         f"manifest says {info.epochs_done} (damaged checkpoint)")
    stored = training_settings(model, info.settings.get("corpus"))
    for name, value in stored.items():
        if info.settings.get(name) != value:
            raise ValueError(f"{path}: the model has {name}={value!r}, the manifest says "
                             f"{info.settings.get(name)!r} (damaged checkpoint)")
    return model
