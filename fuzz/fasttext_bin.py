"""fastText .bin models (embforge.io.fasttext_bin.read_fasttext_bin through
embforge.fasttext.load_facebook_vectors): the header's sizes, the
vocabulary, the input matrix of words and n-gram buckets, the output matrix."""
import sys

import _harness
import _seeds

with _harness.instrumented():
    from embforge.fasttext import load_facebook_vectors

ALLOWED = (ValueError,)
NAMES_PATH = True


def one_input(data: bytes) -> None:
    kv = load_facebook_vectors(_harness.SCRATCH.file(data))
    kv.most_similar(kv.index_to_key[0], topn=1)
    try:
        kv["unseenword"]            # from its n-grams
    except KeyError:
        pass                        # no n-gram of min_n..max_n characters: documented


def seeds():
    from embforge.fasttext import FastText, save_facebook_model
    out = {}
    for name, sg, bucket in (("skipgram", 1, 64), ("cbow", 0, 16)):
        model = FastText(sg=sg, vector_size=4, min_count=1, bucket=bucket, epochs=1, workers=1,
                         progress=False).fit(_seeds.SENTENCES)
        out[name] = _seeds.written(lambda p, model=model: save_facebook_model(model, p), ".bin")
    return out


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
