"""Running a long native call while Python shows progress and handles Ctrl-C.

The native call runs on a helper thread with the GIL released; the calling
thread polls the call's `Progress` counters (atomics written by the workers)
to draw a tqdm bar. Ctrl-C, or `request_stop()` from anywhere, sets the stop
flag: the workers finish the sentence or block at hand and return, leaving
the model consistent. No Python code runs inside the native loops.
"""
from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

if TYPE_CHECKING:
    from tqdm import tqdm as Bar

__all__ = ["run_polled", "make_bar"]

POLL_SECONDS = 0.1


def make_bar(enabled: Optional[bool], total: float, desc: str, unit: str) -> Optional["Bar[Any]"]:
    """A tqdm bar, or None. `enabled=None` shows it when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, dynamic_ncols=True,
                smoothing=0.1)


def run_polled(call: Callable[[], Any], progress: Any,
               on_poll: Optional[Callable[[], None]] = None) -> Tuple[Any, bool]:
    """Runs `call()` on a thread, calling `on_poll()` every 0.1 s until it
    ends, and once after.

    Returns `(result, interrupted)`. On KeyboardInterrupt the stop flag is set
    and the call is waited for, so its result (a consistent partial pass) is
    still returned; the first exception of the call is re-raised here.
    """
    outcome: Dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["result"] = call()
        except BaseException as error:  # re-raised on the calling thread
            outcome["error"] = error
        finally:
            finished.set()

    thread = threading.Thread(target=target, name="embforge-native", daemon=True)
    thread.start()
    interrupted = False
    # Wait on an Event, never on Thread.join(timeout): on Python 3.11 a Ctrl-C
    # that interrupts join() releases the running thread's internal lock and
    # marks it stopped (the bpo-45274 clean-up), so is_alive() turns False
    # while the native call still runs and its result is lost.
    while not finished.is_set():
        try:
            finished.wait(POLL_SECONDS)
            if on_poll is not None:
                on_poll()
        except KeyboardInterrupt:
            interrupted = True
            progress.request_stop()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    if on_poll is not None:  # once more at the end: a bar ends where the call did
        try:
            on_poll()
        except KeyboardInterrupt:
            interrupted = True
            progress.request_stop()
    return outcome.get("result"), interrupted
