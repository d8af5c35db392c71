"""Ctrl-C during training: finish the batch in progress, then stop."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Callable, Iterator

__all__ = ["ctrl_c_stops"]


@contextlib.contextmanager
def ctrl_c_stops(request_stop: Callable[[], None]) -> Iterator[None]:
    """While training runs in the main thread with Python's own Ctrl-C
    handler, the first Ctrl-C calls `request_stop()` (the loop stops after
    the batch in progress: no optimizer step is cut in half; a native call
    stops at its next safe point) and a second one raises KeyboardInterrupt
    at once. Whatever Python code the loop runs between batches or native
    calls when it comes, the stop is only asked for, never raised there (a
    KeyboardInterrupt between two slices of an epoch lost the trained
    vectors). A handler the caller installed is left alone."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def first(signum: Any, frame: Any) -> None:
        request_stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
