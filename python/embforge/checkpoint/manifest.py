"""The checkpoint manifest: names, settings, schema and its validation
(the format is described in embforge/checkpoint/__init__.py)."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Type, Union, cast

from ..distributed.launch import is_run_id
from ..fasttext import FastText
from ..glove import GloVe
from ..word2vec import Word2Vec

if TYPE_CHECKING:
    from typing_extensions import TypeIs

__all__ = ["FORMAT", "VERSION", "MANIFEST", "SETTINGS", "MODEL_CLASSES", "CheckpointInfo",
           "RankFile", "training_settings", "corpus_fingerprint", "default_schedule",
           "rank_file_name", "epoch_folder_name", "model_kind", "parse_manifest",
           "check_schedule", "check_file", "size_and_hash"]

FORMAT = "embforge.checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 24    # ~100 bytes per rank: room for far more ranks than MAX_WORLD_SIZE
MAX_WORLD_SIZE = 1 << 16
MAX_EPOCHS = 1 << 31

# FastText before Word2Vec: it is a subclass, and model_kind takes the first match
MODEL_CLASSES: Dict[str, Union[Type[FastText], Type[Word2Vec], Type[GloVe]]] = {
    "FastText": FastText, "Word2Vec": Word2Vec, "GloVe": GloVe}

# kinds trained by Word2Vec's loop: a learning-rate schedule to resume
RATE_SCHEDULED = ("Word2Vec", "FastText")

# The settings that change what training computes; a resume must give the
# same values. (Threads, device, memory and temp_dir may differ.)
SETTINGS = {
    "Word2Vec": ("sg", "vector_size", "alpha", "min_alpha", "window", "min_count",
                 "max_vocab_size", "sample", "seed", "negative", "ns_exponent", "epochs",
                 "shrink_windows", "max_sentence_length", "sync_interval", "combine",
                 "hot_sync_interval", "hot_sync_rows", "hot_average_rows", "hot_average_momentum",
                 "sync_dtype"),
    "GloVe": ("vector_size", "x_max", "alpha", "learning_rate", "epochs", "window", "symmetric",
              "distance_weighting", "min_count", "max_vocab_size", "seed", "grad_clip",
              "bias_learning_rate", "output_vectors", "reshuffle", "sync_interval", "sync_dtype",
              "stratify"),
    "FastText": ("sg", "vector_size", "alpha", "min_alpha", "window", "min_count",
                 "max_vocab_size", "sample", "seed", "negative", "ns_exponent", "epochs",
                 "shrink_windows", "max_sentence_length", "min_n", "max_n", "bucket"),
}

# Of those, the ones that only combine the replicas of several ranks: a
# checkpoint written by one process trained the same whatever they were, so
# its resume does not compare them (a run checkpointed before a default
# changed resumes with the new one).
SYNC_SETTINGS = {
    "Word2Vec": ("sync_interval", "combine", "hot_sync_interval", "hot_sync_rows",
                 "hot_average_rows", "hot_average_momentum", "sync_dtype"),
    "GloVe": ("sync_interval", "sync_dtype", "stratify"),
    "FastText": (),
}

# Settings added after checkpoints of their kind were first written, with
# the value those checkpoints were trained with: a manifest without one reads
# as having that value.
ADDED_SETTINGS: Dict[str, Dict[str, Any]] = {
    "Word2Vec": {"hot_average_rows": 0, "sync_dtype": "float32", "hot_average_momentum": 0.0},
    "GloVe": {"sync_dtype": "float32", "stratify": False}}

FOLDER_PATTERN = re.compile(r"epoch-[0-9]{4,}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def rank_file_name(rank: int, world_size: int) -> str:
    """The file of `rank` in a checkpoint written by `world_size` ranks."""
    return f"rank-{rank:05d}-of-{world_size:05d}.npz"


def epoch_folder_name(epochs_done: int) -> str:
    """The folder of the checkpoint taken after `epochs_done` epochs."""
    return f"epoch-{epochs_done:04d}"


def model_kind(model: Any) -> str:
    """"FastText", "Word2Vec" or "GloVe" for a trainer (or a subclass);
    ValueError otherwise."""
    for name, cls in MODEL_CLASSES.items():
        if isinstance(model, cls):
            return name
    raise ValueError(f"cannot checkpoint a {type(model).__name__}: "
                     "only FastText, Word2Vec and GloVe")


def plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists, numpy scalars numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item()))


def training_settings(model: Any, corpus: Any = None) -> Dict[str, Any]:
    """The settings a resume of `model`'s training must repeat: the model
    kind, its SETTINGS, and `corpus` (any JSON value identifying the data,
    e.g. corpus_fingerprint(paths); None when the caller has none)."""
    kind = model_kind(model)
    settings = {"model": kind}
    settings.update((name, getattr(model, name)) for name in SETTINGS[kind])
    settings["corpus"] = corpus
    plain_settings: Dict[str, Any] = plain(settings)
    return plain_settings


def corpus_fingerprint(paths: Sequence[str]) -> List[Dict[str, Any]]:
    """The data files as a resume compares them: base name and size of each,
    in order. (Not the full path, so a run may resume on another machine
    from its own copy; the vocabulary, counted again, catches edits that
    keep the size.)"""
    fingerprint = []
    for path in paths:
        path = os.fspath(path)
        fingerprint.append({"name": os.path.basename(path), "size": os.stat(path).st_size})
    return fingerprint


def default_schedule(model: Any) -> Dict[str, Any]:
    """The schedule of `model.fit()`: `model.epochs` epochs from a fresh model,
    Word2Vec's rate from `alpha` down to `min_alpha`."""
    schedule: Dict[str, Any] = {"epochs": int(model.epochs)}
    if model_kind(model) in RATE_SCHEDULED:
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
    model: str                # "FastText", "Word2Vec" or "GloVe"
    epochs_done: int
    world_size: int
    files: Tuple[RankFile, ...]
    settings: Dict[str, Any]
    schedule: Dict[str, Any]
    run_id: Optional[str] = None  # the job that wrote it (torchrun's run id), when known

    @property
    def remaining_epochs(self) -> int:
        """Epochs of the schedule still to train (0: the run had finished)."""
        left: int = self.schedule["epochs"] - self.epochs_done
        return left

    def path(self, rank: int) -> str:
        return os.path.join(self.folder, self.files[rank].name)

    def train_arguments(self) -> Dict[str, Any]:
        """Keyword arguments of the train() call that finishes the schedule
        exactly: Word2Vec.train(corpus, **them) or GloVe.train(**them) (or
        GloVe.fit(matrix, **them)). Only when remaining_epochs > 0."""
        if self.remaining_epochs <= 0:
            raise ValueError(f"{self.directory}: the checkpointed run finished "
                             f"({self.epochs_done} of {self.schedule['epochs']} epochs)")
        arguments = {"epochs": self.remaining_epochs}
        if self.model in RATE_SCHEDULED:
            arguments.update(start_alpha=self.schedule["start_alpha"],
                             end_alpha=self.schedule["end_alpha"], start_epoch=self.epochs_done)
        return arguments


