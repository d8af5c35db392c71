"""One rank of `bench_distributed.py glove-cost` (run by torchrun, or alone):
counts CORPUS's co-occurrences and trains GloVe with --sync-interval, then
rank 0 prints the cost after every epoch and the bytes its syncs sent as JSON."""
import argparse
import json

import embforge
from embforge.cli.common import join_job


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("--sync-interval", type=int, default=20_000_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--size", type=int, default=50)
    parser.add_argument("--sync-dtype", default="float32")
    parser.add_argument("--no-stratify", action="store_true")
    args = parser.parse_args()
    job = join_job("cpu")
    matrix = embforge.cooccurrence(args.corpus, window=10, min_count=5, workers=1, progress=False,
                                   process_group=job.group)
    model = embforge.GloVe(vector_size=args.size, epochs=args.epochs, workers=1, progress=False,
                           process_group=job.group, sync_interval=args.sync_interval,
                           sync_dtype=args.sync_dtype,
                           stratify=not args.no_stratify).fit(matrix)
    if job.writes:
        print(json.dumps({"nnz": int(matrix.nnz) * job.world_size, "cost": model.cost_history,
                          "bytes": getattr(model._replicas, "bytes_sent", 0),
                          "syncs": getattr(model._replicas, "syncs", 0)}))


if __name__ == "__main__":
    main()
