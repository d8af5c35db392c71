"""One rank of `bench_distributed.py sync-quality` (run by torchrun, or alone):
trains Word2Vec on CORPUS with the bench settings (d = 100, window 5, 5
negatives, sample 1e-3, min_count 5, 5 epochs) and the sync options given as
JSON (`--options '{"sync_interval": 500000}'`; an option may also replace a
bench setting, e.g. "sample"); rank 0 writes the vectors
(word2vec binary) and prints the number of syncs and the training seconds as
JSON."""
import argparse
import json

import embforge
from embforge.cli.common import join_job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--model", choices=["sgns", "cbow"], default="sgns")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--options", default="{}")
    args = parser.parse_args()
    job = join_job("cpu")
    options = json.loads(args.options)
    # keys starting with "_" are attributes set before training (experiments)
    private = {k: v for k, v in options.items() if k.startswith("_")}
    # the bench settings, which an option may replace (e.g. "sample")
    settings = dict(sg=int(args.model == "sgns"), vector_size=100, window=5, negative=5,
                    sample=1e-3, min_count=5, epochs=5)
    settings.update({k: v for k, v in options.items() if k not in private})
    model = embforge.Word2Vec(workers=args.threads, seed=args.seed, progress=False,
                              process_group=job.group, **settings)
    for name, value in private.items():
        setattr(model, name, value)
    model.fit(args.corpus)
    if job.writes:
        assert model.wv is not None
        model.wv.save_word2vec_format(args.output, binary=True)
        replicas = model._replicas
        print(json.dumps({"seconds": model.train_seconds,
                          "syncs": [getattr(replicas, "syncs", 0),
                                    getattr(replicas, "bytes_sent", 0)]}))


if __name__ == "__main__":
    main()
