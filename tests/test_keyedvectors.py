"""KeyedVectors: storage sharing, key access, and similarity queries checked
against a plain numpy reference and against gensim's KeyedVectors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from embforge._layout import SPARE_ROWS
from embforge.keyedvectors import KeyedVectors

gensim_models = pytest.importorskip("gensim.models")
GKV = gensim_models.KeyedVectors

N, DIM = 300, 24
WORDS = [f"w{i}" for i in range(N)]
# float32 similarities from two implementations agree to ~1e-6.
ATOL = 2e-5


def make_storage(n=N, dim=DIM, spare=2, seed=0):
    rng = np.random.default_rng(seed)
    storage = np.zeros((n + spare, dim), dtype=np.float32)
    storage[:n] = rng.normal(size=(n, dim))
    return storage


@pytest.fixture(scope="module")
def pair():
    """Our vectors and gensim's, built from the same arrays."""
    storage = make_storage()
    ours = KeyedVectors.from_storage(WORDS, storage)
    theirs = GKV(DIM)
    theirs.add_vectors(WORDS, storage[:N].copy())
    return ours, theirs


def reference_most_similar(vectors, words, positive, negative, topn):
    """Straight from the definition: cosine to the mean of unit vectors."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    mean = sum(unit[index[w]] for w in positive) - sum(unit[index[w]] for w in negative)
    mean = mean / np.linalg.norm(mean)
    scores = unit @ mean
    excluded = {index[w] for w in positive + negative}
    order = [i for i in np.argsort(-scores) if i not in excluded][:topn]
    return [(words[i], float(scores[i])) for i in order], scores


def assert_same_ranking(ours, expected_list, all_scores, words):
    """Same scores in the same order; keys may swap only where scores tie to
    within float32 noise, and each key's score matches its exact score."""
    assert len(ours) == len(expected_list)
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in expected_list], atol=ATOL)
    index = {w: i for i, w in enumerate(words)}
    for key, score in ours:
        assert abs(all_scores[index[key]] - score) < ATOL


# ---------------------------------------------------------------- construction and storage

def test_from_storage_is_a_view_the_trainers_can_write_into():
    storage = make_storage(n=5, dim=3)
    kv = KeyedVectors.from_storage(WORDS[:5], storage)
    assert kv._storage is storage
    assert kv.vectors.shape == (5, 3) and np.shares_memory(kv.vectors, storage)
    storage[2, 0] = 42.0
    assert kv["w2"][0] == 42.0
    kv.vectors[1] = 7.0          # written through to the storage, spare rows untouched
    assert (storage[1] == 7.0).all() and (storage[5:] == 0).all()
    assert kv.device == "cpu" and kv.vector_size == 3 and len(kv) == 5


def test_from_storage_copies_the_key_list_and_takes_counts():
    keys = ["a", "b"]
    kv = KeyedVectors.from_storage(keys, make_storage(2, 3), counts=[5, 3])
    keys.append("c")
    assert kv.index_to_key == ["a", "b"] and kv.key_to_index == {"a": 0, "b": 1}
    assert kv.get_vecattr("b", "count") == 3


@pytest.mark.parametrize("keys, storage, counts, message", [
    (["a", "b", "c"], np.zeros((2, 3), np.float32), None, "fewer than"),
    (["a", "a"], np.zeros((2, 3), np.float32), None, "duplicate key 'a'"),
    (["a"], np.zeros((4, 3), np.float32)[:, :2], None, "C-contiguous"),
    (["a"], np.zeros(3, np.float32), None, "2-D"),
    (["a"], np.zeros((1, 3), np.int32), None, "floats"),
    (["a", "b"], np.zeros((2, 3), np.float32), [1], "1 counts for 2 keys"),
])
def test_from_storage_rejects_bad_input(keys, storage, counts, message):
    with pytest.raises(ValueError, match=message):
        KeyedVectors.from_storage(keys, storage, counts)


