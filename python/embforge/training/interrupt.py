"""Ctrl-C during training: finish the batch in progress, then stop."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

__all__ = ["ctrl_c_stops"]


@contextlib.contextmanager
def ctrl_c_stops(flag: threading.Event) -> Iterator[None]:
    """While training runs in the main thread with Python's own Ctrl-C
    handler, the first Ctrl-C sets `flag` (the loop stops after the batch in
    progress: no optimizer step is cut in half) and a second one raises
    KeyboardInterrupt at once. A handler the caller installed is left alone."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def first(signum: Any, frame: Any) -> None:
        flag.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
