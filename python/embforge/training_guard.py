"""One train() at a time per model, and no save from another thread while it runs.

Hogwild training writes the weights from native threads with the GIL
released, so another Python thread that saved the model mid-call would write
a file of rows caught half-way through their updates, and a second train()
on the same model would race the first one's learning-rate schedule and
counters. Both are refused with a RuntimeError that says what to do.
Callbacks run in the training thread, between native calls (the weights are
still then), so saving from a callback — a checkpoint per epoch — works.
Queries from other threads (most_similar, lookups) are not refused: the
arrays are never reallocated during training, so they read live weights
(KeyedVectors drops caches computed from them when training ends).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Optional

__all__ = ["TrainingGuard"]


class TrainingGuard:
    def __init__(self, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self._thread: Optional[int] = None

    @contextlib.contextmanager
    def training(self) -> Iterator[None]:
        """Held for the whole of a train() call."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"this {self._what} is already training in another thread; "
                               "wait for that train() to return (or call stop() first)")
        self._thread = threading.get_ident()
        try:
            yield
        finally:
            self._thread = None
            self._lock.release()

    def check_idle(self, action: str) -> None:
        """Refuses `action` from a thread other than the one training."""
        thread = self._thread
        if thread is not None and thread != threading.get_ident():
            raise RuntimeError(f"cannot {action} this {self._what} while train() runs in another "
                               "thread (the weights change under it): call stop() and wait for "
                               "train() to return, or do it from a callback")

    def check_not_training(self, action: str) -> None:
        """Refuses `action` during train() from any thread, callbacks included:
        for what reallocates the weights the running epoch is writing."""
        if self._thread is not None:
            raise RuntimeError(f"cannot {action} this {self._what} while train() runs (it "
                               "reallocates the weights the training threads write): do it "
                               "after train() returns")
