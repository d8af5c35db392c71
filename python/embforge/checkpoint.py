"""Training checkpoints: one format for single-process and distributed runs.

A checkpoint directory DIR holds one run's checkpoints::

    DIR/manifest.json                          names the newest complete checkpoint
    DIR/epoch-0003/rank-00000-of-00002.npz     rank 0's model after 3 epochs
    DIR/epoch-0003/rank-00001-of-00002.npz     rank 1's

Each rank file is its model's own ``save()`` archive (plain arrays and a JSON
header, no pickle, written atomically): Word2Vec's vectors, output weights,
vocabulary and epoch counter; GloVe's weights, AdaGrad sums, vocabulary and
epoch counter. The trainers draw all their randomness from (seed, epoch)
(Word2Vec: chunk order and per-thread streams; GloVe: the pair order, and
the block order out of core), so the epoch counter is the RNG position.

A save writes every rank's file into ``epoch-NNNN/`` (NNNN: epochs done),
then rank 0 writes ``manifest.json`` atomically (temp file, fsync, rename,
fsync of DIR) and only then removes the older ``epoch-*`` folders. A
checkpoint exists when the manifest names it, so a kill at any moment leaves
the previous complete checkpoint or the new one, never a torn one; a folder
left half-written is ignored and overwritten or pruned by a later save.

The manifest (JSON object, ``FORMAT``/``VERSION``)::

    format       "embforge.checkpoint"
    version      1
    model        "Word2Vec" | "GloVe"
    checkpoint   "epoch-0003"  (always epoch_folder_name(epochs_done))
    epochs_done  epochs the saved models have trained (their epochs_trained)
    world_size   number of ranks that wrote it; a resume needs the same number
    files        [{"rank": r, "name": "rank-0000r-of-0000N.npz", "size": bytes,
                   "sha256": hex}] for r = 0..world_size-1
    settings     what must match on resume: {"model", the trainer's settings
                 (SETTINGS), "corpus": caller's fingerprint of the data or null}
    schedule     the train() call checkpointed, begun on a fresh model:
                 {"epochs": N} (GloVe: AdaGrad, no rate schedule), and for
                 Word2Vec also {"start_alpha", "end_alpha"}: epoch e of N runs
                 its rate from start + (end - start) e / N to ... (e+1) / N

Threads, device, memory budgets and paths are not settings: they may change
between a run and its resume (a run with several threads is Hogwild and never
reproducible anyway; with one thread a resumed run is bit-identical).

Collectives: with ``world_size > 1`` the Checkpointer needs ``all_gather``, a
function that takes this rank's picklable object and returns the list of
every rank's (indexed by rank) on every rank, as
``torch.distributed.all_gather_object`` does. A save calls it twice: to give
rank 0 the file sizes and hashes (and every rank any rank's failure, so all
ranks raise instead of waiting on a dead one), and after the manifest as a
barrier that carries rank 0's outcome.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import stat
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from .glove import GloVe
from .io.atomic import atomic_write
from .word2vec import Word2Vec

__all__ = ["FORMAT", "VERSION", "MANIFEST", "SETTINGS", "CheckpointInfo", "RankFile",
           "Checkpointer", "latest", "load_model", "check_settings", "training_settings",
           "corpus_fingerprint", "rank_file_name", "epoch_folder_name"]

logger = logging.getLogger(__name__)

FORMAT = "embforge.checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 24    # ~100 bytes per rank: room for far more ranks than MAX_WORLD_SIZE
MAX_WORLD_SIZE = 1 << 16
MAX_EPOCHS = 1 << 31

MODEL_CLASSES = {"Word2Vec": Word2Vec, "GloVe": GloVe}

# The settings that change what training computes; a resume must give the
# same values. (Threads, device, memory and temp_dir may differ.)
SETTINGS = {
    "Word2Vec": ("sg", "vector_size", "alpha", "min_alpha", "window", "min_count",
                 "max_vocab_size", "sample", "seed", "negative", "ns_exponent", "epochs",
                 "shrink_windows", "max_sentence_length"),
    "GloVe": ("vector_size", "x_max", "alpha", "learning_rate", "epochs", "window", "symmetric",
              "distance_weighting", "min_count", "max_vocab_size", "seed", "grad_clip",
              "bias_learning_rate", "output_vectors", "reshuffle"),
}

_FOLDER = re.compile(r"epoch-[0-9]{4,}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def rank_file_name(rank: int, world_size: int) -> str:
    """The file of `rank` in a checkpoint written by `world_size` ranks."""
    return f"rank-{rank:05d}-of-{world_size:05d}.npz"


def epoch_folder_name(epochs_done: int) -> str:
    """The folder of the checkpoint taken after `epochs_done` epochs."""
    return f"epoch-{epochs_done:04d}"


def model_kind(model) -> str:
    """"Word2Vec" or "GloVe" for a trainer (or a subclass); ValueError otherwise."""
    for name, cls in MODEL_CLASSES.items():
        if isinstance(model, cls):
            return name
    raise ValueError(f"cannot checkpoint a {type(model).__name__}: only Word2Vec and GloVe")


def _plain(value):
    """JSON's view of a value (tuples become lists, numpy scalars numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item()))


