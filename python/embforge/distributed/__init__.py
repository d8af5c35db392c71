"""Training across processes on torch.distributed: the building blocks.

* group.py        which processes take part (a torch process group, our rank,
                  the timeout every blocking operation honours), and the
                  torchrun start-up of the command line.
* launch.py       what torchrun tells a rank: the job's id, which restart
                  this start is.
* collectives.py  all-reduce, all-gather, broadcast, barrier with that timeout:
                  a dead or silent peer becomes a RuntimeError naming our rank
                  and the operation, never a hang.
* exchange.py     an all-to-all of byte buffers (each payload sent only to its
                  destination).
* consistency.py  refusing ranks given different parameters or corpora, and
                  failing every rank together when one fails.
* corpus_share.py each rank's share of the corpus read, counted and encoded
                  (what encode(..., distributed=True) and `embforge vocab`
                  under torchrun run).
* vocabulary.py   the distributed vocabulary: per-rank counts merged by owner
                  rank into the single-process Vocabulary.
* cooccurrence.py a rank's partition of the co-occurrence count, and the
                  whole matrix fetched by one writer a range of rows at a time.
* partition_merge.py the ranks' partial counts (fixed point) sent to the
                  owners of their rows and merged exactly, a range of rows at
                  a time within the memory budget.
* row_ranges.py   rows cut into ranges of a bounded number of entries, and
                  where each row starts in a row-sorted column.
* replicas.py     the ranks' model replicas combined between slices of an
                  epoch (Word2Vec, GloVe); `Alone` without a group.
* held_rows.py    rows that one rank alone changes (GloVe's) gathered from
                  their holder, with no copy kept to measure changes from.
* sync_schedule.py when Word2Vec's replicas are combined, and which rows.
* tensors.py      the few array operations a sync needs on numpy arrays and
                  torch tensors alike.

torch is optional: nothing here imports it at module level, and
``import embforge`` does not import this package.
"""
from .group import Group, init_from_environment, resolve_group
from .launch import Launch, torchrun_launch

__all__ = ["Group", "init_from_environment", "resolve_group", "Launch", "torchrun_launch"]
