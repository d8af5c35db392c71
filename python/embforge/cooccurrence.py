"""Word-word co-occurrence counts: a sparse matrix you can keep, inspect and reuse.

    X = embforge.cooccurrence("corpus.txt.gz", window=10, memory="1GB")
    X.nnz, X["king", "queen"], X.to_scipy()
    X.save("corpus.cooc");  X.save_glove_binary("cooccurrence.bin")

Counting follows Stanford GloVe's ``cooccur`` (see csrc/include/embforge/
cooccur.h): a window never crosses a line (sentence), out-of-vocabulary words
are dropped before windowing, a pair at distance d adds 1/d (or 1) to
``X[left][right]`` and, when symmetric, to ``X[right][left]``. Lines are not split
into shorter sentences, as in cooccur.

The work runs on native threads within a memory budget: what does not fit is
spilled as sorted runs to a private temporary directory, removed afterwards
(also on errors and Ctrl-C). Values are summed in 64-bit fixed point, so the
result is bitwise the same for any thread count or budget, and stored as
float32 (relative rounding 6e-8; GloVe uses log x and x^0.75 of them).
"""
from __future__ import annotations

import logging
import os
from functools import partial
from typing import (IO, TYPE_CHECKING, Any, Callable, ContextManager, Dict, Iterator, Optional,
                    Sequence, Tuple, cast)

import numpy as np

from ._typing import Corpus, Memory, StrPath
from . import _native
from ._checks import parse_memory
from .backends import get_backend
from .cooccurrence_count import prepare_count, run_count
from .corpus import EncodedCorpus
from .distributed.collectives import all_reduce
from .distributed.consistency import run_together
from .distributed.group import resolve_group
from .io import cooc_file
from .io.archive import read_archive
from .io.atomic import atomic_write
from .vocab import Vocabulary
from .backends.base import CooccurrenceCount

if TYPE_CHECKING:
    from .distributed.group import Group

__all__ = ["Cooccurrence", "cooccurrence", "parse_memory"]  # parse_memory: from _checks, kept importable here

logger = logging.getLogger(__name__)

FORMAT_MAGIC = "embforge.Cooccurrence"
FORMAT_VERSION = 1
GLOVE_RECORD = np.dtype([("word1", "<i4"), ("word2", "<i4"), ("value", "<f8")])  # glove.c's CREC
_RECORDS_PER_CHUNK = 1 << 20    # GloVe binary I/O in 16 MiB pieces