def training_settings(model, corpus=None) -> dict:
    """The settings a resume of `model`'s training must repeat: the model
    kind, its SETTINGS, and `corpus` (any JSON value identifying the data,
    e.g. corpus_fingerprint(paths); None when the caller has none)."""
    kind = model_kind(model)
    settings = {"model": kind}
    settings.update((name, getattr(model, name)) for name in SETTINGS[kind])
    settings["corpus"] = corpus
    return _plain(settings)


def corpus_fingerprint(paths: Sequence) -> List[dict]:
    """The data files as a resume compares them: base name and size of each,
    in order. (Not the full path, so a run may resume on another machine
    from its own copy; the vocabulary, counted again, catches edits that
    keep the size.)"""
    fingerprint = []
    for path in paths:
        path = os.fspath(path)
        fingerprint.append({"name": os.path.basename(path), "size": os.stat(path).st_size})
    return fingerprint


def default_schedule(model) -> dict:
    """The schedule of `model.fit()`: `model.epochs` epochs from a fresh model,
    Word2Vec's rate from `alpha` down to `min_alpha`."""
    schedule = {"epochs": int(model.epochs)}
    if model_kind(model) == "Word2Vec":
        schedule.update(start_alpha=float(model.alpha), end_alpha=float(model.min_alpha))
    return schedule


@dataclass(frozen=True)
class RankFile:
    rank: int
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CheckpointInfo:
    """A complete checkpoint, as its manifest describes it (see latest())."""
    directory: str            # DIR
    folder: str               # DIR/epoch-NNNN
    model: str                # "Word2Vec" or "GloVe"
    epochs_done: int
    world_size: int
    files: Tuple[RankFile, ...]
    settings: dict
    schedule: dict

    @property
    def remaining_epochs(self) -> int:
        """Epochs of the schedule still to train (0: the run had finished)."""
        return self.schedule["epochs"] - self.epochs_done

    def path(self, rank: int) -> str:
        return os.path.join(self.folder, self.files[rank].name)

    def train_arguments(self) -> dict:
        """Keyword arguments of the train() call that finishes the schedule
        exactly: Word2Vec.train(corpus, **them) or GloVe.train(**them) (or
        GloVe.fit(matrix, **them)). Only when remaining_epochs > 0."""
        if self.remaining_epochs <= 0:
            raise ValueError(f"{self.directory}: the checkpointed run finished "
                             f"({self.epochs_done} of {self.schedule['epochs']} epochs)")
        arguments = {"epochs": self.remaining_epochs}
        if self.model == "Word2Vec":
            arguments.update(start_alpha=self.schedule["start_alpha"],
                             end_alpha=self.schedule["end_alpha"], start_epoch=self.epochs_done)
        return arguments


def _single(obj) -> list:
    return [obj]


