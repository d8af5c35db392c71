"""Analogy and word-pair evaluation against gensim, and our statistics against scipy."""
import gzip
import os
import sys

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from embforge import evaluation
from embforge.keyedvectors import KeyedVectors

gensim_models = pytest.importorskip("gensim.models")
stats = pytest.importorskip("scipy.stats")
GKV = gensim_models.KeyedVectors

DATA = os.path.join(os.path.dirname(__file__), "data")
ANALOGIES = os.path.join(DATA, "analogy_small.txt")
WORDSIM = os.path.join(DATA, "wordpairs_small.tsv")
SIMLEX = os.path.join(DATA, "simlex_small.txt")

RELATIONS = {
    "gender": [("man", "woman"), ("boy", "girl"), ("king", "queen"), ("brother", "sister"),
               ("father", "mother"), ("son", "daughter"), ("uncle", "aunt"), ("prince", "princess")],
    "plural": [("cat", "cats"), ("dog", "dogs"), ("car", "cars"), ("tree", "trees"), ("house", "houses")],
    "comparative": [("big", "bigger"), ("small", "smaller"), ("fast", "faster"), ("slow", "slower"),
                    ("tall", "taller")],
}


def analogy_vocabulary(dim=30, noise=1.2, seed=6):
    """Words whose pairs differ by a relation offset plus noise (so some analogies
    fail), with case variants that exercise gensim's case folding."""
    rng = np.random.default_rng(seed)
    vectors = {}
    for pairs in RELATIONS.values():
        offset = rng.normal(size=dim) * 1.5
        for x, y in pairs:
            vectors[x] = rng.normal(size=dim)
            vectors[y] = vectors[x] + offset + noise * rng.normal(size=dim)
    # 'lad' ~ 'man': 'woman' - 'man' + 'lad' lands on 4 spellings of 'woman' and
    # then 'LAD' (a spelling of an input too): gensim keeps the last, LAD.
    vectors["lad"] = vectors["man"] + 0.01 * rng.normal(size=dim)
    vectors["lass"] = rng.normal(size=dim)
    # 'Gamma' is exactly beta - alpha + gamma: the nearest word, but a spelling
    # of an input, so the prediction is the next one, 'delta'.
    offset = rng.normal(size=dim) * 1.5
    vectors["alpha"], vectors["gamma"] = rng.normal(size=dim), rng.normal(size=dim)
    vectors["beta"] = vectors["alpha"] + offset
    vectors["delta"] = vectors["gamma"] + offset + 0.3 * rng.normal(size=dim)
    for word in ("old", "new", "large"):
        vectors[word] = rng.normal(size=dim)
    # Rarer spellings come after the words (index order = frequency order).
    for variant in ("Woman", "WOMAN", "wOman", "woMan"):
        vectors[variant] = vectors["woman"] + 0.02 * rng.normal(size=dim)
    vectors["LAD"] = vectors["woman"] + 0.3 * rng.normal(size=dim)
    vectors["Gamma"] = vectors["beta"] - vectors["alpha"] + vectors["gamma"]
    vectors["Queen"] = vectors["queen"] + 0.05 * rng.normal(size=dim)
    vectors["King"] = rng.normal(size=dim)      # a different vector: folding must pick 'king'
    words = list(vectors)
    return words, np.array([vectors[w] for w in words], dtype=np.float32)


@pytest.fixture(scope="module")
def pair():
    words, vectors = analogy_vocabulary()
    storage = np.zeros((len(words) + 2, vectors.shape[1]), dtype=np.float32)
    storage[: len(words)] = vectors
    theirs = GKV(vectors.shape[1])
    theirs.add_vectors(words, vectors.copy())
    return KeyedVectors.from_storage(words, storage), theirs


def assert_same_sections(ours, theirs):
    score, sections = ours
    expected_score, expected_sections = theirs
    assert score == pytest.approx(expected_score, abs=1e-12)
    assert [s["section"] for s in sections] == [s["section"] for s in expected_sections]
    for got, expected in zip(sections, expected_sections):
        assert got["correct"] == expected["correct"], got["section"]
        assert got["incorrect"] == expected["incorrect"], got["section"]


# ---------------------------------------------------------------- analogies

@pytest.mark.parametrize("restrict_vocab", [300000, 30])
@pytest.mark.parametrize("case_insensitive", [True, False])
@pytest.mark.parametrize("dummy4unknown", [False, True])
def test_analogies_match_gensim(pair, restrict_vocab, case_insensitive, dummy4unknown):
    ours, theirs = pair
    kwargs = dict(restrict_vocab=restrict_vocab, case_insensitive=case_insensitive,
                  dummy4unknown=dummy4unknown)
    got = ours.evaluate_word_analogies(ANALOGIES, **kwargs)
    assert_same_sections(got, theirs.evaluate_word_analogies(ANALOGIES, **kwargs))
    total = got[1][-1]
    assert total["section"] == "Total accuracy" and total["correct"] and total["incorrect"]


