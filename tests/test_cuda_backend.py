"""The CUDA module and backend plumbing shared by every algorithm: what a
build without a GPU or without nvcc says, the progress bridge, the host fake
device's signatures against the real bindings, and the caller's stream.
The per-algorithm kernels are tested in test_cuda_{word2vec,cooccur,glove}.py.
"""
import contextlib
import inspect
import re

import numpy as np
import pytest

from embforge import _native
from embforge._native import core
from fake_device import HostLaunchers

try:
    from embforge import _cuda
except ImportError:  # built without nvcc
    _cuda = None

needs_module = pytest.mark.skipif(_cuda is None, reason="embforge was built without its CUDA module")


def test_progress_counts_launches_published_from_python():
    """The CUDA launch loop publishes each finished launch to the trainer's
    Progress, the counters the CPU kernels bump themselves."""
    progress = core.Progress()
    progress.reset(1000)
    progress.add(250, 1.5, 10, 0.02)
    progress.add(250, 0.5, 5, 0.01)
    assert progress.work_total == 1000 and progress.work_done == 500
    assert progress.loss_sum == pytest.approx(2.0) and progress.loss_count == 15
    assert progress.learning_rate == pytest.approx(0.01)


@needs_module
@pytest.mark.skipif(_native.cuda_available(), reason="checks the error without a GPU")
def test_cuda_device_without_gpu_says_why():
    import embforge
    from embforge.backends import cuda_launch
    with pytest.raises(RuntimeError, match="unavailable"):
        cuda_launch.allocate_word2vec(10, 8, 1, "cuda")
    for start in (lambda: embforge.GloVe(device="cuda"),
                  lambda: embforge.FastText(device="cuda", bucket=1000),
                  lambda: embforge.cooccurrence([["a", "b"]], min_count=1, device="cuda")):
        with pytest.raises(RuntimeError, match='device="cuda" is unavailable: .*no CUDA device is visible'):
            start()


def test_cpu_only_build_says_why_cuda_is_unavailable(monkeypatch, tmp_path):
    """Without the _cuda module (built without nvcc) embforge imports, and
    every device="cuda" entry point says why it cannot run."""
    import sys
    import embforge
    monkeypatch.setitem(sys.modules, "embforge._cuda", None)  # the import fails, as in such a build
    monkeypatch.delattr(embforge, "_cuda", raising=False)
    for name, value in (("_cuda_module", None), ("_cuda_reason", None), ("_cuda_probed", False)):
        monkeypatch.setattr(_native, name, value)
    reason = "embforge was built without its CUDA module"
    assert not embforge.cuda_available() and reason in embforge.cuda_unavailable_reason()
    matrix = embforge.cooccurrence([["a", "b", "a"]], min_count=1, progress=False)
    path = tmp_path / "glove.model"
    embforge.GloVe(vector_size=4, epochs=1, progress=False).fit(matrix).save(path)
    for start in (lambda: embforge.GloVe(device="cuda"), lambda: embforge.Word2Vec(device="cuda:0"),
                  lambda: embforge.FastText(device="cuda", bucket=1000),
                  lambda: embforge.cooccurrence([["a", "b"]], min_count=1, device="cuda"),
                  lambda: matrix.to_device(), lambda: embforge.GloVe.load(path, device="cuda")):
        with pytest.raises(RuntimeError, match=f'device="cuda" is unavailable: {reason}'):
            start()


# The CUDA backend (embforge/backends/cuda*.py) cannot run here for real, so
# its plumbing (argument order, chunk loop, progress, dtypes, caching, the
# trainer's device branch) runs
# against a stand-in for _cuda's launchers: torch CPU tensors play device
# memory, and each launcher runs the kernels' emulated code on the memory
# behind the pointers it is given. A signature check keeps the stand-in's
# parameters identical to the real bindings'. The stand-in lives in
# fake_device.py; the per-algorithm files run the backend on it.
def binding_parameters(function):
    """Parameter names (and '*') from a pybind11 docstring signature."""
    signature = function.__doc__.strip().splitlines()[0]
    inner = signature[signature.index("(") + 1: signature.rindex(") ->")]
    return [re.split(r"[:=]", part)[0].strip() for part in inner.split(", ")]


