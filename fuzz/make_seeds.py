"""Writes every target's seed corpus: OUT/<target>/<name>.

    PYTHONPATH=python python3 fuzz/make_seeds.py OUT [TARGET ...]
"""
import os
import sys

import _harness

TARGETS = ("word2vec_text", "word2vec_binary", "glove_text", "glove_cooccurrence", "vocab_file",
           "native_kv", "word2vec_model", "glove_model", "cooccurrence_archive",
           "checkpoint_manifest", "finetune_tsv", "word_pairs", "analogies", "corpus",
           "corpus_compressed", "fasttext_bin")


def write_seeds(out: str, names=TARGETS) -> None:
    for name in names:
        folder = os.path.join(out, name)
        os.makedirs(folder, exist_ok=True)
        for seed, data in _harness.load_target(name).seeds().items():
            with open(os.path.join(folder, seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    write_seeds(sys.argv[1], sys.argv[2:] or TARGETS)
