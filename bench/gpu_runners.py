"""The two sides of the GPU check, behind one interface: the GPU (the raw
launchers of embforge.backends.cuda_launch on device arrays) and the CPU
(_core's entry points on numpy arrays: the reference, and the GPU's tiny
stand-in in a dry run)."""
from __future__ import annotations

import os
import tempfile

import numpy as np

GLOVE = dict(x_max=100.0, alpha=0.75, learning_rate=0.05, grad_clip=100.0)


class CpuRunner:
    name = "cpu"
    device = "cpu"

    def __init__(self, workers=None):
        from embforge._native import core
        self.core = core
        self.workers = workers or os.cpu_count() or 1

    def upload(self, a):
        return a

    def host(self, a):
        return np.asarray(a)

    def sync(self):
        pass

    def free_bytes(self) -> int:
        return 1 << 30

    def w2v_alloc(self, vocab_size, dim, seed):
        inp = np.empty((vocab_size, dim), np.float32)
        self.core.init_word2vec_input(inp, seed)
        return inp, np.zeros_like(inp)

    def w2v_epoch(self, ids, offsets, inp, out, tables, *, warps_per_block=0, batch=0, span=0, variant=0,
                  **kw):
        # the tuning arguments size GPU launches and pick GPU kernels; the CPU has none
        params = self.core.Word2VecParams(vector_size=inp.shape[1], workers=self.workers, **kw)
        return self.core.train_word2vec_epoch(ids, offsets, inp, out, *tables, params,
                                              progress=self.core.Progress())

    def cooccur(self, ids, offsets, vocab_size, variant=0, **kw):
        with tempfile.TemporaryDirectory() as tmp:
            params = self.core.CooccurParams(workers=self.workers, memory_bytes=8 << 30, temp_dir=tmp, **kw)
            rows, cols, values, stats = self.core.count_cooccurrences(ids, offsets, vocab_size, params)
        stats.setdefault("chunks", stats.get("runs", 0))
        return rows, cols, values, stats

    def glove_pairs(self, rows, cols, values, vocab_size):
        return self.core.make_glove_pairs(rows, cols, values, vocab_size, GLOVE["x_max"], GLOVE["alpha"])

    def glove_alloc(self, vocab_size, dim, seed):
        w = np.empty((2 * vocab_size, dim + 1), np.float32)
        g = np.empty_like(w)
        self.core.init_glove(w, g, seed)
        return w, g

    def glove_epoch(self, pairs, w, g, seed, epoch, variant=0):
        order = np.empty(len(pairs), np.uint32)
        self.core.glove_shuffle(order, len(pairs), seed, epoch)
        params = self.core.GloveParams(vector_size=w.shape[1] - 1, workers=self.workers,
                                       learning_rate=GLOVE["learning_rate"], grad_clip=GLOVE["grad_clip"])
        return self.core.train_glove_epoch(pairs, order, w, g, params, progress=self.core.Progress())


class GpuRunner:
    name = "gpu"

    def __init__(self, device="cuda:0"):
        from embforge.backends import cuda_launch, device_arrays
        self.launch = cuda_launch
        self.arrays_mod = device_arrays
        self.arrays = device_arrays.array_module()
        self.device = device

    def upload(self, a):
        return self.arrays_mod.to_device(a, self.device)

    def host(self, a):
        if isinstance(a, np.ndarray):
            return a
        return a.cpu().numpy() if hasattr(a, "cpu") else a.get()

    def sync(self):
        self.arrays.synchronize(self.device)

    def free_bytes(self) -> int:
        return int(self.arrays.free_bytes(self.device))

    def w2v_alloc(self, vocab_size, dim, seed):
        storage, out = self.launch.allocate_word2vec(vocab_size, dim, seed, self.device)
        return storage[:vocab_size], out

    def w2v_epoch(self, ids, offsets, inp, out, tables, **kw):
        return self.launch.train_word2vec_epoch(ids, offsets, inp, out, *tables, **kw)

    def cooccur(self, ids, offsets, vocab_size, **kw):
        return self.launch.count_cooccurrences(ids, offsets, vocab_size, device=self.device, **kw)

    def glove_pairs(self, rows, cols, values, vocab_size):
        return self.launch.make_glove_pairs(rows, cols, values, vocab_size, GLOVE["x_max"], GLOVE["alpha"],
                                            device=self.device)

    def glove_alloc(self, vocab_size, dim, seed):
        return self.launch.allocate_glove(vocab_size, dim, seed, self.device)

    def glove_epoch(self, pairs, w, g, seed, epoch, variant=0):
        return self.launch.train_glove_epoch(pairs, None, w, g, learning_rate=GLOVE["learning_rate"],
                                             grad_clip=GLOVE["grad_clip"], seed=seed, epoch=epoch,
                                             variant=variant)


def w2v_train(runner, ids, offsets, vocab_size, tables, *, sg, seed, epochs, dim):
    """`epochs` passes with the trainer's linear learning-rate schedule
    (word2vec.c's: 0.025 skip-gram, 0.05 CBOW, down to 1e-4); host vectors."""
    alpha, min_alpha = (0.025 if sg else 0.05), 1e-4
    inp, out = runner.w2v_alloc(vocab_size, dim, seed)
    for e in range(epochs):
        runner.w2v_epoch(ids, offsets, inp, out, tables, skip_gram=sg, window=5, negative=5,
                         shrink_windows=True, alpha_start=alpha + (min_alpha - alpha) * e / epochs,
                         alpha_end=alpha + (min_alpha - alpha) * (e + 1) / epochs, seed=seed, epoch=e)
    runner.sync()
    return runner.host(inp)