class Cooccurrence:
    """The co-occurrence matrix X in COO form, sorted by (row, col), no zeros.

    ``rows``/``cols`` (int32, 0-based word ids of ``vocab``) and ``values``
    (float32) are plain numpy arrays sharing the native result's memory.
    ``window``, ``symmetric`` and ``distance_weighting`` record how X was
    counted (None when unknown, e.g. read from a GloVe binary file); ``stats``
    holds the counting statistics (spills, timings, peak memory planned).

    On disk (``on_disk``): from ``load(path, mmap=True)``, or counted with
    ``path=`` or past the memory budget, the arrays are read-only memory
    maps of the archive file, and trainers read it in chunks (iter_chunks)
    instead of holding it in RAM.

    On a GPU (``device="cuda:N"``: counted with ``keep_on_device=True``, or
    ``to_device()``), rows/cols/values are torch (or CuPy) arrays there; what
    reads values on the host (lookups, ``to_scipy``, ``save``,
    ``save_glove_binary``, ``==``) works on host copies made for that call
    (whole, or chunk by chunk for the files): call ``to_host()`` once for many
    lookups.
    """

    def __init__(self, rows: Any, cols: Any, values: Any, vocab: Vocabulary, *,
                 window: Optional[int] = None, symmetric: Optional[bool] = None,
                 distance_weighting: Optional[bool] = None, stats: Optional[Dict[str, Any]] = None,
                 check: bool = True, source: Any = None, device: str = "cpu", group: Any = None
                 ) -> None:
        self._source = source  # (open archive file, {column: cooc_file.Member}) when on disk
        self._backend = get_backend(device)
        self.device = self._backend.device  # where rows/cols/values live
        # A distributed count's partition: rows r with r % world_size == rank
        # of the whole matrix (gather() collects it); None for a whole matrix.
        self._group = group
        self.partition = None if group is None else (group.rank, group.world_size)
        self.rows, self.cols, self.values = (self._backend.as_array(a) for a in (rows, cols, values))
        if not isinstance(vocab, Vocabulary):
            raise TypeError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
        self.vocab = vocab
        self.window = window
        self.symmetric = symmetric
        self.distance_weighting = distance_weighting
        self.stats = dict(stats or {})
        if check:
            self._check()

    def _check(self, ordered: bool = False) -> None:
        """Shapes and dtypes, then every entry (_check_entries)."""
        for name, array, dtype in (("rows", self.rows, np.int32), ("cols", self.cols, np.int32),
                                   ("values", self.values, np.float32)):
            if array.dtype != dtype or array.ndim != 1:
                raise ValueError(f"{name} must be a 1-D {np.dtype(dtype).name} array, got "
                                 f"{array.ndim}-D {array.dtype}")
        n = len(self.rows)
        if len(self.cols) != n or len(self.values) != n:
            raise ValueError(f"rows, cols and values differ in length: {n}, {len(self.cols)}, "
                             f"{len(self.values)}")
        self._check_entries(ordered)

    def _check_entries(self, ordered: bool = False, entries: int = 1 << 20) -> None:
        """Ids inside the vocabulary, values finite and > 0, and with
        `ordered` keys strictly increasing in (row, col); one piece at a time
        (views in memory, reads on disk)."""
        vocab, last, at = len(self.vocab), -1, 0
        for rows, cols, values in self.iter_chunks(entries):
            for name, ids in (("rows", rows), ("cols", cols)):
                bad = (ids < 0) | (ids >= vocab)
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise ValueError(f"{name}[{at + i}] = {int(ids[i])} is not a word id of the "
                                     f"vocabulary of {vocab} words")
            bad = ~(np.isfinite(values) & (values > 0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(f"values[{at + i}] = {float(values[i])!r}: co-occurrence values "
                                 "must be finite and > 0")
            if ordered:
                keys = rows.astype(np.int64) * vocab + cols
                if not (np.diff(np.concatenate(([last], keys))) > 0).all():
                    raise ValueError("entries are not sorted by (row, col) without duplicates")
                last = int(keys[-1])
            at += len(values)

    # ------------------------------------------------------------ inspection
    @property
    def nnz(self) -> int:
        return len(self.values)

    @property
    def on_disk(self) -> bool:
        """True when rows/cols/values are memory maps of an archive file."""
        return self._source is not None

    def iter_chunks(self, entries: int, names: Optional[Tuple[str, ...]] = None
                    ) -> Iterator[Tuple[np.ndarray, ...]]:
        """(rows, cols, values), or the columns `names`, of consecutive
        pieces of at most `entries` nonzeros. On disk they are read with
        pread into fresh arrays (bounded memory); in memory they are views."""
        names = names or tuple(name for name, _ in cooc_file.COLUMNS)
        for start, stop in cooc_file.chunk_ranges(self.nnz, max(1, int(entries))):
            yield tuple(self._column(name, start, stop) for name in names)

    def _file_chunks(self, names: Tuple[str, ...], entries: int, dst: int,
                     counts: Optional[np.ndarray] = None
                     ) -> Iterator[Optional[Tuple[np.ndarray, ...]]]:
        """The columns `names` ("rows" first if at all) of the whole matrix
        in (row, col) order: this matrix's own, in pieces of at most
        `entries` nonzeros; for a partition, gathered on rank `dst` in
        pieces of the distributed size, whatever `entries` says (None on
        the other ranks, and every rank must take every piece: see
        gathered_chunks, which is given the whole matrix's row `counts`
        when known)."""
        if self._group is None:
            yield from self.iter_chunks(entries, names)
            return
        from .distributed.cooccurrence import gathered_chunks
        host = self.to_host()
        sent = [getattr(host, name) for name in names if name != "rows"]
        for piece in gathered_chunks(host.rows, sent, self._group, len(self.vocab), dst, counts):
            yield None if piece is None else piece if names[0] == "rows" else piece[1:]

    def _output(self, path: StrPath, dst: int, pieces: Sequence[Iterator[Any]]
                ) -> ContextManager[Optional[IO[bytes]]]:
        """`path` opened to be written atomically; for a partition on rank
        `dst` only (None on the others, which send their part of the
        `pieces` on leaving), a failure raised on every rank (writer_file)."""
        if self._group is None:
            return atomic_write(path, "wb")
        from .distributed.cooccurrence import writer_file
        return writer_file(path, self._group, dst, pieces)

    def _column(self, name: str, start: int, stop: int) -> np.ndarray:
        if self._source is None:  # a view in host memory, a host copy of a piece of a GPU matrix
            return self._backend.to_host(getattr(self, name)[start:stop])
        file, members = self._source
        return cooc_file.read(file, members[name], start, stop - start)

    @property
    def shape(self) -> Tuple[int, int]:
        return (len(self.vocab), len(self.vocab))

    def __len__(self) -> int:
        return self.nnz

    # ------------------------------------------------------------ placement
    def to_host(self) -> "Cooccurrence":
        """This matrix with numpy arrays: itself, or a host copy of a GPU matrix."""
        arrays = (self.rows, self.cols, self.values)
        host = cast("Tuple[np.ndarray, np.ndarray, np.ndarray]",  # one per array
                    tuple(self._backend.to_host(a) for a in arrays))
        if all(h is a for h, a in zip(host, arrays)):
            return self
        return self._like(*host, device="cpu")

    def to_device(self, device: str = "cuda") -> "Cooccurrence":
        """A copy with torch (or CuPy) arrays on the GPU, e.g. for ``GloVe(device="cuda")``;
        the matrix itself when it is there already."""
        backend = get_backend(device)
        arrays = (self.rows, self.cols, self.values)
        moved = backend.upload_matrix(*arrays)
        if all(m is a for m, a in zip(moved, arrays)):
            return self
        return self._like(*moved, device=backend.device)

    def gather(self, dst: int = 0) -> Optional["Cooccurrence"]:
        """The whole matrix, on rank `dst` of a distributed count (None on
        the other ranks; every rank must call it); a whole matrix itself."""
        if self._group is None:
            return self
        from .distributed.cooccurrence import gather_partitions
        host = self.to_host()
        whole = gather_partitions(host.rows, host.cols, host.values, self._group,
                                   len(self.vocab), dst)
        if whole is None:
            return None
        stats = dict(self.stats, nnz=len(whole[2]))
        stats.pop("partition", None)
        return Cooccurrence(*whole, self.vocab, window=self.window, symmetric=self.symmetric,
                            distance_weighting=self.distance_weighting, stats=stats, check=False)

    def own_rows(self, group: Any) -> "Cooccurrence":
        """The partition of this whole matrix that rank ``group.rank`` owns in
        a distributed run (rows r with r % world_size == rank): how a matrix
        loaded from a file is shared out for distributed GloVe."""
        if self._group is not None:
            raise ValueError("this matrix is a partition already")
        host = self.to_host()
        rows, cols, values = host.rows, host.cols, host.values
        mine = rows % group.world_size == group.rank
        return Cooccurrence(rows[mine], cols[mine], values[mine], self.vocab, window=self.window,
                            symmetric=self.symmetric, distance_weighting=self.distance_weighting,
                            stats=self.stats, check=False, group=group)

    def _like(self, rows: Any, cols: Any, values: Any, device: str) -> "Cooccurrence":
        """The same matrix (vocabulary, settings, stats) on other arrays."""
        return Cooccurrence(rows, cols, values, self.vocab, window=self.window,
                            symmetric=self.symmetric, distance_weighting=self.distance_weighting,
                            stats=self.stats, check=False, device=device)

    def __getitem__(self, pair: Tuple[str, str]) -> float:
        """``X["king", "queen"]`` or ``X[12, 40]``: the value (0.0 when absent)."""
        word1, word2 = pair
        row = self.vocab[word1] if isinstance(word1, str) else int(word1)
        col = self.vocab[word2] if isinstance(word2, str) else int(word2)
        host = self.to_host()
        lo = np.searchsorted(host.rows, row, side="left")
        hi = np.searchsorted(host.rows, row, side="right")
        at = lo + np.searchsorted(host.cols[lo:hi], col)
        return float(host.values[at]) if at < hi and host.cols[at] == col else 0.0

    def to_scipy(self, format: str = "coo") -> Any:
        """A scipy.sparse matrix (``coo``, ``csr`` or ``csc``); COO shares the arrays."""
        try:
            import scipy.sparse
        except ImportError as error:
            raise ImportError("to_scipy() needs scipy: pip install scipy") from error
        host = self.to_host()
        matrix = scipy.sparse.coo_matrix((host.values, (host.rows, host.cols)), shape=self.shape,
                                         copy=False)
        return matrix if format == "coo" else matrix.asformat(format)

    def __repr__(self) -> str:
        how = (f", window={self.window}, symmetric={self.symmetric}, "
               f"distance_weighting={self.distance_weighting}" if self.window is not None else "")
        return f"Cooccurrence({len(self.vocab)} words, nnz={self.nnz}{how}, device={self.device!r})"

    def __eq__(self, other: object) -> bool:
        if not (isinstance(other, Cooccurrence) and self.vocab == other.vocab):
            return False
        mine, theirs = self.to_host(), other.to_host()
        return (np.array_equal(mine.rows, theirs.rows) and np.array_equal(mine.cols, theirs.cols)
                and np.array_equal(mine.values, theirs.values))

    # ------------------------------------------------------------ our format
    def _config(self) -> Dict[str, Any]:
        return dict(format=FORMAT_MAGIC, version=FORMAT_VERSION, window=self.window,
                    symmetric=self.symmetric, distance_weighting=self.distance_weighting)

    def save(self, path: StrPath, dst: int = 0) -> None:
        """One uncompressed .npz (plain arrays + a JSON header), written
        atomically and read back without pickle; the arrays are written in
        pieces and 64-byte aligned, so load(path, mmap=True) can map them.

        A partition of a distributed count is saved by every rank calling
        this: rank `dst` writes the whole matrix, fetched from the ranks a
        piece at a time (no rank holds it whole); the others write nothing."""
        nnz, counts = self.nnz, None
        if self._group is not None:
            from .distributed.cooccurrence import whole_row_counts
            counts = whole_row_counts(self.to_host().rows, len(self.vocab), self._group)
            nnz = int(counts.sum())
        columns = {name: (piece[0] for piece in self._file_chunks((name,), 1 << 20, dst, counts)
                          if piece is not None)
                   for name, _ in cooc_file.COLUMNS}
        with self._output(path, dst, list(columns.values())) as out:
            if out is not None:  # the other ranks send their part of each piece on leaving
                cooc_file.write_coo_archive(out, self._config(), self.vocab.words,
                                            self.vocab.counts, nnz, columns)

    @classmethod
    def load(cls, path: StrPath, mmap: bool = False) -> "Cooccurrence":
        """Reads a file written by save(); every array is validated. With
        `mmap`, rows/cols/values stay in the file (read-only memory maps,
        validated by reading it once in pieces): for matrices larger than RAM."""
        if mmap:
            return cls._load_mapped(path)
        config, words, arrays = read_archive(path, "co-occurrence file",
                                             ("counts", "rows", "cols", "values"),
                                             FORMAT_MAGIC, FORMAT_VERSION)
        counts, rows, cols, values = (arrays[k] for k in ("counts", "rows", "cols", "values"))
        try:
            result = cls(rows, cols, values, Vocabulary(words, counts), window=config.get("window"),
                         symmetric=config.get("symmetric"),
                         distance_weighting=config.get("distance_weighting"), check=False)
            result._check(ordered=True)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: {error}") from error
        return result

    @classmethod
    def _load_mapped(cls, path: StrPath) -> "Cooccurrence":
        config, words, arrays = read_archive(path, "co-occurrence file", ("counts",),
                                             FORMAT_MAGIC, FORMAT_VERSION)
        file = open(os.fspath(path), "rb")
        try:
            try:
                members = cooc_file.open_members(file, [name for name, _ in cooc_file.COLUMNS])
                vocab = Vocabulary(words, arrays["counts"])
            except (KeyError, ValueError, TypeError) as error:
                raise ValueError(f"{path}: not a usable co-occurrence file ({error})") from error
            for name, dtype in cooc_file.COLUMNS:
                if members[name].dtype != dtype or members[name].count != members["rows"].count:
                    raise ValueError(f"{path}: {name} is {members[name].count} x "
                                     f"{members[name].dtype}, expected {members['rows'].count} x {dtype}")
            maps = [cooc_file.memmap(file, members[name]) for name, _ in cooc_file.COLUMNS]
            result = cls(maps[0], maps[1], maps[2], vocab, window=config.get("window"), symmetric=config.get("symmetric"),
                         distance_weighting=config.get("distance_weighting"), check=False,
                         source=(file, members))
            try:
                result._check(ordered=True)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from error
        except BaseException:
            file.close()
            raise
        return result

    # ------------------------------------------------------------ GloVe's format
    def save_glove_binary(self, path: StrPath, vocab_path: Optional[StrPath] = None,
                          dst: int = 0) -> None:
        """Writes glove.c's ``cooccurrence.bin``: records of int32 word1, int32
        word2, float64 value, little-endian, ids 1-based, in (row, col) order.
        `vocab_path` also writes the matching ``vocab.txt`` ("word count" lines).
        A partition of a distributed count: every rank calls it, rank `dst`
        writes the whole matrix (as save())."""
        # Packed natively into small reused buffers and written in place
        # (pwrite at each record's offset): packing into one records array, or
        # a fresh one per chunk, touched 16 bytes of new memory a nonzero on
        # top of the file's own pages, and fresh pages are what this costs
        # (310 MB for the bench corpus; numpy's strided packing took 0.65 s).
        # Held in memory the columns are written 256 MB of records a call
        # (views, no copy; Ctrl-C is seen between calls); on disk or on a GPU
        # they come in pieces of 16 MB.
        in_host_memory = not self.on_disk and isinstance(self.rows, np.ndarray)
        chunk = 16 * _RECORDS_PER_CHUNK if in_host_memory else _RECORDS_PER_CHUNK
        pieces = self._file_chunks(("rows", "cols", "values"), max(1, chunk), dst)
        with self._output(path, dst, [pieces]) as out:
            at = 0
            fd = -1 if out is None else out.fileno()
            for piece in (pieces if out is not None else ()):  # the others send on leaving
                rows, cols, values = cast("Tuple[np.ndarray, ...]", piece)
                _native.core.write_glove_records(
                    fd, at * GLOVE_RECORD.itemsize, np.ascontiguousarray(rows, np.int32),
                    np.ascontiguousarray(cols, np.int32), np.ascontiguousarray(values, np.float32),
                    name=os.fspath(path))
                at += len(rows)
            if vocab_path is not None and out is not None:  # a failure fails every rank
                self.vocab.save(vocab_path)

    @classmethod
    def load_glove_binary(cls, path: StrPath, vocab: Any) -> "Cooccurrence":
        """Reads a glove.c co-occurrence file (sorted or shuffled) for `vocab`
        (a Vocabulary, or the path of GloVe's ``vocab.txt``). Records are sorted
        by (row, col) and duplicates summed. A size that is not a multiple of
        16 bytes, an id outside [1, len(vocab)] or a value that is not finite
        and > 0 raises ValueError naming the record."""
        if not isinstance(vocab, Vocabulary):
            vocab = Vocabulary.load(vocab)
        path = os.fspath(path)
        size = os.path.getsize(path)
        if size % GLOVE_RECORD.itemsize:
            raise ValueError(f"{path}: {size} bytes is not a whole number of {GLOVE_RECORD.itemsize}-byte "
                             "GloVe records (int32, int32, float64): truncated or not a co-occurrence file")
        n = size // GLOVE_RECORD.itemsize
        rows = np.empty(n, dtype=np.int32)
        cols = np.empty(n, dtype=np.int32)
        values = np.empty(n, dtype=np.float64)
        with open(path, "rb") as stream:
            for start in range(0, n, _RECORDS_PER_CHUNK):
                count = min(n - start, _RECORDS_PER_CHUNK)
                records = np.fromfile(stream, dtype=GLOVE_RECORD, count=count)
                if len(records) != count:
                    raise ValueError(f"{path}: file ended at record {start + len(records)} of {n}")
                _check_glove_records(path, records, start, len(vocab))
                rows[start:start + count] = records["word1"] - 1
                cols[start:start + count] = records["word2"] - 1
                values[start:start + count] = records["value"]
        keys = rows.astype(np.int64) * len(vocab) + cols
        if n > 1 and not (np.diff(keys) > 0).all():  # glove's shuffled file, or duplicates
            order = np.argsort(keys, kind="stable")
            keys, rows, cols, values = keys[order], rows[order], cols[order], values[order]
            first = np.concatenate(([True], np.diff(keys) != 0))
            starts = np.flatnonzero(first)
            values = np.add.reduceat(values, starts) if n else values
            rows, cols = rows[starts], cols[starts]
        values32 = values.astype(np.float32)
        if n and not (np.isfinite(values32).all() and (values32 > 0).all()):
            raise ValueError(f"{path}: a value overflows or underflows float32")
        return cls(rows, cols, values32, vocab)


def _check_glove_records(path: StrPath, records: np.ndarray, start: int, vocab: int) -> None:
    for name in ("word1", "word2"):
        ids = records[name]
        bad = (ids < 1) | (ids > vocab)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: record {start + i} has {name} = {int(ids[i])}, outside the "
                             f"vocabulary's 1-based ids [1, {vocab}]")
    value = records["value"]
    bad = ~(np.isfinite(value) & (value > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: record {start + i} has value {float(value[i])!r}; co-occurrence "
                         "values must be finite and > 0")


def cooccurrence(corpus: "Corpus | EncodedCorpus", vocab: Optional[Vocabulary] = None, *,
                 window: int = 15, symmetric: bool = True, distance_weighting: bool = True,
                 min_count: int = 5, max_vocab_size: Optional[int] = None,
                 workers: Optional[int] = None, memory: Memory = "1GB",
                 temp_dir: Optional[StrPath] = None, device: str = "cpu",
                 progress: Optional[bool] = None, max_product: int = -1,
                 path: Optional[StrPath] = None, keep_on_device: bool = False,
                 distributed: bool = False, process_group: Any = None,
                 on_vocab: Optional[Callable[[Vocabulary], None]] = None) -> Cooccurrence:
    """Counts the co-occurrence matrix of `corpus`.

    `corpus`: a file path (text, .gz, .bz2, .xz), a list of paths, an iterable
    of token lists, or an EncodedCorpus. `vocab`: count with this vocabulary
    (else one is built with `min_count` / `max_vocab_size`). `window`: the
    largest distance counted (GloVe's default 15). `symmetric=False` counts
    left contexts only (cooccur ``-symmetric 0``); `distance_weighting=False`
    adds 1 instead of 1/d. `memory`: the budget for encoding the corpus,
    counting and the result (bytes, GB as a float, or "1GB"/"512MiB"): the
    encoded corpus takes at most 1/16 of it in RAM, a larger one is
    memory-mapped from a deleted temporary file under `temp_dir` (see
    embforge.corpus), and counting gets the other 15/16; beyond it, sorted
    runs spill to a fresh directory under `temp_dir` (default: the system's). The result
    takes 12 bytes per nonzero; when it does not fit the budget it is written
    to an unnamed temporary file under `temp_dir` (gone when the result is
    freed) and memory-mapped. `path`: write the result to this file instead
    (Cooccurrence.save's format, atomically) and return it memory-mapped;
    either way the matrix is never held in RAM. `max_product` tunes the
    dense table (-1: from the budget; 0: none). Ctrl-C stops counting and
    raises KeyboardInterrupt.

    `device="cuda"` (or "cuda:N") counts on the GPU (see backends/cuda.py):
    the same matrix bit for bit; `memory` is then the device workspace (the
    GPU does not spill: a matrix that outgrows it raises RuntimeError), and
    `workers`, `temp_dir`, `max_product` do not apply. The result has host
    arrays unless `keep_on_device=True`: then torch (or CuPy) arrays on the GPU
    (`keep_on_device` does not apply on the CPU). On-disk results are CPU-only:
    a GPU count is never written to a file, and `path=` with a GPU raises
    ValueError (count, then ``save(path)``).

    `distributed=True` (torch's default process group) or `process_group=`:
    every rank of a torch.distributed job counts its share of the corpus and
    gets back its partition of the matrix of the whole corpus (the rows r
    with r % world_size == rank, ``partition == (rank, world_size)``), equal
    bit for bit to those rows of the single-process matrix;
    ``save(path)`` called on every rank writes the whole matrix's file on
    one rank, a range of rows at a time; ``gather()`` collects the whole
    matrix in memory on one rank. CPU only for now, and `path=` does not
    apply.

    `on_vocab(vocabulary)` is called once the corpus is encoded, before it is
    counted: what it raises ends the call there (GloVe refuses a model that
    cannot fit its memory before the count's time is spent). Across ranks
    it runs on every rank, and a failure on one raises on all of them.
    """
    backend = get_backend(device)
    backend.check_cooccurrence(path)
    group = resolve_group(distributed, process_group)
    partitioned = group is not None and group.world_size > 1
    if partitioned and path is not None:
        raise ValueError("path= writes one process's count; a distributed count is held in "
                         "partitions: call save(path) on every rank (one rank writes the file)")
    prepared = prepare_count(backend, corpus, vocab, window=window, min_count=min_count,
                             max_vocab_size=max_vocab_size, workers=workers, memory=memory,
                             temp_dir=temp_dir, max_product=max_product, group=group)
    encoded = prepared.encoded
    if on_vocab is not None:
        run_together(group, "checking the vocabulary before counting",
                     partial(on_vocab, encoded.vocab))
    settings: Dict[str, Any] = dict(window=prepared.window, symmetric=bool(symmetric),
                                    distance_weighting=bool(distance_weighting))
    archive_config = dict(format=FORMAT_MAGIC, version=FORMAT_VERSION, **settings)

    def count(native_progress: Any) -> CooccurrenceCount:
        if partitioned:
            return backend.count_cooccurrence_partition(
                encoded, cast("Group", group), **settings, workers=prepared.workers,
                memory_bytes=prepared.memory_bytes, temp_dir=temp_dir,
                max_product=prepared.max_product, archive_config=archive_config,
                progress=native_progress)
        return backend.count_cooccurrences(
            encoded, **settings, workers=prepared.workers, memory=memory,
            memory_bytes=prepared.memory_bytes, temp_dir=temp_dir,
            max_product=prepared.max_product, path=path,
            archive_config=archive_config, progress=native_progress)

    kept = (f"the matrix was written to {os.fspath(path)}" if path is not None
            else "the matrix was not kept")
    # rank 0's bar counts the whole job's words (the ranks count their shares together)
    job_tokens = (int(all_reduce(np.array([encoded.n_tokens], dtype=np.int64),
                                 cast("Group", group))[0]) if partitioned else encoded.n_tokens)
    result = run_count(backend, encoded, count, progress=progress,
                       show_bar=group is None or group.rank == 0, kept=kept,
                       job_tokens=job_tokens)
    matrix = Cooccurrence(result.rows, result.cols, result.values, encoded.vocab, **settings,
                          stats=result.stats, check=False, source=result.source,
                          device=backend.device, group=group if partitioned else None)
    return matrix if keep_on_device else matrix.to_host()
