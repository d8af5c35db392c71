"""Word-analogy and word-pair evaluation, with gensim's conventions and results.

``evaluate_word_analogies`` solves questions ``a : b :: c : ?`` by 3CosAdd
(the word closest to b - a + c among the `restrict_vocab` first words, the
three inputs excluded), batched through matrix products. It follows gensim's
``KeyedVectors.evaluate_word_analogies`` line for line in what it counts:
questions with a word outside the first `restrict_vocab` words are skipped
(or counted wrong with ``dummy4unknown``); with ``case_insensitive`` words are
compared upper-cased and each upper-cased form takes the vector of its first
(most frequent) spelling; the prediction is the first of the 5 nearest words
that is not a case variant of an input.

``evaluate_word_pairs`` correlates cosine similarities with human scores
(wordsim353, SimLex-999 and the like: ``w1<delimiter>w2<delimiter>score``
lines, ``#`` comments; any line that does not split into exactly those three
fields, such as a header row, is skipped, as gensim does).

Pearson and Spearman (average ranks for ties) are computed here, so SciPy is
optional: it only supplies the p-values, which are NaN without it.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from ._typing import StrPath
from .io.compression import open_binary, open_text

if TYPE_CHECKING:
    from .keyedvectors import KeyedVectors

__all__ = ["CorrelationResult", "rankdata", "pearsonr", "spearmanr", "read_analogies",
           "read_word_pairs", "evaluate_word_analogies", "evaluate_word_pairs"]

logger = logging.getLogger(__name__)

_ANALOGY_TOPN = 5                 # gensim looks at the 5 nearest words
_BATCH_ELEMENTS = 1 << 24         # questions x vocabulary scores per matrix product (64 MiB)


class CorrelationResult(NamedTuple):
    """``(statistic, pvalue)``; also unpacks and indexes like gensim's tuples."""
    statistic: float
    pvalue: float


# ---------------------------------------------------------------- statistics

def rankdata(values: ArrayLike) -> np.ndarray:
    """1-based ranks, ties get the average of the ranks they span (scipy's 'average')."""
    x = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]] if len(x) else np.array([], bool)
    group = np.cumsum(starts_group) - 1
    starts = np.flatnonzero(starts_group)
    ends = np.r_[starts[1:], len(x)]
    average = (starts + 1 + ends) / 2.0      # mean of the ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = average[group]
    return ranks


def _t_test_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation under H0 (t distribution, n - 2 degrees
    of freedom), as scipy computes it for pearsonr and spearmanr."""
    if n == 2:
        return 1.0
    if abs(r) >= 1.0:
        return 0.0
    try:
        from scipy import stats  # noqa: PLC0415 - optional, for p-values only
    except ImportError:
        return float("nan")
    t = r * math.sqrt((n - 2) / ((1.0 - r) * (1.0 + r)))
    return float(2.0 * stats.t.sf(abs(t), n - 2))


def pearsonr(x: ArrayLike, y: ArrayLike) -> CorrelationResult:
    """Pearson's r in float64 and its p-value (NaN without SciPy, or for fewer
    than 2 points, constant input or NaN values)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    n = len(x)
    if n < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return CorrelationResult(float("nan"), float("nan"))
    dx, dy = x - x.mean(), y - y.mean()
    # Scale first: sums of squares of large values would overflow.
    dx /= np.abs(dx).max() or 1.0
    dy /= np.abs(dy).max() or 1.0
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    if denominator == 0.0:
        return CorrelationResult(float("nan"), float("nan"))
    r = max(-1.0, min(1.0, float(dx @ dy) / denominator))
    return CorrelationResult(r, _t_test_pvalue(r, n))


