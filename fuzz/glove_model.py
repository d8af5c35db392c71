"""GloVe.load: the trainer archive (embforge.io.archive.read_archive, then the
model's own checks). Input: the raw file, or members zipped here (see
_archives.py)."""
import sys

import _archives
import _harness
import _seeds

with _harness.instrumented():
    from embforge.glove import GloVe

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    model = GloVe.load(_harness.SCRATCH.file(_archives.zip_of(data)))
    model.wv.most_similar(model.wv.index_to_key[0], topn=1)


def seeds():
    raw = _seeds.written(_seeds.glove_model().save, ".npz")
    return {"raw": raw, "members": _seeds.split_members(raw)}


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
