"""What torchrun tells the processes it starts about the job they belong to.

torchrun (torch.distributed.elastic) restarts every worker of a job when one
fails, up to ``--max-restarts`` times, with the same command line. The
workers learn from their environment which start they are
(``TORCHELASTIC_RESTART_COUNT``: 0 the first time) and the job's id
(``TORCHELASTIC_RUN_ID``: ``--rdzv-id``, or a fresh one per launch with
``--standalone``), the same in every start of one launch. A checkpoint
records the id (checkpoint/writer.py), so that a restart of the same launch
can tell its own checkpoint from another run's and continue it
(cli/resume.py); group.py keys each restart's rendezvous by its number.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional

__all__ = ["Launch", "torchrun_launch", "is_run_id", "RUN_ID_ENV", "RESTART_ENV", "MAX_RUN_ID"]

RUN_ID_ENV = "TORCHELASTIC_RUN_ID"
RESTART_ENV = "TORCHELASTIC_RESTART_COUNT"
MAX_RUN_ID = 256  # characters of a run id a checkpoint keeps (torchrun's are uuids or --rdzv-id)


def is_run_id(value: object) -> bool:
    """Whether `value` is a job id a checkpoint keeps: a string of 1 to
    MAX_RUN_ID characters."""
    return isinstance(value, str) and 0 < len(value) <= MAX_RUN_ID


@dataclass(frozen=True)
class Launch:
    """This process's start within its torchrun launch."""

    run_id: Optional[str]  # the launch's id; None outside torchrun
    restart: int           # 0: the first start; n: the n-th restart after a failure


def torchrun_launch(environ: Optional[Mapping[str, str]] = None) -> Launch:
    """The Launch described by `environ` (default: this process's
    environment). Values that are missing, or not what torchrun writes,
    read as no run id and the first start."""
    environ = os.environ if environ is None else environ
    text = environ.get(RUN_ID_ENV, "").strip()
    run_id = text if is_run_id(text) else None
    count = environ.get(RESTART_ENV, "").strip()
    restart = int(count) if count.isascii() and count.isdigit() else 0
    return Launch(run_id=run_id, restart=restart)
