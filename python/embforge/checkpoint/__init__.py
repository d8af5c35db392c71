"""Training checkpoints: one format for single-process and distributed runs.

A checkpoint directory DIR holds one run's checkpoints::

    DIR/manifest.json                          names the newest complete checkpoint
    DIR/epoch-0003/rank-00000-of-00002.npz     rank 0's model after 3 epochs
    DIR/epoch-0003/rank-00001-of-00002.npz     rank 1's

Each rank file is its model's own ``save()`` archive (plain arrays and a JSON
header, no pickle, written atomically): Word2Vec's vectors, output weights,
vocabulary and epoch counter; FastText's input rows (words, then n-gram
buckets) in place of the vectors; GloVe's weights, AdaGrad sums, vocabulary and
epoch counter. The trainers draw all their randomness from (seed, epoch)
(Word2Vec: chunk order and per-thread streams; GloVe: the pair order, and
the block order out of core), so the epoch counter is the RNG position.

A save writes every rank's file into ``epoch-NNNN/`` (NNNN: epochs done),
then rank 0 writes ``manifest.json`` atomically (temp file, fsync, rename,
fsync of DIR) and only then removes the older ``epoch-*`` folders. A
checkpoint exists when the manifest names it, so a kill at any moment leaves
the previous complete checkpoint or the new one, never a torn one; a folder
left half-written is ignored and overwritten or pruned by a later save.

The manifest (JSON object, ``FORMAT``/``VERSION``)::

    format       "embforge.checkpoint"
    version      1
    model        "FastText" | "Word2Vec" | "GloVe"
    checkpoint   "epoch-0003"  (always epoch_folder_name(epochs_done))
    epochs_done  epochs the saved models have trained (their epochs_trained)
    world_size   number of ranks that wrote it; a resume needs the same number
    files        [{"rank": r, "name": "rank-0000r-of-0000N.npz", "size": bytes,
                   "sha256": hex}] for r = 0..world_size-1
    settings     what must match on resume: {"model", the trainer's settings
                 (SETTINGS), "corpus": caller's fingerprint of the data or null}
    schedule     the train() call checkpointed, begun on a fresh model:
                 {"epochs": N} (GloVe: AdaGrad, no rate schedule), and for
                 Word2Vec also {"start_alpha", "end_alpha"}: epoch e of N runs
                 its rate from start + (end - start) e / N to ... (e+1) / N
    run          (optional) the id of the job that wrote it: torchrun's run id
                 (TORCHELASTIC_RUN_ID); a restart of that job by torchrun
                 continues from the checkpoint (embforge/cli/resume.py)

Threads, device, memory budgets and paths are not settings: they may change
between a run and its resume (a run with several threads is Hogwild and never
reproducible anyway; with one thread a resumed run is bit-identical).

Collectives: with ``world_size > 1`` the Checkpointer needs ``all_gather``, a
function that takes this rank's picklable object and returns the list of
every rank's (indexed by rank) on every rank, as
``torch.distributed.all_gather_object`` does. A save calls it twice: to give
rank 0 the file sizes and hashes (and every rank any rank's failure, so all
ranks raise instead of waiting on a dead one), and after the manifest as a
barrier that carries rank 0's outcome.
"""
from .manifest import (FORMAT, MANIFEST, SETTINGS, VERSION, CheckpointInfo, RankFile,
                       corpus_fingerprint, epoch_folder_name, rank_file_name, training_settings)
from .reader import check_settings, latest, load_model
from .writer import Checkpointer

__all__ = ["FORMAT", "VERSION", "MANIFEST", "SETTINGS", "CheckpointInfo", "RankFile",
           "Checkpointer", "latest", "load_model", "check_settings", "training_settings",
           "corpus_fingerprint", "rank_file_name", "epoch_folder_name"]