def test_constructor_and_add_vectors_like_gensim():
    kv = KeyedVectors(4, count=3)
    assert len(kv) == 0 and kv._storage.shape == (3 + SPARE_ROWS, 4)   # 3 reserved + spare rows
    kv.add_vectors(["a", "b"], np.ones((2, 4)))
    storage = kv._storage
    kv.add_vector("c", np.full(4, 3.0))
    assert kv._storage is storage                       # fitted in the reserved rows
    kv.add_vectors(["d", "a", "d"], np.array([[4.0] * 4, [9.0] * 4, [5.0] * 4]))
    assert kv.index_to_key == ["a", "b", "c", "d"]
    assert kv["a"][0] == 1.0 and kv["d"][0] == 4.0         # existing kept, first duplicate wins
    assert kv._storage.shape == (4 + SPARE_ROWS, 4)        # grown: 4 + spare rows
    kv.add_vectors(["a", "e"], np.array([[9.0] * 4, [6.0] * 4]), replace=True)
    assert kv["a"][0] == 9.0 and kv["e"][0] == 6.0
    kv["f"] = np.full(4, 8.0)
    assert kv.get_index("f") == 5
    with pytest.raises(ValueError, match="shape"):
        kv.add_vectors(["g"], np.ones((1, 5)))


def test_add_vectors_grows_attributes():
    kv = KeyedVectors.from_storage(["a"], make_storage(1, 2), counts=[10])
    kv.add_vectors(["b", "c"], np.ones((2, 2)), extras={"count": np.array([4, 2])})
    assert [kv.get_vecattr(w, "count") for w in "abc"] == [10, 4, 2]
    kv.add_vectors(["d"], np.ones((1, 2)))
    assert kv.get_vecattr("d", "count") == 0
    kv.set_vecattr("d", "count", 1)
    kv.set_vecattr("a", "rank", 0.5)
    assert kv.get_vecattr("d", "count") == 1 and kv.get_vecattr("a", "rank") == 0.5


def test_key_access_follows_gensim(pair):
    ours, theirs = pair
    assert ours.get_index("w7") == theirs.get_index("w7") == 7
    assert ours.get_index(5) == theirs.get_index(5) == 5          # an int is also a row number
    assert ours.get_index("nope", -1) == -1
    assert ("w3" in ours) and ("nope" not in ours) and (3 in ours) and (N not in ours)
    np.testing.assert_array_equal(ours[["w1", "w4"]], theirs[["w1", "w4"]])
    np.testing.assert_array_equal(ours["w9"], theirs["w9"])
    np.testing.assert_allclose(ours.get_vector("w9", norm=True), theirs.get_vector("w9", norm=True),
                               atol=1e-6)
    with pytest.raises(KeyError, match="nope"):
        ours["nope"]
    with pytest.raises(KeyError):
        ours.get_index(N)