def test_analogy_details(pair):
    ours, _ = pair
    score, sections = ours.evaluate_word_analogies(ANALOGIES)
    assert [s["section"] for s in sections] == ["family", "plural", "comparative", "greek",
                                                "Total accuracy"]
    family, plural, _, greek, total = sections
    assert ("MAN", "WOMAN", "LAD", "LASS") in family["incorrect"]   # spellings of inputs only
    assert ("MAN", "WOMAN", "LAD", "LAD") in family["correct"]      # ... the last one counts
    assert ("ALPHA", "BETA", "GAMMA", "DELTA") in greek["correct"]  # 'Gamma' skipped
    asked = family["correct"] + family["incorrect"]
    assert ("THIS", "LINE", "HAS", "FIVE") not in asked and len(asked) == 13  # 5-word line skipped
    assert all("ZEBRA" not in q for q in plural["correct"] + plural["incorrect"])  # OOV skipped
    n_total = sum(len(s["correct"]) + len(s["incorrect"]) for s in sections[:-1])
    assert score == len(total["correct"]) / n_total
    _, sensitive = ours.evaluate_word_analogies(ANALOGIES, case_insensitive=False)
    assert ("alpha", "beta", "gamma", "delta") in sensitive[3]["incorrect"]  # 'Gamma' is another word


def test_analogies_are_batched_not_asked_one_by_one(pair, monkeypatch):
    ours, theirs = pair

    def forbidden(*args, **kwargs):
        raise AssertionError("evaluate_word_analogies must not call most_similar per question")
    monkeypatch.setattr(KeyedVectors, "most_similar", forbidden)
    monkeypatch.setattr(evaluation, "_BATCH_ELEMENTS", 7 * len(ours))   # several batches of 7
    assert_same_sections(ours.evaluate_word_analogies(ANALOGIES),
                         theirs.evaluate_word_analogies(ANALOGIES, restrict_vocab=30000))


def test_many_questions_match_gensim(tmp_path, monkeypatch):
    """A few hundred generated questions over a 3000-word vocabulary, in batches."""
    rng = np.random.default_rng(7)
    dim, n_relations, per_relation = 32, 6, 40
    words, rows, questions = [], [], []
    for r in range(n_relations):
        offset = rng.normal(size=dim) * 1.2
        members = []
        for i in range(per_relation):
            x = rng.normal(size=dim)
            words += [f"r{r}x{i}", f"r{r}y{i}"]
            rows += [x, x + offset + 1.6 * rng.normal(size=dim)]
            members.append((f"r{r}x{i}", f"r{r}y{i}"))
        for i in range(0, per_relation - 1, 2):
            questions.append(members[i] + members[i + 1])
    words += [f"filler{i}" for i in range(3000 - len(words))]
    rows += list(rng.normal(size=(3000 - len(rows), dim)))
    path = tmp_path / "generated.txt.gz"     # gzip is read too
    with gzip.open(path, "wt") as out:
        out.write(": generated\n" + "".join(" ".join(q) + "\n" for q in questions))
    vectors = np.array(rows, dtype=np.float32)
    ours = KeyedVectors.from_storage(words, np.ascontiguousarray(vectors))
    theirs = GKV(dim)
    theirs.add_vectors(words, vectors.copy())
    monkeypatch.setattr(evaluation, "_BATCH_ELEMENTS", 3000 * 16)
    for restrict in (3000, 400):
        got = ours.evaluate_word_analogies(str(path), restrict_vocab=restrict)
        assert_same_sections(got, theirs.evaluate_word_analogies(str(path), restrict_vocab=restrict))
    assert 0.2 < got[0] < 0.95


def test_analogy_file_errors(tmp_path, pair):
    ours, _ = pair
    orphan = tmp_path / "orphan.txt"
    orphan.write_text("man woman boy girl\n: later\n")
    with pytest.raises(ValueError, match=r"orphan\.txt: line 1: a question before the first"):
        ours.evaluate_word_analogies(str(orphan))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b": s\nman woman boy g\xffrl\n")
    with pytest.raises(ValueError, match=r"bad\.txt: line 2: not valid UTF-8"):
        ours.evaluate_word_analogies(str(bad))
    with pytest.raises(FileNotFoundError):
        ours.evaluate_word_analogies(str(tmp_path / "missing.txt"))


def test_no_known_question_scores_zero(tmp_path, pair):
    ours, _ = pair
    path = tmp_path / "unknown.txt"
    path.write_text(": s\nzebra zebras lion lions\n")
    score, sections = ours.evaluate_word_analogies(str(path))
    assert score == 0.0 and sections[-1] == {"section": "Total accuracy", "correct": [], "incorrect": []}


# ---------------------------------------------------------------- word pairs

