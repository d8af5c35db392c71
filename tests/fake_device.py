"""A host "fake device" for the CUDA backend's Python plumbing.

The CUDA backend (embforge/backends/cuda*.py) cannot run here for real, so
its plumbing (argument order, chunk loop, progress, dtypes, caching, the
trainers' device branches) runs against a stand-in for _cuda's launchers:
torch CPU tensors play device memory, and each launcher runs the kernels'
emulated code (the same csrc/cuda/*_core.cuh functions, compiled for the
host by tests/emulation) on the memory behind the pointers it is given. It needs torch and a C++
compiler, not the _cuda module nor a GPU. test_cuda_backend.py checks that
the stand-in's parameters are identical to the real bindings'.

The device parameters the backend-agnostic tests run over (DEVICES) are in
conftest.py.
"""
import contextlib
import ctypes

import numpy as np
import pytest

from embforge import _native

from emulation import build as emulation_build


def use_device(param, monkeypatch) -> str:
    """The `device=` argument for a DEVICES parameter; installs the stand-in
    for "cuda-emulated" (undone by monkeypatch)."""
    if param == "cuda-emulated":
        pytest.importorskip("torch", reason="the emulated device keeps its memory in torch tensors")
        emulation()
        install_fake_device(monkeypatch.setattr)
        return "cuda"
    if param == "cuda" and not _importable("torch") and not _importable("cupy"):
        pytest.skip("device memory on a GPU needs torch or CuPy (pip install torch)")
    return param


def _importable(name) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def emulation():
    """The kernels' CPU emulation module (built once per source hash), or a
    skip saying why it cannot be built here."""
    try:
        return emulation_build.load()
    except emulation_build.Unavailable as e:
        pytest.skip(str(e))


def device_kind(request) -> str:
    """Which DEVICES parameter a test got: "cpu", "cuda-emulated" or "cuda"."""
    return request.node.callspec.params.get("device", "cpu")


def on_device(array) -> bool:
    """True for a (real or emulated) device array of the backend in use."""
    from embforge.backends import device_arrays
    return device_arrays.array_module().is_device_array(array)


def host(array) -> np.ndarray:
    if isinstance(array, np.ndarray):
        return array
    return array.cpu().numpy() if hasattr(array, "cpu") else array.get()


def host_view(address, dtype, shape):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    count = int(np.prod(shape))
    if count == 0:
        return np.zeros(shape, dtype)
    raw = (ctypes.c_byte * (count * np.dtype(dtype).itemsize)).from_address(address)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


class HostLaunch:
    """_cuda.Launch: device, stream and tuning knobs (0: the kernel's default)."""

    def __init__(self, *, device=0, stream=0, warps_per_block=0, span=0, batch=0, variant=0):
        self.device, self.stream = device, stream
        self.warps_per_block, self.span, self.batch = warps_per_block, span, batch
        self.variant = variant


