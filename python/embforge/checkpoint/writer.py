"""Checkpointer: writes a checkpoint of one rank's model (a collective
across ranks when there are several)."""
from __future__ import annotations

import json
import os
import shutil
from typing import Any, Callable, Dict, List, Optional

from .._typing import StrPath
from ..distributed.launch import MAX_RUN_ID, is_run_id, torchrun_launch
from ..io.atomic import atomic_write
from .manifest import (FOLDER_PATTERN, FORMAT, MANIFEST, MAX_EPOCHS, MAX_WORLD_SIZE, VERSION,
                       CheckpointInfo, check_schedule, default_schedule, epoch_folder_name,
                       model_kind, parse_manifest, plain, rank_file_name, size_and_hash,
                       training_settings)

__all__ = ["Checkpointer"]


def _single(obj: object) -> List[Any]:
    return [obj]


class Checkpointer:
    """Writes a checkpoint of a model to `directory` (see the module docstring).

    Use it as a training callback (its on_epoch_end saves after every epoch)
    or call save(). `schedule` is the checkpointed train() call (default:
    default_schedule(model), i.e. fit()); `corpus` identifies the data
    (training_settings). With `world_size > 1` every rank makes a
    Checkpointer with its `rank` and an `all_gather` (module docstring) and
    every rank calls save() at the same point: it is a collective.
    `run_id` names the job in the manifest, so that a restart of that job
    knows the checkpoint for its own (default: torchrun's run id, or none
    outside torchrun; cli/resume.py).
    """

    def __init__(self, directory: StrPath, *, rank: int = 0, world_size: int = 1,
                 all_gather: Optional[Callable[[object], List[Any]]] = None,
                 schedule: Optional[Dict[str, Any]] = None, corpus: Any = None,
                 run_id: Optional[str] = None) -> None:
        if isinstance(world_size, bool) or not isinstance(world_size, int) \
                or not 1 <= world_size <= MAX_WORLD_SIZE:
            raise ValueError(f"world_size must be an integer in [1, {MAX_WORLD_SIZE}], "
                             f"got {world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank must be an integer in [0, {world_size}), got {rank!r}")
        if all_gather is None and world_size > 1:
            raise ValueError(f"world_size={world_size} needs all_gather (e.g. "
                             "torch.distributed.all_gather_object wrapped to return the list)")
        self.directory = os.fspath(directory)
        self.rank = rank
        self.world_size = world_size
        self._all_gather = all_gather or _single
        self.schedule = None if schedule is None else plain(schedule)
        self.corpus = plain(corpus)
        self.run_id = torchrun_launch().run_id if run_id is None else run_id
        if self.run_id is not None and not is_run_id(self.run_id):
            raise ValueError(f"run_id must be a string of 1 to {MAX_RUN_ID} characters, "
                             f"got {run_id!r}")

    def on_epoch_end(self, model: Any) -> None:
        self.save(model)

    def save(self, model: Any, epochs_done: Optional[int] = None) -> CheckpointInfo:
        """Saves `model` as this rank's file of the checkpoint after
        `epochs_done` epochs (default: model.epochs_trained); rank 0 then
        writes the manifest and prunes older checkpoints. Returns the new
        checkpoint's description on every rank. A failure on any rank raises
        on every rank (the previous checkpoint stays the latest)."""
        kind = model_kind(model)
        done = model.epochs_trained if epochs_done is None else epochs_done
        if isinstance(done, bool) or not isinstance(done, int) or not 0 <= done < MAX_EPOCHS:
            raise ValueError(f"epochs_done must be an integer >= 0, got {done!r}")
        schedule = self.schedule or default_schedule(model)
        check_schedule(kind, schedule, done, "schedule")
        folder_name = epoch_folder_name(done)
        folder = os.path.join(self.directory, folder_name)
        name = rank_file_name(self.rank, self.world_size)
        settings = training_settings(model, self.corpus)
        own_error = None
        try:
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, name)
            model.save(path)
            size, digest = size_and_hash(path)
            entry = {"rank": self.rank, "name": name, "size": size, "sha256": digest,
                     "settings": settings, "epochs_done": done}
        except Exception as error:  # told to every rank below, then re-raised here
            own_error = error
            entry = {"rank": self.rank, "error": f"{type(error).__name__}: {error}"}
        entries = self._gather(entry)
        failed = [e for e in entries if "error" in e]
        if own_error is not None:
            raise own_error
        if failed:
            raise RuntimeError(f"checkpoint after epoch {done} in {folder}: rank {failed[0]['rank']} "
                               f"failed: {failed[0]['error']}")
        _check_ranks_agree(entries)
        files = [{key: e[key] for key in ("rank", "name", "size", "sha256")} for e in entries]
        outcome: Optional[Dict[str, Any]] = None
        if self.rank == 0:
            manifest = {"format": FORMAT, "version": VERSION, "model": kind,
                        "checkpoint": folder_name, "epochs_done": done,
                        "world_size": self.world_size, "files": files, "settings": settings,
                        "schedule": schedule}
            if self.run_id is not None:
                manifest["run"] = self.run_id
            try:
                with atomic_write(os.path.join(self.directory, MANIFEST)) as out:
                    json.dump(manifest, out, indent=1, sort_keys=True)
                    out.write("\n")
            except Exception as error:
                own_error = error
                outcome = {"error": f"{type(error).__name__}: {error}"}
            else:
                outcome = {"manifest": manifest}
                self._prune(folder_name)
        outcomes = self._gather(outcome)
        if own_error is not None:
            raise own_error
        if not isinstance(outcomes[0], dict) or "manifest" not in outcomes[0]:
            raise RuntimeError(f"checkpoint after epoch {done} in {self.directory}: rank 0 could "
                               f"not write the manifest: {outcomes[0]}")
        return parse_manifest(self.directory, outcomes[0]["manifest"])

    def _gather(self, obj: object) -> List[Any]:
        gathered = self._all_gather(obj)
        if not isinstance(gathered, (list, tuple)) or len(gathered) != self.world_size:
            raise RuntimeError(f"all_gather returned {type(gathered).__name__} of "
                               f"{len(gathered) if hasattr(gathered, '__len__') else '?'} items, "
                               f"expected a list of world_size={self.world_size}")
        return list(gathered)

    def _prune(self, keep: str) -> None:
        """Removes the checkpoints the manifest no longer names, and stale
        manifest temporaries (only rank 0 writes here). Best effort: a folder
        left behind is harmless and removed by a later save."""
        for entry in os.listdir(self.directory):
            if entry != keep and FOLDER_PATTERN.fullmatch(entry):
                path = os.path.join(self.directory, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)


def _check_ranks_agree(entries: List[Any]) -> None:
    """Every rank must save the same epoch of a model of the same settings
    (the manifest holds one copy; load_model checks each file against it)."""
    first = entries[0]
    for entry in entries[1:]:
        if entry["epochs_done"] != first["epochs_done"]:
            raise ValueError(f"checkpoint: rank {entry['rank']} saves epoch {entry['epochs_done']}, "
                             f"rank 0 epoch {first['epochs_done']}")
        for name in sorted(set(first["settings"]) | set(entry["settings"])):
            if first["settings"].get(name) != entry["settings"].get(name):
                raise ValueError(f"checkpoint: rank {entry['rank']} has {name}="
                                 f"{entry['settings'].get(name)!r}, rank 0 has {name}="
                                 f"{first['settings'].get(name)!r}; every rank must train with "
                                 "the same settings")
