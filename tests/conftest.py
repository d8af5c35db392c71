import os
import random
import signal

import numpy as np

import pytest
from hypothesis import settings

from embforge import _native
from emulation import build as emulation_build
from fake_device import emulation as load_emulation, use_device

# the CUDA tests' shared fixtures (toy, glove_pairs, fake_device), found by name
pytest_plugins = ("cuda_common",)

# CI has 2 cores: keep property tests small but meaningful; `--hypothesis-profile=thorough`
# runs more examples locally.
settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA = os.path.join(os.path.dirname(__file__), "data")

# The Ctrl-C tests send a real SIGINT, to this process or to a command they
# start, and expect what a terminal's Ctrl-C gets. A shell without job control
# starts a background job (`cmd &`, nohup in a script) with SIGINT ignored,
# which its children inherit across exec, and Python then leaves it ignored:
# every such test would hang or fail on nothing embforge did. Catching it
# here restores the terminal's case, for this process and, as a caught signal
# goes back to the default at exec, for the commands it starts.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The devices a backend-agnostic test runs on: "cpu"; "cuda-emulated"
# (device="cuda" through the host stand-in of fake_device.py: needs torch and
# a C++ compiler, not the _cuda module nor a GPU, so every CI run has it);
# "cuda" (a real GPU).
needs_gpu = pytest.mark.skipif(not _native.cuda_available(),
                               reason=f"no usable CUDA GPU: {_native.cuda_unavailable_reason()}")
_NO_EMULATION = emulation_build.unavailable_reason()
DEVICES = ["cpu",
           pytest.param("cuda-emulated", marks=pytest.mark.skipif(_NO_EMULATION is not None,
                                                                  reason=str(_NO_EMULATION))),
           pytest.param("cuda", marks=[pytest.mark.cuda, needs_gpu])]
GPU_DEVICES = DEVICES[1:]  # for @pytest.mark.parametrize("device", GPU_DEVICES, indirect=True)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny torch models run faster on one thread, and much faster on a busy machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=DEVICES)
def device(request, monkeypatch):
    """The `device=` of a backend-agnostic test: "cpu", then "cuda" on the
    emulated stand-in and on a real GPU (see fake_device.py)."""
    return use_device(request.param, monkeypatch)


@pytest.fixture(scope="session")
def emulation():
    """The CUDA kernels' shared code compiled for the host (tests/emulation),
    built once per source hash; skips, saying why, without a C++ compiler."""
    return load_emulation()


@pytest.fixture(scope="session")
def toy_corpus_path(tmp_path_factory):
    """A made-up corpus with strong, learnable structure (see make_toy_corpus)."""
    path = tmp_path_factory.mktemp("toy") / "toy.txt"
    path.write_text("\n".join(" ".join(s) for s in make_toy_corpus()) + "\n")
    return str(path)


TOY_TOPICS = [[f"{name}{i}" for i in range(12)] for name in ("sea", "fire", "tree", "iron")]
FILLER = ["the", "a", "of", "and", "to"]


def topic_sentences(topics, n_sentences, seed=0, leak=0.0):
    """Sentences of 8-20 words, each about one random topic: a word is from
    that topic with probability 0.7 - leak, from a random topic with
    probability leak, else filler."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(n_sentences):
        topic = rng.choice(topics)
        words = []
        for _ in range(rng.randint(8, 20)):
            r = rng.random()
            words.append(rng.choice(topic) if r < 0.7 - leak else
                         rng.choice(rng.choice(topics)) if r < 0.7 else rng.choice(FILLER))
        sentences.append(words)
    return sentences


def topic_margin(wv, topics=TOY_TOPICS):
    """Mean cosine of same-topic word pairs minus that of cross-topic pairs
    (untrained vectors: ~0; at most 4/3 for 4 topics). With topics of equal
    size this is also the mean over topics (and over pairs of topics)."""
    unit = np.asarray(wv.get_normed_vectors(), dtype=np.float64)
    index = [[wv.get_index(w) for w in topic] for topic in topics]
    cos = unit @ unit.T
    same = np.mean([cos[np.ix_(t, t)][~np.eye(len(t), dtype=bool)].mean() for t in index])
    cross = np.mean([cos[np.ix_(a, b)].mean() for i, a in enumerate(index) for b in index[i + 1:]])
    return float(same - cross)


def open_files_under(directory):
    """Paths of the files under `directory` this process has open (unnamed
    temporary files included: /proc/self/fd still points into the directory)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def save_without_setting(model, path, setting, monkeypatch):
    """Saves `model` to `path` as a file written before `setting` existed:
    its config without that entry."""
    config = type(model)._config
    monkeypatch.setattr(type(model), "_config", lambda self: {
        k: v for k, v in config(self).items() if k != setting})
    model.save(path)


def interrupted_run_polled(call, progress, on_poll=None):
    """embforge.progress.run_polled as if Ctrl-C came as the call started: the
    stop flag is set first, and the call reports an interruption. Tests put it
    in place of a module's run_polled."""
    from embforge.progress import run_polled
    progress.request_stop()  # what Ctrl-C does in run_polled
    result, _ = run_polled(call, progress, on_poll)
    return result, True


def make_toy_corpus(n_sentences=3000, seed=0):
    """Sentences from 4 topics, each with its own 12 words plus shared filler.

    Words of the same topic co-occur and never meet other topics' words, so
    trained vectors must put same-topic words closer than cross-topic ones.
    """
    return topic_sentences(TOY_TOPICS, n_sentences, seed)


def make_leaky_toy_corpus(n_sentences=3000, seed=0, leak=0.2):
    """make_toy_corpus's 4 topics, but a fraction `leak` of the words comes
    from a random topic. GloVe fits observed pairs only: without leaks every
    log X_ij of the toy corpus is log n_i + log n_j + const, which glove.c's
    fast bias steps fit alone, so the vectors need not learn the topics.
    With leaks, cross-topic pairs are observed at a lower rate and only the
    vectors can express that."""
    return topic_sentences(TOY_TOPICS, n_sentences, seed, leak)
