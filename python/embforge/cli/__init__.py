"""The `embforge` command line: vocab, train, eval, similar, cooccur, finetune,
lm, chat, plot.

The parser and the dispatch live in `embforge.cli.app`, one module per command
family beside it. Library modules never import this package; it imports them.
Run as ``embforge ...`` or ``python -m embforge ...``.

This module loads nothing else until `main` has looked at the command: numpy
is not loaded yet, so the commands that make no BLAS call can keep OpenBLAS
from starting its thread pool.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, List, Optional

__all__ = ["main", "script", "build_parser", "load_vectors", "save_vectors"]

if TYPE_CHECKING:
    from .app import build_parser
    from .common import load_vectors, save_vectors

# Commands whose work is all native (counting, encoding), timed as a whole
# by their users against C tools:
# - they make no BLAS call. At load, OpenBLAS starts one thread per core that
#   spins before it sleeps; measured here, `import numpy` took 0.23 CPU-s
#   against 0.14 with one BLAS thread, and in `embforge cooccur` that
#   spinning took 3-9% of the samples while the counting threads wanted both
#   cores. main() starts it with one thread unless the user chose otherwise;
# - run as a script, they end without the interpreter's teardown (script()):
#   0.02 s of a 1.2 s `embforge cooccur` went to freeing what was done with.
# A rank of a torchrun job ends that way too, whatever the command: its
# teardown unloads torch, 0.35 s measured after a `train` had written its
# output, and torchrun's launcher waits for it before it can exit.
_COUNTING_COMMANDS = ("vocab", "cooccur")


def _command(argv: List[str]) -> Optional[str]:
    """The subcommand's name: the first argument that is not an option (the
    parser's own options, -v and -h, take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    import sys
    if _command(sys.argv[1:] if argv is None else argv) in _COUNTING_COMMANDS \
            and "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a user's own setting wins
    from .app import run
    return run(argv)


def script() -> int:
    """The `embforge` command and `python -m embforge`: main() on sys.argv.
    A counting command, and any command run as a rank of a torchrun job,
    ends the process itself (app.leave_now), with its exit status; any other
    returns the status for sys.exit."""
    import sys
    status = main()
    from ..distributed.group import took_part_in_job
    if _command(sys.argv[1:]) in _COUNTING_COMMANDS or took_part_in_job():
        from .app import leave_now
        leave_now(status)
    return status


def __getattr__(name: str) -> Any:
    if name == "build_parser":
        from .app import build_parser
        return build_parser
    if name in ("load_vectors", "save_vectors"):
        from . import common
        return getattr(common, name)
    raise AttributeError(f"module 'embforge.cli' has no attribute {name!r}")