def python_parameters(function):
    names = []
    for p in inspect.signature(function).parameters.values():
        if p.kind == p.KEYWORD_ONLY and "*" not in names:
            names.append("*")
        names.append(p.name)
    return names


@needs_module
@pytest.mark.parametrize("name", [n for n, f in vars(HostLaunchers).items() if inspect.isfunction(f)
                                  and not n.startswith("_") and n != "device_count"])
def test_host_launchers_match_the_bindings(name):
    assert python_parameters(getattr(HostLaunchers, name))[1:] == binding_parameters(getattr(_cuda, name))


@needs_module
def test_host_launch_matches_the_binding():
    assert python_parameters(HostLaunchers.Launch) == binding_parameters(_cuda.Launch.__init__)[1:]


@needs_module
def test_cuda_module_holds_no_test_code():
    """The kernels' CPU emulation is built by the tests, not shipped in _cuda."""
    assert [n for n in dir(_cuda) if "emulat" in n.lower()] == []


@needs_module
def test_cuda_takes_cores_parameter_classes():
    """_cuda's launchers take _core's parameter objects (one registration,
    shared by both modules) and a _cuda.Launch."""
    doc = _cuda.word2vec_train_range.__doc__
    assert "embforge._core.Word2VecParams" in doc and "embforge._cuda.Launch" in doc
    assert "embforge._core.CooccurParams" in _cuda.cooccur_count.__doc__
    assert "embforge._core.GloveParams" in _cuda.glove_train_range.__doc__
    launch = _cuda.Launch(device=0, stream=123, span=64)
    assert (launch.device, launch.stream, launch.warps_per_block, launch.span, launch.batch) == (0, 123, 0, 64, 0)
    launch.batch = 3
    assert repr(launch) == "Launch(device=0, stream=123, warps_per_block=0, span=64, batch=3, variant=0)"
    with pytest.raises(ValueError, match="warps_per_block must be in \\[0, 32\\], got 40"):
        _cuda.Launch(warps_per_block=40)


def test_launch_loop_runs_on_the_callers_stream(monkeypatch):
    """torch and CuPy keep a current stream per thread; the trainers launch
    from run_polled's helper thread, bound to the caller's stream."""
    import threading
    from embforge.backends import device_arrays
    from embforge.progress import run_polled
    events = []

    class Arrays:
        def current_stream(self, device):
            events.append(("captured", device, threading.current_thread().name))
            return "caller's stream"

        def using_stream(self, stream, device):
            events.append(("using", stream, threading.current_thread().name))
            return contextlib.nullcontext()

    monkeypatch.setattr(device_arrays, "_arrays", Arrays())
    call = device_arrays.on_caller_stream(lambda: threading.current_thread().name, "cuda:0")
    ran_on, _ = run_polled(call, core.Progress())
    caller = threading.current_thread().name
    assert ran_on != caller
    assert events == [("captured", "cuda:0", caller), ("using", "caller's stream", ran_on)]


# ------------------------------------- the corpus checks of the GPU path
def corrupted(corpus, what):
    ids, offsets = corpus.ids.copy(), corpus.offsets.copy()
    if what == "id":
        ids[7] = len(corpus.vocab)              # one past the last row
    elif what == "huge id":
        ids[3] = 0xFFFFFFF0                     # negative in its int32 storage
    elif what == "last offset":
        offsets[-1] -= 1
    elif what == "first offset":
        offsets[0] = 1
    else:                                       # a decreasing offset
        offsets[2], offsets[3] = offsets[3], offsets[2]
    return ids, offsets


BAD_CORPORA = {"id": "id {vocab} in the corpus is out of range for a vocabulary of {vocab} words",
               "huge id": "id 4294967280 in the corpus is out of range",
               "last offset": "offsets must run from 0 to len\\(ids\\)={n}, got offsets\\[0\\]=0 "
                              "and offsets\\[-1\\]={last}",
               "first offset": "offsets must run from 0 to len\\(ids\\)={n}, got offsets\\[0\\]=1",
               "decreasing offset": "offsets must not decrease \\(at 2: {b} then {a}\\)"}