class Checkpointer:
    """Writes a checkpoint of a model to `directory` (see the module docstring).

    Use it as a training callback (its on_epoch_end saves after every epoch)
    or call save(). `schedule` is the checkpointed train() call (default:
    default_schedule(model), i.e. fit()); `corpus` identifies the data
    (training_settings). With `world_size > 1` every rank makes a
    Checkpointer with its `rank` and an `all_gather` (module docstring) and
    every rank calls save() at the same point: it is a collective.
    """

    def __init__(self, directory, *, rank: int = 0, world_size: int = 1,
                 all_gather: Optional[Callable[[object], list]] = None,
                 schedule: Optional[dict] = None, corpus=None):
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
        self.schedule = None if schedule is None else _plain(schedule)
        self.corpus = _plain(corpus)

    def on_epoch_end(self, model) -> None:
        self.save(model)

    def save(self, model, epochs_done: Optional[int] = None) -> CheckpointInfo:
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
        _check_schedule(kind, schedule, done, "schedule")
        folder_name = epoch_folder_name(done)
        folder = os.path.join(self.directory, folder_name)
        name = rank_file_name(self.rank, self.world_size)
        settings = training_settings(model, self.corpus)
        own_error = None
        try:
            os.makedirs(folder, exist_ok=True)
            _remove_temporaries(folder, name)
            path = os.path.join(folder, name)
            model.save(path)
            size, digest = _size_and_hash(path)
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
        outcome = None
        if self.rank == 0:
            manifest = {"format": FORMAT, "version": VERSION, "model": kind,
                        "checkpoint": folder_name, "epochs_done": done,
                        "world_size": self.world_size, "files": files, "settings": settings,
                        "schedule": schedule}
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
        return _parse_manifest(self.directory, outcomes[0]["manifest"])

    def _gather(self, obj) -> list:
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
        _remove_temporaries(self.directory, MANIFEST)
        for entry in os.listdir(self.directory):
            if entry != keep and _FOLDER.fullmatch(entry):
                path = os.path.join(self.directory, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)


def _check_ranks_agree(entries: list) -> None:
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