def size_and_hash(path: str) -> Tuple[int, str]:
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


def is_int(value: object, low: int, high: int) -> "TypeIs[int]":
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def is_rate(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and 0 <= value <= 10


def check_schedule(kind: str, schedule: Any, done: int, where: str) -> None:
    if not isinstance(schedule, dict) or not is_int(schedule.get("epochs"), 1, MAX_EPOCHS):
        raise ValueError(f"{where}: needs 'epochs', an integer >= 1, got {schedule!r}")
    if done > schedule["epochs"]:
        raise ValueError(f"{where}: {done} epochs done, more than the {schedule['epochs']} "
                         "of the schedule")
    if kind in RATE_SCHEDULED and not (is_rate(schedule.get("start_alpha"))
                                   and is_rate(schedule.get("end_alpha"))):
        raise ValueError(f"{where}: {kind} needs 'start_alpha' and 'end_alpha', finite "
                         f"rates, got {schedule!r}")


def parse_manifest(directory: str, manifest: Any) -> CheckpointInfo:
    where = os.path.join(directory, MANIFEST)

    def bad(what: object) -> ValueError:
        return ValueError(f"{where}: invalid checkpoint manifest ({what})")

    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(f"{where}: not an embforge checkpoint manifest (format {found!r})")
    if manifest.get("version") != VERSION:
        raise ValueError(f"{where}: checkpoint format version {manifest.get('version')!r} is not "
                         f"supported (this embforge reads version {VERSION})")
    kind = manifest.get("model")
    if not isinstance(kind, str) or kind not in MODEL_CLASSES:  # (a dict is unhashable)
        raise bad(f"model {kind!r}, expected one of {sorted(MODEL_CLASSES)}")
    done = manifest.get("epochs_done")
    if not is_int(done, 0, MAX_EPOCHS - 1):
        raise bad(f"epochs_done {done!r}")
    if manifest.get("checkpoint") != epoch_folder_name(done):
        raise bad(f"checkpoint {manifest.get('checkpoint')!r}, expected "
                  f"{epoch_folder_name(done)!r} for epochs_done {done}")
    world = manifest.get("world_size")
    if not is_int(world, 1, MAX_WORLD_SIZE):
        raise bad(f"world_size {world!r}")
    files = manifest.get("files")
    if not isinstance(files, list) or len(files) != world:
        raise bad(f"files must list the {world} ranks' files")
    entries = []
    for rank, entry in enumerate(files):
        if not isinstance(entry, dict) or entry.get("rank") != rank \
                or entry.get("name") != rank_file_name(rank, world) \
                or not is_int(entry.get("size"), 0, 1 << 62) \
                or not isinstance(entry.get("sha256"), str) \
                or not _SHA256.fullmatch(entry["sha256"]):
            raise bad(f"file entry {rank}: {entry!r}")
        entries.append(RankFile(rank, entry["name"], entry["size"], entry["sha256"]))
    settings = manifest.get("settings")
    if not isinstance(settings, dict) or settings.get("model") != kind:
        raise bad(f"settings {settings!r}")
    settings = {**ADDED_SETTINGS.get(kind, {}), **settings}
    missing = [name for name in SETTINGS[kind] if name not in settings]
    if missing:
        raise bad(f"settings lack {', '.join(missing)}")
    schedule = manifest.get("schedule")
    try:
        check_schedule(kind, schedule, done, "schedule")
    except ValueError as error:
        raise bad(error) from None
    run_id = manifest.get("run")
    if run_id is not None and not is_run_id(run_id):
        raise bad(f"run {run_id!r}")
    return CheckpointInfo(directory=directory,
                          folder=os.path.join(directory, epoch_folder_name(done)), model=kind,
                          epochs_done=done, world_size=world, files=tuple(entries),
                          settings=settings, schedule=cast("Dict[str, Any]", schedule),  # checked
                          run_id=run_id)


def check_file(path: str, size: int) -> None:
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
