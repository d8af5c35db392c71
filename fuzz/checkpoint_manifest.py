"""The checkpoint reader (embforge.checkpoint): the input is DIR/manifest.json
of a checkpoint folder that also holds a real Word2Vec checkpoint
(epoch-0001) and a real GloVe one (epoch-0002); latest() parses and checks
the manifest, load_model() checks the rank file's size and SHA-256 against
it and loads the model, and a parsed checkpoint must accept its own settings."""
import os
import shutil
import sys

import _harness
import _seeds

with _harness.instrumented():
    from embforge import checkpoint as ckpt
    from embforge.glove import GloVe
    from embforge.word2vec import Word2Vec

ALLOWED = (ValueError,)
NAMES_PATH = True
FOLDER = _harness.SCRATCH.path("keep-checkpoint")
_MANIFESTS = {}


def _make_folder() -> None:
    """Both checkpoints in FOLDER (a save prunes older epoch folders, so each
    is saved alone and moved in); their manifests are the seeds."""
    if _MANIFESTS:
        return
    word2vec = Word2Vec(vector_size=4, min_count=1, workers=1, epochs=3, progress=False)
    word2vec.build_vocab(_seeds.SENTENCES)
    word2vec.train(_seeds.SENTENCES, epochs=1)
    glove = GloVe(vector_size=3, epochs=3, workers=1, progress=False)
    matrix = _seeds.cooccurrence_matrix()
    glove.fit(matrix, epochs=2)
    for name, model in (("word2vec", word2vec), ("glove", glove)):
        alone = FOLDER + "-" + name
        ckpt.Checkpointer(alone, corpus=[{"name": "corpus.txt", "size": 123}]).save(model)
        with open(os.path.join(alone, ckpt.MANIFEST), "rb") as f:
            _MANIFESTS[name] = f.read()
        for entry in os.listdir(alone):
            if entry.startswith("epoch-"):
                os.makedirs(FOLDER, exist_ok=True)
                os.replace(os.path.join(alone, entry), os.path.join(FOLDER, entry))
        shutil.rmtree(alone)


def one_input(data: bytes) -> None:
    _make_folder()
    with open(os.path.join(FOLDER, ckpt.MANIFEST), "wb") as out:
        out.write(data)
    info = ckpt.latest(FOLDER)
    if info is None:
        raise _harness.ContractViolation("a folder with a manifest reads as no checkpoint")
    ckpt.check_settings(info, info.settings)
    if info.remaining_epochs > 0:
        info.train_arguments()
    model = ckpt.load_model(info)
    if model.epochs_trained != info.epochs_done:
        raise _harness.ContractViolation("the loaded model disagrees with the manifest")


def seeds():
    _make_folder()
    return dict(_MANIFESTS)


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
