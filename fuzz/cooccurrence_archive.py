"""Cooccurrence.load, read into memory and memory-mapped (mmap=True): both
must refuse the same files, and when both accept one they must hold the same
matrix. Input: the raw file, or members zipped here (see _archives.py; the
members are then not 64-byte aligned, which the memory map must handle)."""
import sys

import _archives
import _harness
import _seeds

with _harness.instrumented():
    from embforge.cooccurrence import Cooccurrence

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    path = _harness.SCRATCH.file(_archives.zip_of(data))
    outcomes = []
    for mmap in (False, True):
        try:
            outcomes.append(Cooccurrence.load(path, mmap=mmap))
        except ValueError as error:
            outcomes.append(error)
    loaded, mapped = outcomes
    if isinstance(loaded, Exception) != isinstance(mapped, Exception):
        raise _harness.ContractViolation(
            f"load gives {loaded!r}, load(mmap=True) gives {mapped!r}")
    if isinstance(loaded, Exception):
        raise loaded
    if loaded != mapped:
        raise _harness.ContractViolation("load and load(mmap=True) hold different matrices")


def seeds():
    matrix = _seeds.cooccurrence_matrix()
    raw = _seeds.written(matrix.save, ".cooc")
    return {"raw": raw, "members": _seeds.split_members(raw)}


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
