"""A host "fake device" for the CUDA backend's Python plumbing, and the
device parameters the backend-agnostic tests run over.

The CUDA backend (embforge/backends/cuda*.py) cannot run here for real, so its plumbing (argument order,
chunk loop, progress, dtypes, caching, the trainers' device branches) runs
against a stand-in for _cuda's launchers: torch CPU tensors play device
memory, and each launcher runs the kernels' emulated code (the same
csrc/cuda/*_core.cuh functions, compiled for the host) on the memory behind
the pointers it is given. test_cuda.py checks that the stand-in's parameters
are identical to the real bindings'.

DEVICES: "cpu"; "cuda-emulated" (device="cuda" through the stand-in: needs
the _cuda module and torch, not a GPU, so CI runs it); "cuda" (a real GPU).
"""
import contextlib
import ctypes

import numpy as np
import pytest

from embforge import _native

try:
    from embforge import _cuda
except ImportError:  # built without nvcc
    _cuda = None

_NO_MODULE = "embforge was built without its CUDA module (nvcc), which the emulated device runs"
needs_gpu = pytest.mark.skipif(not _native.cuda_available(),
                               reason=f"no usable CUDA GPU: {_native.cuda_unavailable_reason()}")
DEVICES = ["cpu",
           pytest.param("cuda-emulated", marks=pytest.mark.skipif(_cuda is None, reason=_NO_MODULE)),
           pytest.param("cuda", marks=[pytest.mark.cuda, needs_gpu])]
GPU_DEVICES = DEVICES[1:]  # for @pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)


def use_device(param, monkeypatch) -> str:
    """The `device=` argument for a DEVICES parameter; installs the stand-in
    for "cuda-emulated" (undone by monkeypatch)."""
    if param == "cuda-emulated":
        pytest.importorskip("torch", reason="the emulated device keeps its memory in torch tensors")
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


def device_kind(request) -> str:
    """Which DEVICES parameter a test got: "cpu", "cuda-emulated" or "cuda"."""
    return request.node.callspec.params.get("device", "cpu")


def on_device(array) -> bool:
    """True for a (real or emulated) device array of the backend in use."""
    from embforge.backends import cuda_launch, device_arrays
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


class HostLaunchers:
    """_cuda's launchers, running the emulated kernel code on host memory."""

    def __init__(self):
        self.results = {}

    def device_count(self):
        return 1, ""

    def progress_add(self, progress, work, loss, loss_terms, learning_rate):
        _cuda.progress_add(progress, work, loss, loss_terms, learning_rate)

    def progress_reset(self, progress, total):
        _cuda.progress_reset(progress, total)

    def word2vec_init_input(self, input, rows, dim, seed, *, device, stream):
        _cuda.emulate_word2vec_init(host_view(input, np.float32, (rows, dim)), seed)

    def word2vec_train_range(self, ids, offsets, n_ids, n_sentences, input, output, vocab_size, dim,
                             keep_threshold, noise_keep, noise_alias, loss, counts, *, begin, end,
                             skip_gram, window, negative, shrink_windows, alpha_start, alpha_end,
                             seed, epoch, device, stream, warps_per_block=0, span=0, batch=0):
        tables = [host_view(t, np.uint32, vocab_size) for t in (keep_threshold, noise_keep, noise_alias)]
        s = _cuda.emulate_word2vec_range(
            host_view(ids, np.uint32, n_ids), host_view(offsets, np.int64, n_sentences + 1),
            host_view(input, np.float32, (vocab_size, dim)), host_view(output, np.float32, (vocab_size, dim)),
            *tables, begin=begin, end=end, skip_gram=skip_gram, window=window, negative=negative,
            shrink_windows=shrink_windows, alpha_start=alpha_start, alpha_end=alpha_end, seed=seed,
            epoch=epoch, span=span or 256, batch=batch)
        host_view(loss, np.float64, 1)[0] += s["loss"]
        host_view(counts, np.int64, 2)[:] += [s["loss_terms"], s["words_trained"]]

    def cooccur_count(self, ids, offsets, n_ids, n_sentences, vocab_size, *, window, symmetric,
                      distance_weighting, workspace, workspace_bytes, device, stream, progress=None):
        # about the device plan (CUB scratch aside), capped: host buffers for a
        # default 1 GB budget would cost 800 MB; the test corpora need far less
        capacity = min((workspace_bytes - 256) // 40, 1 << 22)
        r, c, v, s = _cuda.emulate_cooccur(
            host_view(ids, np.uint32, n_ids), host_view(offsets, np.int64, n_sentences + 1), vocab_size,
            window=window, symmetric=symmetric, distance_weighting=distance_weighting,
            capacity=capacity, progress=progress)
        self.results[workspace] = (r, c, v)
        return {"nnz": len(r), "pair_updates": s["pair_updates"], "chunks": s["chunks"],
                "capacity": capacity, "fraction_bits": s["fraction_bits"], "stopped": s["stopped"],
                "keys": workspace, "values": workspace + 8}

    def cooccur_export(self, keys, values, nnz, vocab_size, fraction_bits, rows, cols, out_values, *,
                       device, stream):
        r, c, v = self.results.pop(keys)
        host_view(rows, np.int32, nnz)[:] = r
        host_view(cols, np.int32, nnz)[:] = c
        host_view(out_values, np.float32, nnz)[:] = v

    def glove_init(self, weights, gradsq, rows, dim, seed, *, device, stream):
        _cuda.emulate_glove_init(host_view(weights, np.float32, (rows, dim + 1)),
                                 host_view(gradsq, np.float32, (rows, dim + 1)), seed)

    def glove_make_pairs(self, rows, cols, values, n, vocab_size, x_max, alpha, pairs, invalid, *,
                         device, stream):
        p, bad = _cuda.emulate_glove_pairs(host_view(rows, np.int32, n), host_view(cols, np.int32, n),
                                           host_view(values, np.float32, n), vocab_size, x_max, alpha)
        host_view(pairs, np.uint32, (n, 4))[:] = p
        host_view(invalid, np.int64, 1)[0] += bad

    def glove_train_range(self, pairs, order, n_pairs, weights, gradsq, vocab_size, dim, cost, counts,
                          *, begin, end, learning_rate, grad_clip, seed, epoch, device, stream,
                          warps_per_block=0):
        shape = (2 * vocab_size, dim + 1)
        s = _cuda.emulate_glove_range(
            host_view(pairs, np.uint32, (n_pairs, 4)), None if order == 0 else host_view(order, np.uint32, n_pairs),
            host_view(weights, np.float32, shape), host_view(gradsq, np.float32, shape), begin=begin,
            end=end, learning_rate=learning_rate, grad_clip=grad_clip, seed=seed, epoch=epoch)
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
