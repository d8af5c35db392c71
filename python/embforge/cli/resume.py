"""`--checkpoint DIR` and `--resume DIR` of `embforge train`: which checkpoint
to continue, and the Checkpointer that writes one after every epoch."""
from __future__ import annotations

import argparse
from typing import Any, NamedTuple, Optional, Tuple

from ..checkpoint import (CheckpointInfo, Checkpointer, check_settings, corpus_fingerprint,
                          latest, load_model, training_settings)
from ..distributed.launch import torchrun_launch

__all__ = ["add_checkpoint_arguments", "CheckpointPlan", "plan_checkpoint", "seen_by_every_rank",
           "check_same_vocabulary"]


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", metavar="DIR", default=None,
                        help="write a checkpoint to DIR at the end of every epoch (the newest "
                             "complete one is kept; DIR must not hold another run's)")
    parser.add_argument("--resume", metavar="DIR", default=None,
                        help="continue the run checkpointed in DIR (same corpus and settings; "
                             "threads may differ) and keep checkpointing there unless "
                             "--checkpoint says elsewhere")


class CheckpointPlan(NamedTuple):
    resumed: Optional[CheckpointInfo]    # the checkpoint continued, or None
    model: Any                           # the model to train: loaded, or the fresh one
    callbacks: Tuple[Any, ...]           # (Checkpointer,) or ()


def plan_checkpoint(args: argparse.Namespace, fresh: Any, data_files: Any, job: Any
                    ) -> CheckpointPlan:
    """Loads the checkpoint of --resume (refusing other settings or data than
    the checkpointed run's, naming the field) or keeps `fresh`; makes the
    Checkpointer of --checkpoint (default: the --resume directory). `job`
    (cli.common.Job): each rank of a torchrun job writes and loads its own
    file of the checkpoint, which must be on a filesystem every rank sees."""
    corpus = corpus_fingerprint(data_files)
    target = args.checkpoint or args.resume
    callbacks = (Checkpointer(target, rank=job.rank, world_size=job.world_size,
                              all_gather=job.all_gather, corpus=corpus),) if target else ()
    launch = torchrun_launch()
    own = seen_by_every_rank(job, target) if target else None
    if launch.restart and own is not None and own.run_id is not None \
            and own.run_id == launch.run_id:
        # torchrun restarted this job's processes after a failure (--max-restarts),
        # with the same command: they continue from the job's newest checkpoint
        job.say(f"restart {launch.restart} of torchrun job {launch.run_id}")
        return _resume(own, fresh, corpus, job, args.device, callbacks)
    if args.checkpoint and args.checkpoint != args.resume:
        existing = own  # of args.checkpoint, the target
        if existing is not None:
            raise ValueError(f"--checkpoint {args.checkpoint}: holds a checkpoint already "
                             f"(epoch {existing.epochs_done} of {existing.schedule['epochs']}); "
                             f"continue it with --resume {args.checkpoint}, or give an empty "
                             "directory")
    if not args.resume:
        return CheckpointPlan(None, fresh, callbacks)
    info = own if target == args.resume else seen_by_every_rank(job, args.resume)
    if info is None:
        raise ValueError(f"--resume {args.resume}: no complete checkpoint there (no manifest.json)")
    return _resume(info, fresh, corpus, job, args.device, callbacks)


def seen_by_every_rank(job: Any, directory: str) -> Optional[CheckpointInfo]:
    """latest(directory), after making sure that every rank of the job sees
    the same checkpoint there (ValueError on every rank otherwise): ranks
    that took different ones, or some one and others none, would train
    different epochs and fail later with a peer's error that does not say
    why (a DIR on each node's own disk, or a copy out of date)."""
    info = latest(directory)
    view = None if info is None else (info.epochs_done, info.world_size, info.run_id)
    views = job.all_gather(view)
    if any(other != views[0] for other in views):
        described = "; ".join(f"rank {rank}: " + ("none" if v is None else f"epoch {v[0]}")
                              for rank, v in enumerate(views))
        raise ValueError(f"{directory}: the ranks see different checkpoints there ({described}); "
                         "every rank must see the same directory: put it on a filesystem "
                         "they share")
    return info


def _resume(info: CheckpointInfo, fresh: Any, corpus: Any, job: Any, device: str,
            callbacks: Tuple[Any, ...]) -> CheckpointPlan:
    """The plan that continues checkpoint `info` (refused unless `fresh`,
    the model this command would train, has its settings and data)."""
    check_settings(info, training_settings(fresh, corpus))
    # a process group only for a torchrun job (FastText, one process, takes none)
    options = {} if job.group is None else {"process_group": job.group}
    model = load_model(info, job.rank, job.world_size, device=device, **options)
    # what may change between a run and its resume: threads, progress bar, memory
    model.workers = fresh.workers
    model.progress = fresh.progress
    for name in ("memory", "temp_dir"):
        if hasattr(fresh, name):
            setattr(model, name, getattr(fresh, name))
    job.say(f"resuming {info.directory}: {info.epochs_done} of {info.schedule['epochs']} epochs done")
    return CheckpointPlan(info, model, callbacks)


def check_same_vocabulary(info: CheckpointInfo, model: Any, vocab: Any) -> None:
    """The corpus read again must give the checkpoint's vocabulary exactly
    (words and counts): another corpus of the same file sizes is refused."""
    if vocab != model.vocab:
        raise ValueError(f"{info.directory}: cannot resume: corpus: its vocabulary ({len(vocab)} "
                         f"words) differs from the checkpoint's ({len(model.vocab)} words); "
                         "give the checkpointed run's corpus")