def test_normed_vectors_are_cached_until_invalidate():
    storage = make_storage(n=4, dim=3)
    kv = KeyedVectors.from_storage(WORDS[:4], storage)
    normed = kv.get_normed_vectors()
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, rtol=1e-6)
    assert kv.get_normed_vectors() is normed and not normed.flags.writeable
    storage[0] = [3.0, 0.0, 0.0]                       # a trainer writes in place ...
    assert kv.get_normed_vectors()[0, 0] != 1.0      # ... the cache is stale until told
    kv._invalidate()
    np.testing.assert_allclose(kv.get_normed_vectors()[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(kv.norms[0], 3.0)


def test_zero_vector_normalises_to_zero_not_nan():
    storage = make_storage(n=3, dim=2)
    storage[1] = 0.0
    kv = KeyedVectors.from_storage(["a", "b", "c"], storage)
    assert np.isfinite(kv.get_normed_vectors()).all() and (kv.get_normed_vectors()[1] == 0).all()
    assert kv.similarity("a", "b") == 0.0
    assert dict(kv.most_similar("a", topn=2))["b"] == 0.0


# ---------------------------------------------------------------- queries vs numpy and gensim

QUERIES = [
    (["w1"], []),
    (["w1", "w2"], ["w3"]),
    ([], ["w4"]),
    (["w10", "w11", "w12"], ["w13", "w14"]),
]


@pytest.mark.parametrize("positive, negative", QUERIES)
def test_most_similar_matches_numpy_and_gensim(pair, positive, negative):
    ours, theirs = pair
    got = ours.most_similar(positive=positive, negative=negative, topn=10)
    expected, scores = reference_most_similar(ours.vectors, WORDS, positive, negative, 10)
    assert_same_ranking(got, expected, scores, WORDS)
    assert_same_ranking(got, theirs.most_similar(positive=positive, negative=negative, topn=10),
                        scores, WORDS)
    assert not set(positive + negative) & {w for w, _ in got}


@given(st.lists(st.integers(0, N - 1), min_size=1, max_size=4, unique=True),
       st.lists(st.integers(0, N - 1), max_size=3, unique=True),
       st.one_of(st.none(), st.integers(20, N)), st.integers(1, 30))
def test_most_similar_matches_gensim_property(pair, pos, neg, restrict, topn):
    ours, theirs = pair
    positive = [WORDS[i] for i in pos]
    negative = [WORDS[i] for i in neg if i not in pos]
    got = ours.most_similar(positive, negative, topn=topn, restrict_vocab=restrict)
    expected = theirs.most_similar(positive, negative, topn=topn, restrict_vocab=restrict)
    all_scores = theirs.most_similar(positive, negative, topn=None, restrict_vocab=restrict)
    assert_same_ranking(got, expected, all_scores, WORDS)
    if restrict is not None:
        assert all(ours.get_index(w) < restrict for w, _ in got)


def test_most_similar_accepts_vectors_weights_and_single_keys(pair):
    ours, theirs = pair
    vector = ours["w5"] * 2 + 1
    for kwargs in (dict(positive=vector), dict(positive=[("w1", 2.0), ("w2", 0.5)], negative=["w3"]),
                   dict(positive="w8"), dict(positive=[vector, "w6"], negative=[("w9", -3.0)])):
        scores = theirs.most_similar(topn=None, **kwargs)
        assert_same_ranking(ours.most_similar(topn=7, **kwargs), theirs.most_similar(topn=7, **kwargs),
                            scores, WORDS)
    np.testing.assert_allclose(ours.most_similar("w1", topn=None), theirs.most_similar("w1", topn=None),
                               atol=ATOL)
    assert ours.most_similar("w1", topn=0) == []
    assert_same_ranking(ours.similar_by_vector(vector, topn=5), theirs.similar_by_vector(vector, topn=5),
                        theirs.similar_by_vector(vector, topn=None), WORDS)
    assert_same_ranking(ours.similar_by_word("w2", topn=5), theirs.similar_by_word("w2", topn=5),
                        theirs.most_similar("w2", topn=None), WORDS)
    with pytest.raises(KeyError, match="nope"):
        ours.most_similar(["w1", "nope"])
    with pytest.raises(ValueError, match="no input"):
        ours.most_similar([])


@pytest.mark.filterwarnings("ignore:Call to deprecated `init_sims`:DeprecationWarning")  # gensim's own
@pytest.mark.parametrize("positive, negative", QUERIES[:2] + [(["w20", "w21"], ["w22", "w23"])])
def test_most_similar_cosmul_matches_gensim(pair, positive, negative):
    ours, theirs = pair
    scores = theirs.most_similar_cosmul(positive, negative, topn=None)
    assert_same_ranking(ours.most_similar_cosmul(positive, negative, topn=8),
                        theirs.most_similar_cosmul(positive, negative, topn=8), scores, WORDS)
    np.testing.assert_allclose(ours.most_similar_cosmul(positive, negative, topn=None), scores, atol=ATOL)
    restricted = ours.most_similar_cosmul(positive, negative, topn=50, restrict_vocab=40)
    assert all(ours.get_index(w) < 40 for w, _ in restricted)   # gensim ignores restrict_vocab


def test_pairwise_measures_match_gensim(pair):
    ours, theirs = pair
    assert ours.similarity("w1", "w2") == pytest.approx(theirs.similarity("w1", "w2"), abs=1e-6)
    assert ours.distance("w1", "w2") == pytest.approx(theirs.distance("w1", "w2"), abs=1e-6)
    assert ours.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]) == pytest.approx(
        theirs.n_similarity(["w1", "w2"], ["w3", "w4", "w5"]), abs=1e-6)
    np.testing.assert_allclose(ours.distances("w3"), theirs.distances("w3"), atol=1e-6)
    np.testing.assert_allclose(ours.distances("w3", ["w4", "w8"]), theirs.distances("w3", ["w4", "w8"]),
                               atol=1e-6)
    np.testing.assert_allclose(ours.distances(ours["w0"]), theirs.distances(theirs["w0"]), atol=1e-6)
    for a, b in (("w1", "w2"), ("w5", "w100"), ("w0", "w299")):
        assert ours.rank(a, b) == theirs.rank(a, b)
    assert ours.closer_than("w1", "w2") == theirs.closer_than("w1", "w2")
    words = ["w1", "w2", "w3", "w4", "nope"]
    assert ours.doesnt_match(words) == theirs.doesnt_match(words)
    assert ours.most_similar_to_given("w1", ["w2", "w3", "w4"]) == theirs.most_similar_to_given(
        "w1", ["w2", "w3", "w4"])
    with pytest.raises(ZeroDivisionError):
        ours.n_similarity([], ["w1"])


