"""Runs a benchmark's jobs in worker processes or in this process.

CPU runs of small torch models go to worker processes with one torch thread
each: one process per core is several times faster than one process whose
threads synchronise at every operation. GPU runs (and a single job at a
time) stay in this process, next to the model's device.
"""
from __future__ import annotations

import contextlib
import multiprocessing
from typing import Any, Callable, Iterable, Iterator, Optional


@contextlib.contextmanager
def job_runner(work: Callable[[Any], Any], processes: int = 1,
               initializer: Optional[Callable[..., None]] = None,
               initargs: tuple = ()) -> Iterator[Callable[[Iterable[Any]], Iterator[Any]]]:
    """Yields run(jobs), an iterator over work(job) for each job. With
    processes > 1: in that many spawned processes, each set up once by
    initializer(*initargs) (module-level functions: they are pickled),
    results in the order they finish; an error or interrupt terminates the
    workers. Otherwise in this process (initializer, if given, runs here
    first), in order."""
    if processes <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield lambda jobs: map(work, jobs)
        return
    pool = multiprocessing.get_context("spawn").Pool(processes, initializer, initargs)
    try:
        yield lambda jobs: pool.imap_unordered(work, jobs)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
