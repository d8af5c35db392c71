"""Pictures of a run: training curves, a 2-D map of words, an evaluation chart.

matplotlib is an optional dependency (``pip install "embforge[plot]"``); it
is imported when a function here is called. Figures are drawn on their own
Agg canvas (no pyplot, no global state: a user's interactive backend and
open figures are left alone). Every function returns the Figure and, given
`path`, writes it as a PNG of `size` pixels (width, height).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._typing import StrPath
from .history import TrainingHistory

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from .keyedvectors import KeyedVectors

__all__ = ["plot_history", "plot_map", "plot_eval", "project_2d"]

DPI = 100
Size = Tuple[int, int]


def _figure(size: Size) -> "Figure":
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plots need matplotlib: pip install 'embforge[plot]' "
                          "(or pip install matplotlib)") from error
    width, height = (int(v) for v in size)
    if width < 100 or height < 100:
        raise ValueError(f"size must be at least 100 x 100 pixels, got {size!r}")
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: "Figure", path: Optional[StrPath]) -> None:
    if path is None:
        return
    from .io.atomic import atomic_write
    with atomic_write(os.fspath(path), "wb") as out:
        figure.savefig(out, format="png", dpi=DPI)  # no bbox="tight": the size is as asked


# ------------------------------------------------------------------ history
def _rows_of(source: Any) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], str]:
    """(epoch rows, points, kind) of a model, a TrainingHistory, a fine-tuning
    result or a list of fine-tuning rows."""
    history = getattr(source, "history", source)
    if isinstance(history, TrainingHistory):
        kind = "glove" if any("cost" in r for r in history.epochs) else "word2vec"
        return history.epochs, history.points, kind
    if isinstance(history, (list, tuple)) and all(isinstance(r, Mapping) for r in history):
        return list(history), [], "finetune"
    raise TypeError(f"cannot draw the history of {type(source).__name__}: pass a trained "
                    "Word2Vec/GloVe model, a TrainingHistory or a fine-tuning result")


def _series(rows: List[Dict[str, Any]], key: str) -> Tuple[List[Any], List[Any]]:
    pairs = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None and "epoch" in r]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_history(source: Any, path: Optional[StrPath] = None, *, size: Size = (1000, 700),
                 title: Optional[str] = None) -> "Figure":
    """Training curves: for Word2Vec the loss per epoch (and within epochs),
    words/s and the learning rate; for GloVe the cost per epoch and pairs/s;
    for fine-tuning the training and validation loss, the validation
    accuracy and perplexity when recorded. One panel per quantity."""
    epochs, points, kind = _rows_of(source)
    if not epochs and not points:
        raise ValueError("nothing to draw: the history is empty (train first)")
    # (epoch row key, label, within-epoch point key or None)
    panel_kinds: Dict[str, List[Tuple[str, str, Optional[str]]]] = {
        # the epoch rows hold the loss summed over the epoch, the points the
        # mean loss per term: other scales, so other panels
        "word2vec": [("loss", "loss (sum over the epoch)", None),
                     ("loss_per_term", "loss per term", "loss"),
                     ("words_per_second", "words/s", "rate"),
                     ("learning_rate", "learning rate", "learning_rate")],
        "glove": [("cost", "cost", "loss"), ("pairs_per_second", "pairs/s", "rate")],
        "finetune": [("train_loss", "training loss", None), ("val_loss", "validation loss", None),
                     ("val_accuracy", "validation accuracy", None),
                     ("val_perplexity", "validation perplexity", None)],
    }
    panels = panel_kinds[kind]
    panels = [p for p in panels if _series(epochs, p[0])[0]
              or (p[2] and _series(points, p[2])[0])]
    if not panels:
        raise ValueError("nothing to draw: no recorded quantity has a value")
    figure = _figure(size)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (key, label, point_key) in zip(axes, panels):
        if point_key:
            x, y = _series(points, point_key)
            if x:
                ax.plot(x, y, color="0.6", linewidth=1, label="within epochs")
        x, y = _series(epochs, key)
        if x:
            ax.plot(x, y, marker="o", linewidth=2, label="per epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if len(ax.lines) > 1:
            ax.legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("epoch")
    figure.suptitle(title or {"word2vec": "Word2Vec training", "glove": "GloVe training",
                              "finetune": "fine-tuning"}[kind])
    figure.tight_layout()
    _save(figure, path)
    return figure


# ------------------------------------------------------------------ word map
def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Rows of `vectors` in 2-D: PCA with numpy (default), or t-SNE
    (scikit-learn) or UMAP (umap-learn) when installed."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or len(vectors) < 2:
        raise ValueError(f"need at least 2 vectors to project, got shape {vectors.shape}")
    if method == "pca":
        centred = vectors - vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        components = vt[:2]
        # a fixed sign per axis, so the same vectors always give the same picture
        signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
        out = centred @ (components * signs[:, None]).T
        return out if out.shape[1] == 2 else np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as error:
            raise ValueError("method='tsne' needs scikit-learn (pip install scikit-learn)") from error
        layout: np.ndarray = TSNE(n_components=2, random_state=seed,
                                  perplexity=min(30.0, (len(vectors) - 1) / 3)).fit_transform(vectors)
        return layout
    if method == "umap":
        try:
            import umap
        except ImportError as error:
            raise ValueError("method='umap' needs umap-learn (pip install umap-learn)") from error
        layout = umap.UMAP(n_components=2, random_state=seed).fit_transform(vectors)
        return layout
    raise ValueError(f"method must be 'pca', 'tsne' or 'umap', got {method!r}")


def plot_map(kv: "KeyedVectors", words: Sequence[str] = (), path: Optional[StrPath] = None, *,
             groups: Optional[Sequence[str]] = None, neighbours_of: Optional[str] = None,
             topn: int = 10, method: str = "pca", size: Size = (900, 900),
             title: Optional[str] = None, seed: int = 0) -> "Figure":
    """A labelled 2-D map of `words` (PCA by default; see project_2d),
    coloured by `groups` (one label per word) when given; with
    `neighbours_of`, that word and its `topn` nearest neighbours are added
    and drawn around it (a line to each). A word not in `kv` is a KeyError
    naming it."""
    words = list(words)
    if groups is not None and len(groups) != len(words):
        raise ValueError(f"groups must give one label per word: {len(groups)} labels for "
                         f"{len(words)} words")
    labels = list(groups) if groups is not None else [None] * len(words)
    if neighbours_of is not None:
        near = [w for w, _ in kv.most_similar(neighbours_of, topn=int(topn))]
        if groups is None:
            labels = ["chosen"] * len(words)
        for word, label in ([(neighbours_of, neighbours_of)]
                            + [(w, f"near {neighbours_of}") for w in near]):
            if word not in words:
                words.append(word)
                labels.append(label)
    missing = [w for w in words if w not in kv]
    if missing:
        raise KeyError(f"not in the vocabulary: {', '.join(map(repr, missing[:10]))}")
    if len(words) < 2:
        raise ValueError("give at least 2 words to draw (or neighbours_of=)")
    xy = project_2d(np.stack([np.asarray(kv[w], dtype=np.float64) for w in words]), method, seed)
    figure = _figure(size)
    ax = figure.add_subplot(1, 1, 1)
    names = [l for l in dict.fromkeys(labels) if l is not None]
    if names:
        for name in names:
            mine = [i for i, l in enumerate(labels) if l == name]
            ax.scatter(xy[mine, 0], xy[mine, 1], label=str(name), s=30)
        ax.legend(loc="best", fontsize="small")
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=30)
    for (x, y), word in zip(xy, words):
        ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=9)
    if neighbours_of is not None:
        centre = xy[words.index(neighbours_of)]
        for word in near:
            x, y = xy[words.index(word)]
            ax.plot([centre[0], x], [centre[1], y], color="0.75", linewidth=0.8, zorder=0)
    ax.set_title(title or f"{len(words)} words ({method.upper()})")
    ax.set_xticks([])
    ax.set_yticks([])
    figure.tight_layout()
    _save(figure, path)
    return figure


# ------------------------------------------------------------------ evaluation
def plot_eval(results: Mapping[str, Mapping[str, float]], path: Optional[StrPath] = None, *,
              size: Size = (1000, 600), title: Optional[str] = None) -> "Figure":
    """A grouped bar chart: one group per benchmark (e.g. analogy,
    WordSim-353, SimLex-999), one bar per vector file (the keys of `results`,
    each a {benchmark: score} mapping), scores written on the bars."""
    if not results:
        raise ValueError("no results to draw")
    names = list(results)
    benchmarks = list(dict.fromkeys(b for scores in results.values() for b in scores))
    if not benchmarks:
        raise ValueError("the results hold no score")
    figure = _figure(size)
    ax = figure.add_subplot(1, 1, 1)
    width = 0.8 / len(names)
    positions = np.arange(len(benchmarks))
    for k, name in enumerate(names):
        values = [results[name].get(b, np.nan) for b in benchmarks]
        bars = ax.bar(positions + (k - (len(names) - 1) / 2) * width, values, width, label=name)
        ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    ax.set_xticks(positions, benchmarks)
    ax.set_ylabel("score")
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title or "evaluation")
    figure.tight_layout()
    _save(figure, path)
    return figure
