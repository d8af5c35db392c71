"""What several commands share: reading and writing vectors by file extension,
the corpus argument, and the status line on stderr."""
from __future__ import annotations

import os
import sys
import zipfile
from typing import Any, List, Union

from .._typing import StrPath
from ..io.word2vec_header import has_header
from ..distributed.collectives import all_gather_object
from ..distributed.group import init_from_environment
from ..fasttext import load_facebook_vectors
from ..fasttext_kv import FastTextKeyedVectors
from ..io.fasttext_bin import is_fasttext_bin
from ..keyedvectors import KeyedVectors

__all__ = ["load_vectors", "save_vectors", "corpus_arg", "say", "join_job", "Job"]


def load_vectors(path: StrPath) -> KeyedVectors:
    """Reads vectors: a fastText model (any name: recognised by its magic
    number) with its n-grams; else by extension: .kv (embforge; FastText's
    archive with n-grams too), .bin (word2vec binary), anything else text
    (word2vec text with a header line, or GloVe without)."""
    path = os.fspath(path)
    if is_fasttext_bin(path):
        return load_facebook_vectors(path)
    if path.endswith(".kv"):
        if zipfile.is_zipfile(path):
            return FastTextKeyedVectors.load(path)
        return KeyedVectors.load(path)
    if path.endswith(".bin"):
        return KeyedVectors.load_word2vec_format(path, binary=True)
    return KeyedVectors.load_word2vec_format(path, binary=False, no_header=not has_header(path))


def save_vectors(wv: Any, path: StrPath) -> None:
    """Writes vectors in the format the extension names (see load_vectors)."""
    path = os.fspath(path)
    if path.endswith(".kv"):
        wv.save(path)
    else:
        wv.save_word2vec_format(path, binary=path.endswith(".bin"))


def corpus_arg(paths: List[str]) -> Union[str, List[str]]:
    """One corpus path as itself, several as a list (what the trainers take)."""
    return paths[0] if len(paths) == 1 else list(paths)


def say(message: str) -> None:
    """A status line on stderr (stdout is kept for results, e.g. `similar`)."""
    print(message, file=sys.stderr)


class Job:
    """Where this command runs: alone, or as one rank of a torchrun job.

    Under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set) the
    command joins torch.distributed's default group (gloo for --device cpu,
    NCCL for cuda) and every rank trains; rank 0 alone writes the results
    and prints the status line."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self.rank = 0 if group is None else group.rank
        self.world_size = 1 if group is None else group.world_size
        self.writes = self.rank == 0

    def all_gather(self, obj: Any) -> List[Any]:
        return [obj] if self.group is None else all_gather_object(obj, self.group)

    def say(self, message: str) -> None:
        if self.writes:
            say(message)


def join_job(device: str) -> Job:
    """This process's Job (joins the torchrun job it was started in, if any)."""
    return Job(init_from_environment(device))