def spearmanr(x: ArrayLike, y: ArrayLike) -> CorrelationResult:
    """Spearman's rho: Pearson's r of the (tie-averaged) ranks."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if np.isnan(x).any() or np.isnan(y).any():
        return CorrelationResult(float("nan"), float("nan"))
    return pearsonr(rankdata(x), rankdata(y))


# ---------------------------------------------------------------- vocabulary view

def _case_vocab(kv: "KeyedVectors", restrict_vocab: Optional[int], case_insensitive: bool
                ) -> Tuple[Dict[str, int], np.ndarray, int]:
    """gensim's ``ok_vocab``: folded key -> index of its first spelling among the
    first `restrict_vocab` keys; plus, for each of those rows, the index its
    folded key maps to (rows that are case variants of one another share it)."""
    limit = len(kv) if restrict_vocab is None else max(0, min(int(restrict_vocab), len(kv)))
    fold = _folder(case_insensitive)
    ok_vocab: Dict[str, int] = {}
    canonical = np.empty(limit, dtype=np.int64)
    for index, key in enumerate(kv.index_to_key[:limit]):
        canonical[index] = ok_vocab.setdefault(fold(key), index)
    return ok_vocab, canonical, limit


def _folder(case_insensitive: bool) -> Callable[[str], str]:
    if not case_insensitive:
        return lambda word: word
    return lambda word: word.upper() if isinstance(word, str) else word


# ---------------------------------------------------------------- analogies

class _Question(NamedTuple):
    line_no: int
    words: Tuple[str, ...]   # folded a, b, c, expected


def read_analogies(path: StrPath, case_insensitive: bool = True
                   ) -> List[Tuple[str, List[_Question]]]:
    """Reads questions-words style files: ``: section`` lines, then ``a b c d``.

    Lines that do not hold exactly 4 words are skipped (gensim); a question
    before the first section header is an error.
    """
    path = os.fspath(path)
    fold = _folder(case_insensitive)
    sections: List[Tuple[str, List[_Question]]] = []
    with open_binary(path) as (source, _):
        for line_no, raw in enumerate(source, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}: line {line_no}: not valid UTF-8 ({error.reason})") from None
            if line.startswith(": "):
                sections.append((line.lstrip(": ").strip(), []))
                continue
            if not sections:
                raise ValueError(f"{path}: line {line_no}: a question before the first "
                                 f"': section' line: {line.strip()[:60]!r}")
            words = line.split()
            if len(words) != 4:
                logger.info("skipping invalid line #%d in %s", line_no, path)
                continue
            sections[-1][1].append(_Question(line_no, tuple(fold(w) for w in words)))
    return sections


def _solve_analogies(normed: np.ndarray, canonical: np.ndarray, questions: np.ndarray
                     ) -> np.ndarray:
    """For rows ``(a, b, c, expected)`` of vocabulary indices, whether 3CosAdd
    predicts `expected`, reproducing gensim's choice among the 5 nearest words.

    Indices are canonical (first spelling of a folded word); `normed` holds
    the unit vectors of the restricted vocabulary.
    """
    limit = normed.shape[0]
    topn = min(_ANALOGY_TOPN, limit)
    batch = max(1, min(len(questions), _BATCH_ELEMENTS // max(1, limit)))
    buffer = np.empty((batch, limit), dtype=normed.dtype)   # reused: no page faults per batch
    correct = np.zeros(len(questions), dtype=bool)
    for start in range(0, len(questions), batch):
        a, b, c, expected = questions[start:start + batch].T
        rows = np.arange(len(a))
        query = normed[b] + normed[c] - normed[a]          # gensim's mean, up to a scale
        lengths = np.linalg.norm(query, axis=1, keepdims=True)
        query /= np.where(lengths > 0, lengths, 1)
        scores = np.matmul(query, normed.T, out=buffer[: len(a)])   # [batch, vocabulary]
        for column in (a, b, c):                           # most_similar drops its inputs
            scores[rows, column] = -np.inf
        # The 5 best per row, best first: 5 argmax passes beat a partition here.
        nearest = np.empty((len(a), topn), dtype=np.int64)
        found = np.empty((len(a), topn), dtype=bool)
        for k in range(topn):
            best = scores.argmax(axis=1)
            nearest[:, k] = best
            found[:, k] = np.isfinite(scores[rows, best])
            scores[rows, best] = -np.inf
        candidate = canonical[nearest]
        # gensim walks the 5 results and stops at the first that is not a case
        # variant of an input; when all are, the last one stays the prediction.
        is_input = (candidate == a[:, None]) | (candidate == b[:, None]) | (candidate == c[:, None])
        usable = found & ~is_input
        first = np.argmax(usable, axis=1)
        last = np.where(found.any(axis=1), found.sum(axis=1) - 1, 0)
        pick = np.where(usable.any(axis=1), first, last)
        predicted = np.where(found[rows, pick], candidate[rows, pick], -1)
        correct[start:start + len(a)] = predicted == expected
    return correct


def evaluate_word_analogies(kv: "KeyedVectors", analogies: StrPath, restrict_vocab: int = 30000,
                            case_insensitive: bool = True, dummy4unknown: bool = False
                            ) -> Tuple[float, List[Dict[str, Any]]]:
    """3CosAdd accuracy on an analogy file; returns ``(score, sections)`` like
    gensim: sections are dicts ``{'section', 'correct', 'incorrect'}`` holding
    the (folded) question tuples, the last one is ``'Total accuracy'``."""
    ok_vocab, canonical, limit = _case_vocab(kv, restrict_vocab, case_insensitive)
    parsed = read_analogies(analogies, case_insensitive)
    known = [q for _, questions in parsed for q in questions if all(w in ok_vocab for w in q.words)]
    indices = np.array([[ok_vocab[w] for w in q.words] for q in known], dtype=np.int64).reshape(-1, 4)
    solved = np.zeros(0, dtype=bool)
    if len(known):
        normed = kv.get_normed_vectors()[:limit]
        solved = _solve_analogies(normed, canonical, indices)
    outcome = {q.line_no: ok for q, ok in zip(known, solved.tolist())}

    sections: List[Dict[str, Any]] = []
    oov, total_questions = 0, 0
    for name, questions in parsed:
        section: Dict[str, Any] = {"section": name, "correct": [], "incorrect": []}
        for question in questions:
            total_questions += 1
            ok = outcome.get(question.line_no)
            if ok is None:
                oov += 1
                if not dummy4unknown:
                    continue
            section["correct" if ok else "incorrect"].append(question.words)
        _log_section(section)
        sections.append(section)
    total = {"section": "Total accuracy",
             "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
             "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections))}
    if total_questions:
        logger.info("quadruplets with out-of-vocabulary words: %.1f%%", 100.0 * oov / total_questions)
    score = _log_section(total)
    sections.append(total)
    return score, sections


def _log_section(section: Dict[str, Any]) -> float:
    correct, incorrect = len(section["correct"]), len(section["incorrect"])
    if correct + incorrect == 0:
        return 0.0
    score = correct / (correct + incorrect)
    logger.info("%s: %.1f%% (%d/%d)", section["section"], 100.0 * score, correct, correct + incorrect)
    return score


# ---------------------------------------------------------------- word pairs

def read_word_pairs(path: StrPath, delimiter: str = "\t", encoding: str = "utf8",
                    case_insensitive: bool = True) -> List[Tuple[int, str, str, float]]:
    """``(line number, w1, w2, score)`` from lines ``w1<delimiter>w2<delimiter>score``.

    Lines starting with '#' are comments; lines that are not exactly three
    fields with a numeric third (header rows like ``word1 word2 SimLex999``)
    are skipped, as gensim does.
    """
    path = os.fspath(path)
    fold = _folder(case_insensitive)
    pairs: List[Tuple[int, str, str, float]] = []
    try:
        with open_text(path, encoding=encoding) as lines:
            for line_no, line in enumerate(lines, 1):
                if not line or line.startswith("#"):
                    continue
                fields = line.split(delimiter)
                try:
                    a, b, text = fields
                    score = float(text)
                except ValueError:
                    logger.info("skipping invalid line #%d in %s", line_no, path)
                    continue
                pairs.append((line_no, fold(a), fold(b), score))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not valid {encoding} text ({error})") from None
    return pairs


def evaluate_word_pairs(kv: "KeyedVectors", pairs: StrPath, delimiter: str = "\t",
                        restrict_vocab: int = 300000, case_insensitive: bool = True,
                        dummy4unknown: bool = False, encoding: str = "utf8"
                        ) -> Tuple[CorrelationResult, CorrelationResult, float]:
    """Correlation of cosine similarities with human judgements, like gensim:
    returns ``(pearson, spearman, oov_ratio)``; the first two are
    ``(statistic, pvalue)`` tuples, `oov_ratio` is the percentage of pairs
    with a word outside the first `restrict_vocab` words (skipped, or scored 0
    with ``dummy4unknown``)."""
    ok_vocab, _, limit = _case_vocab(kv, restrict_vocab, case_insensitive)
    rows = read_word_pairs(pairs, delimiter, encoding, case_insensitive)
    known = [(ok_vocab[a], ok_vocab[b]) for _, a, b, _ in rows if a in ok_vocab and b in ok_vocab]
    model = np.zeros(len(known), dtype=np.float64)
    if known:
        normed = kv.get_normed_vectors()[:limit]
        left, right = np.array(known, dtype=np.int64).T
        model = np.einsum("ij,ij->i", normed[left], normed[right], dtype=np.float64)
    gold, predicted, oov, position = [], [], 0, 0
    for _, a, b, score in rows:
        if a in ok_vocab and b in ok_vocab:
            gold.append(score)
            predicted.append(model[position])
            position += 1
            continue
        oov += 1
        if dummy4unknown:
            gold.append(score)
            predicted.append(0.0)
    if not gold:
        raise ValueError(f"{os.fspath(pairs)}: no usable word pairs: every line is malformed, a "
                         "comment, or has a word outside the vectors' first "
                         f"{limit} words")
    pearson, spearman = pearsonr(gold, predicted), spearmanr(gold, predicted)
    oov_ratio = 100.0 * oov / (len(gold) if dummy4unknown else len(gold) + oov)
    logger.info("Pearson %.4f, Spearman %.4f against %s; pairs with unknown words: %.1f%%",
                pearson[0], spearman[0], os.fspath(pairs), oov_ratio)
    return pearson, spearman, oov_ratio
