"""Labelled text input: TSV files with a header, and labels to class ids."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Sequence, Tuple

import numpy as np
from .._typing import StrPath

if TYPE_CHECKING:
    pass

__all__ = ["load_tsv", "encode_labels"]


def load_tsv(path: StrPath, *, label_column: str = "label", text_column: str = "text",
             skip_empty: bool = False) -> Tuple[List[str], List[str]]:
    """Reads a labelled TSV file with a header line naming its columns.

    Returns ``(texts, labels)``. Raises ValueError, naming the line, for a
    missing header or column, a row with the wrong number of fields, an empty
    label, or an empty text (``skip_empty=True`` drops such rows instead).
    Blank lines are ignored.
    """
    path = os.fspath(path)
    texts: List[str] = []
    labels: List[str] = []
    with open(path, "r", encoding="utf-8") as lines:
        header_line = lines.readline()
        header = header_line.rstrip("\r\n").split("\t")
        missing = [c for c in (label_column, text_column) if c not in header]
        if missing:
            raise ValueError(
                f"{path}:1: header must name the columns {label_column!r} and {text_column!r} "
                f"separated by a tab (e.g. 'label<TAB>text'); got {header_line.rstrip()!r}, "
                f"missing {missing}")
        label_at, text_at = header.index(label_column), header.index(text_column)
        for number, line in enumerate(lines, 2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != len(header):
                raise ValueError(
                    f"{path}:{number}: expected {len(header)} tab-separated fields "
                    f"({', '.join(header)}), got {len(fields)}: {line[:80]!r}")
            label, text = fields[label_at].strip(), fields[text_at].strip()
            if not label:
                raise ValueError(f"{path}:{number}: missing label")
            if not text:
                if skip_empty:
                    continue
                raise ValueError(f"{path}:{number}: empty text (pass skip_empty=True "
                                 "or --skip-empty to drop such rows)")
            texts.append(text)
            labels.append(label)
    if not texts:
        raise ValueError(f"{path}: no labelled rows after the header")
    return texts, labels


def encode_labels(labels: Sequence[str], names: Sequence[str], what: str = "labels") -> np.ndarray:
    """Class ids of `labels` in `names`; labels the model has no class for are an error."""
    index = {name: i for i, name in enumerate(names)}
    unseen = sorted({label for label in labels if label not in index})
    if unseen:
        count = sum(label not in index for label in labels)
        raise ValueError(
            f"{what}: {count} row(s) have label(s) the model has no class for: {unseen[:10]}"
            f"{' ...' if len(unseen) > 10 else ''}; known classes: {list(names)}")
    return np.array([index[label] for label in labels], dtype=np.int64)