def _remove_temporaries(folder: str, name: str) -> None:
    """Removes atomic_write's temporaries of `name` in `folder` left by a
    killed save. Only the one writer of `name` calls this (a rank for its own
    file, rank 0 for the manifest), so none of them is live."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.[0-9a-f]+\.tmp")
    for entry in os.listdir(folder):
        if pattern.fullmatch(entry):
            try:
                os.unlink(os.path.join(folder, entry))
            except FileNotFoundError:
                pass


def _size_and_hash(path: str) -> Tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            size += len(block)
            digest.update(block)
    return size, digest.hexdigest()


# ------------------------------------------------------------------ reading
def latest(directory) -> Optional[CheckpointInfo]:
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
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not a checkpoint manifest ({error})") from error
    checkpoint = _parse_manifest(directory, manifest)
    for entry in checkpoint.files:
        _check_file(checkpoint.path(entry.rank), entry.size)
    return checkpoint


def _is_int(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_rate(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and 0 <= value <= 10


def _check_schedule(kind: str, schedule, done: int, where: str) -> None:
    if not isinstance(schedule, dict) or not _is_int(schedule.get("epochs"), 1, MAX_EPOCHS):
        raise ValueError(f"{where}: needs 'epochs', an integer >= 1, got {schedule!r}")
    if done > schedule["epochs"]:
        raise ValueError(f"{where}: {done} epochs done, more than the {schedule['epochs']} "
                         "of the schedule")
    if kind == "Word2Vec" and not (_is_rate(schedule.get("start_alpha"))
                                   and _is_rate(schedule.get("end_alpha"))):
        raise ValueError(f"{where}: Word2Vec needs 'start_alpha' and 'end_alpha', finite "
                         f"rates, got {schedule!r}")


def _parse_manifest(directory: str, manifest) -> CheckpointInfo:
    where = os.path.join(directory, MANIFEST)

    def bad(what):
        return ValueError(f"{where}: invalid checkpoint manifest ({what})")

    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"{where}: not an embforge checkpoint manifest (format {found!r})")
    if manifest.get("version") != VERSION:
        raise ValueError(f"{where}: checkpoint format version {manifest.get('version')!r} is not "
                         f"supported (this embforge reads version {VERSION})")
    kind = manifest.get("model")
    if kind not in MODEL_CLASSES:
        raise bad(f"model {kind!r}, expected one of {sorted(MODEL_CLASSES)}")
    done = manifest.get("epochs_done")
    if not _is_int(done, 0, MAX_EPOCHS - 1):
        raise bad(f"epochs_done {done!r}")
    if manifest.get("checkpoint") != epoch_folder_name(done):
        raise bad(f"checkpoint {manifest.get('checkpoint')!r}, expected "
                  f"{epoch_folder_name(done)!r} for epochs_done {done}")
    world = manifest.get("world_size")
    if not _is_int(world, 1, MAX_WORLD_SIZE):
        raise bad(f"world_size {world!r}")
    files = manifest.get("files")
    if not isinstance(files, list) or len(files) != world:
        raise bad(f"files must list the {world} ranks' files")
    entries = []
    for rank, entry in enumerate(files):
        if not isinstance(entry, dict) or entry.get("rank") != rank \
                or entry.get("name") != rank_file_name(rank, world) \
                or not _is_int(entry.get("size"), 0, 1 << 62) \
                or not isinstance(entry.get("sha256"), str) \
                or not _SHA256.fullmatch(entry["sha256"]):
            raise bad(f"file entry {rank}: {entry!r}")
        entries.append(RankFile(rank, entry["name"], entry["size"], entry["sha256"]))
    settings = manifest.get("settings")
    if not isinstance(settings, dict) or settings.get("model") != kind:
        raise bad(f"settings {settings!r}")
    missing = [name for name in SETTINGS[kind] if name not in settings]
    if missing:
        raise bad(f"settings lack {', '.join(missing)}")
    schedule = manifest.get("schedule")
    try:
        _check_schedule(kind, schedule, done, "schedule")
    except ValueError as error:
        raise bad(error) from None
    return CheckpointInfo(directory=directory,
                          folder=os.path.join(directory, epoch_folder_name(done)), model=kind,
                          epochs_done=done, world_size=world, files=tuple(entries),
                          settings=settings, schedule=schedule)


def _check_file(path: str, size: int) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; the checkpoint's manifest names it "
                         "(damaged checkpoint)") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a regular file (damaged checkpoint)")
    if info.st_size != size:
        raise ValueError(f"{path}: {info.st_size} bytes, the manifest says {size} "
                         "(damaged checkpoint)")


def check_settings(info: CheckpointInfo, settings: dict) -> None:
    """Refuses (ValueError naming the first differing field) to resume `info`
    with other `settings` (training_settings of the model the resuming run
    would build, with its corpus fingerprint)."""
    settings = _plain(settings)
    first = ["model", *SETTINGS[info.model], "corpus"]   # the model kind before its details
    for name in first + sorted((set(info.settings) | set(settings)) - set(first)):
        old, new = info.settings.get(name), settings.get(name)
        if old != new:
            raise ValueError(f"{info.directory}: cannot resume: the checkpoint was trained with "
                             f"{name}={old!r}, this run has {name}={new!r}; give the same "
                             "settings and corpus as the checkpointed run")


def load_model(info: CheckpointInfo, rank: int = 0, world_size: int = 1, device: str = "cpu"):
    """Rank `rank`'s model of checkpoint `info`, on `device`, after checking
    that this run has the checkpoint's world size and that the file has the
    manifest's size and SHA-256 (ValueError otherwise, nothing changed).
    The model's epochs_trained is info.epochs_done; continue with
    model.train(..., **info.train_arguments())."""
    if world_size != info.world_size:
        raise ValueError(f"{info.directory}: cannot resume: the checkpoint was written by "
                         f"{info.world_size} process(es) (world size {info.world_size}), this "
                         f"run has {world_size}; resume with {info.world_size}")
    if not _is_int(rank, 0, world_size - 1):
        raise ValueError(f"rank must be an integer in [0, {world_size}), got {rank!r}")
    entry = info.files[rank]
    path = info.path(rank)
    _check_file(path, entry.size)
    size, digest = _size_and_hash(path)
    if size != entry.size or digest != entry.sha256:
        raise ValueError(f"{path}: its SHA-256 is {digest}, the manifest says {entry.sha256} "
                         "(damaged checkpoint)")
    model = MODEL_CLASSES[info.model].load(path, device=device)
    if model.epochs_trained != info.epochs_done:
        raise ValueError(f"{path}: the model has trained {model.epochs_trained} epochs, the "
                         f"manifest says {info.epochs_done} (damaged checkpoint)")
    stored = training_settings(model, info.settings.get("corpus"))
    for name, value in stored.items():
        if info.settings.get(name) != value:
            raise ValueError(f"{path}: the model has {name}={value!r}, the manifest says "
                             f"{info.settings.get(name)!r} (damaged checkpoint)")
    return model