def assert_same_correlations(got, expected):
    (pearson, spearman, oov), (e_pearson, e_spearman, e_oov) = got, expected
    assert pearson[0] == pytest.approx(e_pearson[0], abs=1e-6)
    assert spearman[0] == pytest.approx(e_spearman[0], abs=1e-6)
    assert pearson[1] == pytest.approx(e_pearson[1], rel=1e-4, abs=1e-12)
    assert spearman[1] == pytest.approx(e_spearman[1], rel=1e-4, abs=1e-12)
    assert oov == pytest.approx(e_oov, abs=1e-12)


@pytest.mark.parametrize("path", [WORDSIM, SIMLEX])
@pytest.mark.parametrize("kwargs", [{}, {"case_insensitive": False}, {"dummy4unknown": True},
                                    {"restrict_vocab": 20}])
def test_word_pairs_match_gensim(pair, path, kwargs):
    ours, theirs = pair
    got = ours.evaluate_word_pairs(path, **kwargs)
    assert_same_correlations(got, theirs.evaluate_word_pairs(path, **kwargs))
    assert got[0].statistic == got[0][0] and got[1].pvalue == got[1][1]


def test_word_pairs_skip_comments_headers_and_bad_lines(pair, tmp_path):
    ours, theirs = pair
    _, _, oov = ours.evaluate_word_pairs(WORDSIM)
    # 20 pairs parse (2 comments, 1 bad line, 1 four-field line skipped); 'zebra' is unknown
    assert oov == pytest.approx(100 / 20)
    spaced = tmp_path / "spaced.txt.gz"
    with gzip.open(spaced, "wt") as out:
        out.write("word1 word2 score\nman woman 7\nking queen 8\ncat dog 2\nbig small 1\n")
    assert_same_correlations(ours.evaluate_word_pairs(str(spaced), delimiter=" "),
                             theirs.evaluate_word_pairs(str(spaced), delimiter=" "))


def test_word_pairs_without_usable_lines_raise(pair, tmp_path):
    ours, _ = pair
    path = tmp_path / "empty.tsv"
    path.write_text("# nothing\nzebra\tlion\t3\n")
    with pytest.raises(ValueError, match=r"empty\.tsv: no usable word pairs"):
        ours.evaluate_word_pairs(str(path))


def test_word_pairs_use_the_canonical_spelling(pair, tmp_path):
    ours, _ = pair
    path = tmp_path / "case.tsv"
    path.write_text("KING\tman\t1\nking\tboy\t2\nKing\tgirl\t3\n")
    insensitive = evaluation.read_word_pairs(str(path))
    assert [p[1] for p in insensitive] == ["KING"] * 3
    # all three pairs use the vector of 'king' (the first spelling), not 'King'
    _, spearman, _ = ours.evaluate_word_pairs(str(path))
    sims = [ours.similarity("king", w) for w in ("man", "boy", "girl")]
    assert spearman[0] == pytest.approx(stats.spearmanr([1, 2, 3], sims)[0])


# ---------------------------------------------------------------- statistics

@given(st.lists(st.integers(-3, 3), min_size=1, max_size=30))
def test_rankdata_matches_scipy_with_ties(values):
    np.testing.assert_array_equal(evaluation.rankdata(values), stats.rankdata(values))


@given(st.lists(st.tuples(st.integers(-5, 5), st.floats(-1e3, 1e3)), min_size=3, max_size=40))
def test_correlations_match_scipy(points):
    x, y = np.array(points, dtype=np.float64).T
    assume(np.ptp(x) > 0 and np.ptp(y) > 1e-6)
    for ours, theirs in ((evaluation.pearsonr, stats.pearsonr), (evaluation.spearmanr, stats.spearmanr)):
        got, expected = ours(x, y), theirs(x, y)
        assert got.statistic == pytest.approx(expected[0], abs=1e-9)
        assert got.pvalue == pytest.approx(expected[1], rel=1e-6, abs=1e-7)  # r = 1 +- 1 ulp


def test_correlation_edge_cases():
    assert np.isnan(evaluation.pearsonr([1, 1, 1], [1, 2, 3]).statistic)      # constant input
    assert np.isnan(evaluation.spearmanr([1], [2]).statistic)
    assert np.isnan(evaluation.spearmanr([1, np.nan, 3], [1, 2, 3]).statistic)
    assert tuple(evaluation.pearsonr([1, 2], [3, 1])) == (-1.0, 1.0)          # scipy's n=2 answer
    assert evaluation.spearmanr([1, 2, 3, 4], [10, 20, 30, 40]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        evaluation.pearsonr([1, 2], [1, 2, 3])
    big = np.array([1e200, 2e200, 3e200, 5e200])
    assert evaluation.pearsonr(big, big).statistic == pytest.approx(1.0)     # no overflow


def test_p_values_are_nan_without_scipy(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    result = evaluation.spearmanr([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])
    assert result.statistic == pytest.approx(0.8) and np.isnan(result.pvalue)
    assert np.isnan(evaluation.pearsonr([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]).pvalue)