def test_query_results_track_in_place_updates_after_invalidate():
    storage = make_storage(n=50, dim=8)
    kv = KeyedVectors.from_storage(WORDS[:50], storage)
    before = kv.most_similar("w0", topn=1)[0][0]
    target = "w1" if before != "w1" else "w2"
    storage[kv.get_index(target)] = storage[0] * 3      # make `target` the nearest of w0
    kv._invalidate()
    assert kv.most_similar("w0", topn=1)[0] == (target, pytest.approx(1.0, abs=1e-6))


def test_vectors_setter_replaces_storage():
    kv = KeyedVectors.from_storage(["a", "b"], make_storage(2, 3))
    kv.get_normed_vectors()
    kv.vectors = np.eye(2, 5)
    assert kv.vector_size == 5 and kv.similarity("a", "b") == 0.0
    with pytest.raises(ValueError, match="2 rows"):
        kv.vectors = np.ones((3, 5))


# ---------------------------------------------------------------- device storage

class FakeGpuArray:
    """Just enough of a CuPy array: a CUDA device, slicing and .get()."""

    def __init__(self, host, device_id=1, log=None):
        self._host, self._id = host, device_id
        self.log = [] if log is None else log
        self.shape, self.dtype = host.shape, host.dtype

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": "<f4", "data": (0, False), "version": 3}

    def __dlpack_device__(self):
        return (2, self._id)   # kDLCUDA

    def __getitem__(self, item):
        return FakeGpuArray(self._host[item], self._id, self.log)

    def get(self):
        self.log.append("get")
        return self._host.copy()


def test_gpu_storage_gives_a_cached_host_copy():
    host = make_storage(n=20, dim=4)
    gpu = FakeGpuArray(host)
    kv = KeyedVectors.from_storage(WORDS[:20], gpu)
    assert kv.device == "cuda:1" and kv._storage is gpu and kv.vector_size == 4
    first = kv.vectors
    assert first.shape == (20, 4) and not first.flags.writeable
    assert kv.vectors is first and gpu.log == ["get"]       # cached
    host[3] = 9.0                                           # the GPU trainer updates ...
    assert kv["w3"][0] != 9.0
    kv._invalidate()                                        # ... and says so
    assert kv["w3"][0] == 9.0 and gpu.log == ["get", "get"]
    assert kv.most_similar("w3", topn=2)[0][0] in WORDS[:20]
    with pytest.raises(ValueError, match="cuda:1"):
        kv.add_vectors(["x"], np.ones((1, 4)))


def test_cpu_arrays_with_dlpack_are_used_as_host_arrays():
    class CpuTensor:  # like a CPU torch tensor: DLPack device 1, shares memory via __array__
        def __init__(self, host):
            self.host, self.shape = host, host.shape

        def __dlpack_device__(self):
            return (1, 0)

        def __array__(self, dtype=None, copy=None):
            return self.host

    storage = make_storage(2, 3)
    kv = KeyedVectors.from_storage(["a", "b"], CpuTensor(storage))
    assert kv.device == "cpu" and kv._storage is storage


def test_repr_names_size_and_device():
    kv = KeyedVectors.from_storage(["a", "b"], make_storage(2, 3))
    assert repr(kv) == "KeyedVectors(2 keys x 3 dims, float32, device='cpu')"
