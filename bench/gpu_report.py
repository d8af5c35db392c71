"""Rows of the GPU check's table: recorded as they are measured, printed as a
markdown table (standard library only: the check's scheduler uses it before
the package is installed).

A row is one figure with what it depends on: the fraction of the stream's
words kept after subsampling, the co-occurrence nonzeros, and the working set
(the bytes the kernel reads and writes at random: model rows, AdaGrad sums,
pair records), so that a throughput is never read without the size that made
it. Each row is appended to a JSON-lines file the moment it exists, so a stage
killed by its time cap still leaves every row it finished.
"""
from __future__ import annotations

import json
import math
import os
import sys

COLUMNS = ("stage", "metric", "value", "target", "kept", "nnz", "working set", "note")


def fmt_value(value) -> str:
    """Throughputs in millions, scores with 4 decimals, the rest as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if abs(value) >= 1e5:
            return f"{value / 1e6:,.1f}M"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"
    return str(value)


def fmt_bytes(n) -> str:
    if n is None or n == "":
        return ""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # unreachable


def fmt_count(n) -> str:
    if n is None or n == "":
        return ""
    n = int(n)
    return f"{n / 1e6:,.1f}M" if n >= 1e6 else f"{n:,}"


def row_cells(row: dict) -> list:
    kept = row.get("kept")
    return [row.get("stage", ""), row.get("metric", ""), fmt_value(row.get("value")),
            row.get("target", "") or "", "" if kept is None else f"{kept:.3f}",
            fmt_count(row.get("nnz")), fmt_bytes(row.get("working_set")), row.get("note", "") or ""]


def markdown(rows, header: bool = True) -> str:
    lines = []
    if header:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


class Recorder:
    """Appends rows of one stage to `path` (JSON lines) and prints each as it
    comes; `path=None` only prints."""

    def __init__(self, stage: str, path=None, out=None):
        self.stage = stage
        self.path = path
        self.out = out or sys.stdout
        self.rows = []

    def row(self, metric: str, value, *, target: str = "", kept=None, nnz=None, working_set=None,
            note: str = "") -> dict:
        if isinstance(value, (float, int)) and not isinstance(value, bool):
            value = float(value) if isinstance(value, float) else int(value)
        r = {"stage": self.stage, "metric": metric, "value": value, "target": target,
             "kept": None if kept is None else float(kept),
             "nnz": None if nnz is None else int(nnz),
             "working_set": None if working_set is None else int(working_set), "note": note}
        self.rows.append(r)
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(r, default=str) + "\n")
        cells = row_cells(r)
        extra = ", ".join(f"{k} {v}" for k, v in zip(("kept", "nnz", "working set"), cells[4:7]) if v)
        print(f"  {metric}: {cells[2]}" + (f"  [{extra}]" if extra else "")
              + (f"  target {target}" if target else "") + (f"  {note}" if note else ""),
              file=self.out, flush=True)
        return r


def read_rows(path) -> list:
    """Every complete row of a JSON-lines file (a line cut by a kill is dropped)."""
    if not path or not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows
