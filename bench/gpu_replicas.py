"""One rank of the GPU check's distributed stage, run by torchrun with 2
processes on one GPU: Word2Vec on `--device` across the 2 ranks, joined by
gloo (NCCL refuses two ranks on one GPU), once a sync type. The replicas'
torch side (device tensors, the float16 casts, the one-buffer tier syncs)
then runs on a GPU, which a one-process NCCL run never reaches. Then GloVe
in strata: the count on the CPU (distributed), the pairs grouped by stratum
on the GPU, each stratum's context rows passed on as CUDA tensors. Rank 0
prints, per run, whether both ranks ended with the same vectors, the bytes
synced, the seconds and words/s (GloVe: the cost an epoch and pair-updates/s),
as JSON lines.

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        bench/gpu_replicas.py CORPUS [--device cuda] [--epochs 1]
"""
import argparse
import hashlib
import json
import time

import numpy as np
import torch.distributed as dist

import embforge


def _same_on_every_rank(model) -> bool:
    digest = hashlib.sha256(np.ascontiguousarray(model.wv.vectors).tobytes()).hexdigest()
    digests = [None] * dist.get_world_size()
    dist.all_gather_object(digests, digest)
    return len(set(digests)) == 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    dist.init_process_group("gloo")  # from torchrun's environment
    try:
        for sync_dtype in ("float32", "float16"):
            started = time.perf_counter()
            model = embforge.Word2Vec(sg=1, vector_size=100, epochs=args.epochs, workers=2,
                                      device=args.device, distributed=True, progress=False,
                                      sync_dtype=sync_dtype).fit(args.corpus)
            seconds = time.perf_counter() - started
            same = _same_on_every_rank(model)
            if dist.get_rank() == 0:
                replicas = model._replicas
                print(json.dumps({"sync_dtype": sync_dtype, "device": model.device,
                                  "ranks_equal": same,
                                  "words": len(model.wv), "syncs": replicas.syncs,
                                  "bytes": replicas.bytes_sent, "seconds": round(seconds, 2),
                                  "words_per_second": round(model.words_per_second)}), flush=True)
            if not same:
                raise SystemExit(f"the ranks ended with different vectors ({sync_dtype})")
        started = time.perf_counter()
        glove = embforge.GloVe(vector_size=50, window=10, epochs=3, workers=2, device=args.device,
                               distributed=True, progress=False).fit(args.corpus)
        seconds = time.perf_counter() - started
        same = _same_on_every_rank(glove)
        if dist.get_rank() == 0:
            replicas = glove._replicas
            print(json.dumps({"model": "glove", "device": glove.device, "ranks_equal": same,
                              "strata": glove._pairs.strata, "words": len(glove.wv),
                              "syncs": replicas.syncs, "bytes": replicas.bytes_sent,
                              "cost": [round(c, 5) for c in glove.cost_history],
                              "seconds": round(seconds, 2),
                              "pairs_per_second": round(glove.pairs_per_second)}), flush=True)
        if not same:
            raise SystemExit("the ranks ended with different GloVe vectors")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