@pytest.mark.parametrize("what", sorted(BAD_CORPORA))
@pytest.mark.parametrize("algorithm", ["word2vec", "cooccur"])
def test_gpu_path_refuses_a_bad_corpus_naming_the_value(fake_device, toy, what, algorithm, tmp_path,
                                                       monkeypatch):
    """The kernels index rows by id and sentences by offset unchecked: the
    launch loops check the device arrays first, with the CPU path's messages."""
    backend = fake_device
    corpus, tables = toy
    v = len(corpus.vocab)
    ids, offsets = corrupted(corpus, what)
    # The stand-in checks its host views itself, as no GPU kernel does: the
    # check must come before any launch.
    launchers = _native.cuda_module()
    for name in ("word2vec_train_range", "cooccur_count"):
        monkeypatch.setattr(launchers, name, lambda *a, **k: pytest.fail("launched on a bad corpus"))
    message = BAD_CORPORA[what].format(vocab=v, n=len(ids), last=offsets[-1], a=corpus.offsets[2],
                                       b=corpus.offsets[3])
    with pytest.raises(ValueError, match=message):
        if algorithm == "word2vec":
            storage, out = backend.allocate_word2vec(v, 8, 1, "cuda")
            backend.train_word2vec_epoch(ids, offsets, storage[:v], out, *tables,
                                         skip_gram=True, window=2, negative=2, shrink_windows=True,
                                         alpha_start=0.025, alpha_end=0.025, seed=1, epoch=0)
        else:
            backend.count_cooccurrences(ids, offsets, v, window=2)
    if what in ("id", "huge id"):  # the CPU path says the same
        params = core.CooccurParams(window=2, temp_dir=str(tmp_path))
        with pytest.raises(ValueError, match=message.split(" in the corpus")[0]):
            core.count_cooccurrences(ids, offsets, v, params)


def test_gpu_path_checks_a_corpus_once(fake_device, toy, monkeypatch):
    """Once per corpus, not per epoch: a checked pair of device arrays is
    remembered while it lives."""
    from embforge.backends import device_arrays
    backend = fake_device
    corpus, tables = toy
    v = len(corpus.vocab)
    arrays = device_arrays.array_module()
    reductions = []
    real = arrays.extrema
    monkeypatch.setattr(arrays, "extrema", lambda a: reductions.append(len(a)) or real(a))
    storage, out = backend.allocate_word2vec(v, 8, 1, "cuda")
    ids, offsets = corpus.ids[:200].copy(), np.array([0, 200])
    for epoch in range(3):
        backend.train_word2vec_epoch(ids, offsets, storage[:v], out, *tables, skip_gram=True,
                                     window=2, negative=2, shrink_windows=True, alpha_start=0.025,
                                     alpha_end=0.025, seed=1, epoch=epoch)
    assert reductions == [200]


@pytest.mark.parametrize("kind", ["torch", "cupy"])
def test_array_adapters_reduce(kind):
    """extrema and first_true of both adapters (CuPy's on numpy, which has
    the same calls)."""
    from embforge.backends import device_arrays
    if kind == "torch":
        torch = pytest.importorskip("torch")
        arrays = device_arrays._TorchArrays()
        make = lambda values, dtype: torch.tensor(values, dtype=getattr(torch, dtype))  # noqa: E731
    else:
        arrays = device_arrays._CupyArrays.__new__(device_arrays._CupyArrays)
        arrays.cupy = np
        make = lambda values, dtype: np.array(values, dtype=dtype)  # noqa: E731
    assert arrays.extrema(make([5, -3, 9, 0], "int32")) == (-3, 9)
    assert arrays.first_true(make([False, False, True, True], "bool")) == 2
    assert arrays.first_true(make([False, False], "bool")) == -1