class HostLaunchers:
    """_cuda's launchers, running the emulated kernel code on host memory.
    The parameter objects are _core's (Word2VecParams, CooccurParams,
    GloveParams); the emulation takes their fields as keywords."""

    Launch = HostLaunch

    def __init__(self):
        self.results = {}
        self.launches = []  # every Launch a training launcher was given, in order
        self.emulation = emulation_build.load()

    def device_count(self):
        return 1, ""

    def word2vec_init_input(self, input, rows, dim, seed, launch):
        self.emulation.emulate_word2vec_init(host_view(input, np.float32, (rows, dim)), seed)

    def word2vec_train_range(self, ids, offsets, n_ids, n_sentences, input, output, vocab_size,
                             keep_threshold, noise_keep, noise_alias, loss, counts, params, launch, *,
                             begin, end):
        self.launches.append(launch)
        dim = params.vector_size
        tables = [host_view(t, np.uint32, vocab_size) for t in (keep_threshold, noise_keep, noise_alias)]
        # the span queue (Launch.variant 16) on 4 emulated warps racing as on the GPU
        workers = 4 if launch.variant & 16 else 1
        s = self.emulation.emulate_word2vec_range(
            host_view(ids, np.uint32, n_ids), host_view(offsets, np.int64, n_sentences + 1),
            host_view(input, np.float32, (vocab_size, dim)), host_view(output, np.float32, (vocab_size, dim)),
            *tables, begin=begin, end=end, skip_gram=params.skip_gram, window=params.window,
            negative=params.negative, shrink_windows=params.shrink_windows,
            alpha_start=params.alpha_start, alpha_end=params.alpha_end, seed=params.seed,
            epoch=params.epoch, span=launch.span or 256, batch=launch.batch,
            compute_loss=params.compute_loss, variant=launch.variant, workers=workers)
        host_view(loss, np.float64, 1)[0] += s["loss"]
        host_view(counts, np.int64, 2)[:] += [s["loss_terms"], s["words_trained"]]

    def fasttext_init_input(self, input, rows, dim, seed, scale, launch):
        self.emulation.emulate_fasttext_init(host_view(input, np.float32, (rows, dim)), seed, scale)

    def fasttext_train_range(self, ids, offsets, n_ids, n_sentences, input, output, vocab_size, bucket,
                             subword_offsets, subword_ids, keep_threshold, noise_keep, noise_alias, loss,
                             counts, params, launch, *, begin, end):
        self.launches.append(launch)
        dim = params.vector_size
        tables = [host_view(t, np.uint32, vocab_size) for t in (keep_threshold, noise_keep, noise_alias)]
        sub_offsets = host_view(subword_offsets, np.int64, vocab_size + 1)
        s = self.emulation.emulate_fasttext_range(
            host_view(ids, np.uint32, n_ids), host_view(offsets, np.int64, n_sentences + 1),
            host_view(input, np.float32, (vocab_size + bucket, dim)),
            host_view(output, np.float32, (vocab_size, dim)), sub_offsets,
            host_view(subword_ids, np.uint32, int(sub_offsets[-1])), *tables, bucket=bucket,
            begin=begin, end=end, skip_gram=params.skip_gram, window=params.window,
            negative=params.negative, shrink_windows=params.shrink_windows,
            alpha_start=params.alpha_start, alpha_end=params.alpha_end, seed=params.seed,
            epoch=params.epoch, span=launch.span or 256)
        host_view(loss, np.float64, 1)[0] += s["loss"]
        host_view(counts, np.int64, 2)[:] += [s["loss_terms"], s["words_trained"]]

    def fasttext_word_vectors(self, input, vocab_size, bucket, subword_offsets, subword_ids, dim, out,
                              launch):
        sub_offsets = host_view(subword_offsets, np.int64, vocab_size + 1)
        self.emulation.emulate_fasttext_word_vectors(
            host_view(input, np.float32, (vocab_size + bucket, dim)), sub_offsets,
            host_view(subword_ids, np.uint32, int(sub_offsets[-1])), bucket,
            host_view(out, np.float32, (vocab_size, dim)))

    def cooccur_count(self, ids, offsets, n_ids, n_sentences, vocab_size, params, workspace,
                      workspace_bytes, launch, *, progress=None):
        self.launches.append(launch)
        # about the device plan (CUB scratch aside), capped: host buffers for a
        # default 1 GB budget would cost 800 MB; the test corpora need far less
        capacity = min((workspace_bytes - 256) // 40, 1 << 22)
        stop = progress is not None and progress.stop_requested
        r, c, v, s = self.emulation.emulate_cooccur(
            host_view(ids, np.uint32, n_ids), host_view(offsets, np.int64, n_sentences + 1), vocab_size,
            window=params.window, symmetric=params.symmetric,
            distance_weighting=params.distance_weighting, capacity=capacity, stop=stop,
            variant=launch.variant)
        if progress is not None:  # what the real count publishes: ids done of n_ids
            progress.reset(n_ids)
            progress.add(s["ids_processed"], 0.0, 0, progress.learning_rate)
        self.results[workspace] = (r, c, v)
        return {"nnz": len(r), "pair_updates": s["pair_updates"], "chunks": s["chunks"],
                "capacity": capacity, "fraction_bits": s["fraction_bits"], "stopped": s["stopped"],
                "keys": workspace, "values": workspace + 8}

    def cooccur_export(self, keys, values, nnz, vocab_size, fraction_bits, rows, cols, out_values,
                       launch):
        r, c, v = self.results.pop(keys)
        host_view(rows, np.int32, nnz)[:] = r
        host_view(cols, np.int32, nnz)[:] = c
        host_view(out_values, np.float32, nnz)[:] = v

    def glove_init(self, weights, gradsq, rows, dim, seed, launch):
        self.emulation.emulate_glove_init(host_view(weights, np.float32, (rows, dim + 1)),
                                          host_view(gradsq, np.float32, (rows, dim + 1)), seed)

    def glove_make_pairs(self, rows, cols, values, n, vocab_size, x_max, alpha, pairs, invalid, launch):
        p, bad = self.emulation.emulate_glove_pairs(
            host_view(rows, np.int32, n), host_view(cols, np.int32, n), host_view(values, np.float32, n),
            vocab_size, x_max, alpha)
        host_view(pairs, np.uint32, (n, 4))[:] = p
        host_view(invalid, np.int64, 1)[0] += bad

    def glove_train_range(self, pairs, order, n_pairs, weights, gradsq, vocab_size, cost, counts,
                          params, launch, *, begin, end):
        self.launches.append(launch)
        shape = (2 * vocab_size, params.vector_size + 1)
        s = self.emulation.emulate_glove_range(
            host_view(pairs, np.uint32, (n_pairs, 4)), None if order == 0 else host_view(order, np.uint32, n_pairs),
            host_view(weights, np.float32, shape), host_view(gradsq, np.float32, shape), begin=begin,
            end=end, learning_rate=params.learning_rate, grad_clip=params.grad_clip,
            bias_learning_rate=params.bias_learning_rate, seed=params.seed, epoch=params.epoch,
            lanes=32 if launch.variant else 1, variant=launch.variant)
        host_view(cost, np.float64, 1)[0] += s["cost"]
        host_view(counts, np.int64, 2)[:] += [s["pairs"], s["skipped"]]


def install_fake_device(setattr):
    """Points embforge's CUDA path at HostLaunchers and host torch tensors;
    `setattr` is monkeypatch.setattr (tests) or builtins.setattr (dry runs)."""
    import torch
    from embforge.backends import cuda_launch, device_arrays

    class HostTensors(device_arrays._TorchArrays):
        def is_device_array(self, a):
            return isinstance(a, torch.Tensor)

        def device(self, a):
            return "cuda:0"

        def upload(self, array, device):
            return torch.from_numpy(array.copy())

        def empty(self, shape, dtype, device):
            return torch.empty(shape, dtype=self.dtypes[dtype])

        def zeros(self, shape, dtype, device):
            return torch.zeros(shape, dtype=self.dtypes[dtype])

        def stream(self, device):
            return 0

        def current_stream(self, device):
            return None

        def using_stream(self, stream, device):
            return contextlib.nullcontext()

        def synchronize(self, device):
            pass

        def free_bytes(self, device):
            return 1 << 28

    launchers = HostLaunchers()
    real_resolve = _native.resolve_device
    setattr(_native, "cuda_module", lambda: launchers)
    setattr(_native, "resolve_device", lambda d: "cuda:0" if str(d).startswith("cuda") else real_resolve(d))
    setattr(device_arrays, "_arrays", HostTensors())
    setattr(device_arrays, "_copies", {})
    return cuda_launch
