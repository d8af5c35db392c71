"""A tiny language corpus (a grammar of three-word phrases), vectors trained
on it, and small language models: what the LM tests share."""
import random

TOY_SUBJECTS = ["the cat", "the dog", "a bird", "the kernel", "the driver"]
TOY_VERBS = ["sat on", "ran to", "looked at", "wrote to", "read from"]
TOY_OBJECTS = ["the mat", "the park", "the tree", "the device", "the buffer"]


def toy_texts(n=300, seed=0):
    rng = random.Random(seed)
    return [f"{rng.choice(TOY_SUBJECTS)} {rng.choice(TOY_VERBS)} {rng.choice(TOY_OBJECTS)}" for _ in range(n)]


def toy_vectors(dim=16, device="cpu"):
    from embforge import Word2Vec
    return Word2Vec(sg=1, vector_size=dim, min_count=1, epochs=3, workers=1, seed=1,
                    device=device).fit([t.split() for t in toy_texts()]).wv


TINY = dict(num_layers=2, num_heads=2, context=16, dropout=0.0)

