"""Per-kind latency predictors, fitted in log space, with their cross-validated error.

A kind's predictor has two parts:

* a **base**: time = sum_j c_j * term_j with every c_j >= 0 (non-negative least squares on relative
  error). The terms are physical (a constant for the per-call overhead, FLOPs, elements read and
  written), so the base extrapolates the way hardware does: linearly in work, never negative.
* a **correction**: small gradient-boosted regression trees on log-shape features, fitted to
  log(time / base). It bends the base where a kernel's efficiency changes with shape (few channels
  per group, tiny spatial sizes, cache-sized working sets). Outside the sampled range it stays at its
  edge values, so the base alone decides how a prediction grows there.

Everything is numpy; no scikit-learn. Cross-validation is k-fold over the samples of one kind and
reports the out-of-fold relative errors that calibration uses to decide where to sample next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

TREES = 300
# Trees of depth 5 rather than 3: a kernel's efficiency turns on combinations of sizes (oneDNN's grouped
# convs: groups x width per group x pixels). Refitted on the same samples (2026-11-29), the 5-fold error fell
# from 12.4% to 8.9% (grouped oneDNN convs), 12.9% to 7.5% (reductions), 3.7% to 2.5% (max pools) and
# 2.9% to 2.2% (copies), and stayed within 0.1 point for the simple kinds; on subsets of 60-400 samples
# depth 5 was no worse on average (the short default budget).
DEPTH = 5
LEARNING_RATE = 0.15
MIN_LEAF = 3
MIN_SAMPLES_FOR_TREES = 12


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int = 200) -> np.ndarray:
    """Lawson-Hanson non-negative least squares: argmin ||a x - b|| subject to x >= 0."""
    n = a.shape[1]
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    gradient = a.T @ (b - a @ x)
    for _ in range(max_iter):
        if passive.all() or gradient[~passive].max(initial=-np.inf) <= 1e-12 * max(1.0, float(np.abs(gradient).max())):
            break
        j = int(np.argmax(np.where(passive, -np.inf, gradient)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            negative = passive & (z <= 0)
            alpha = np.min(x[negative] / (x[negative] - z[negative]))
            x = x + alpha * (z - x)
            passive &= x > 1e-15
            x[~passive] = 0.0
        gradient = a.T @ (b - a @ x)
    return x


def _scale(terms: np.ndarray) -> np.ndarray:
    """Column scales that bring every term to ~1, so that NNLS is well conditioned."""
    scale = np.abs(terms).max(axis=0)
    return np.where(scale > 0, scale, 1.0)


def fit_base(terms: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Non-negative coefficients of ``terms`` minimising the squared *relative* error of the time."""
    scale = _scale(terms)
    a = terms / scale / seconds[:, None]
    coef = nnls(a, np.ones(len(seconds))) / scale
    if not np.any(coef > 0):  # degenerate data: fall back to the mean time as a constant
        coef = np.zeros(terms.shape[1])
        coef[0] = float(np.exp(np.mean(np.log(seconds))))
    return coef


# -- regression trees ----------------------------------------------------------------------------

@dataclass
class Tree:
    """A binary regression tree in flat arrays: node i splits on feature[i] <= threshold[i]; leaves have
    feature -1 and a value."""

    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)

    def predict(self, x: np.ndarray) -> np.ndarray:
        feature, threshold = np.asarray(self.feature), np.asarray(self.threshold)
        left, right = np.asarray(self.left), np.asarray(self.right)
        node = np.zeros(len(x), dtype=int)
        while True:
            f = feature[node]
            rows = np.nonzero(f >= 0)[0]
            if not len(rows):
                return np.asarray(self.value)[node]
            here = node[rows]
            go_left = x[rows, f[rows]] <= threshold[here]
            node[rows] = np.where(go_left, left[here], right[here])

    def to_dict(self) -> dict[str, list]:
        return {"feature": self.feature, "threshold": [round(t, 4) for t in self.threshold], "left": self.left,
                "right": self.right, "value": [round(v, 5) for v in self.value]}

    @classmethod
    def from_dict(cls, data: dict[str, list]) -> "Tree":
        return cls(list(data["feature"]), list(data["threshold"]), list(data["left"]), list(data["right"]),
                   list(data["value"]))


def _best_split(x: np.ndarray, y: np.ndarray, min_leaf: int) -> tuple[int, float, float] | None:
    """(feature, threshold, gain) of the split that most reduces the squared error, or None."""
    n = len(y)
    best: tuple[int, float, float] | None = None
    total, total_sq = y.sum(), (y * y).sum()
    base = total_sq - total * total / n
    for f in range(x.shape[1]):
        order = np.argsort(x[:, f], kind="stable")
        xs, ys = x[order, f], y[order]
        left_sum = np.cumsum(ys)[:-1]
        counts = np.arange(1, n)
        right_sum = total - left_sum
        sse = total_sq - left_sum**2 / counts - right_sum**2 / (n - counts)
        valid = (counts >= min_leaf) & (n - counts >= min_leaf) & (xs[:-1] < xs[1:])
        if not valid.any():
            continue
        sse = np.where(valid, sse, np.inf)
        i = int(np.argmin(sse))
        gain = base - sse[i]
        if gain > 1e-12 and (best is None or gain > best[2]):
            best = (f, float((xs[i] + xs[i + 1]) / 2), float(gain))
    return best


def grow_tree(x: np.ndarray, y: np.ndarray, depth: int = DEPTH, min_leaf: int = MIN_LEAF) -> Tree:
    tree = Tree()

    def grow(rows: np.ndarray, level: int) -> int:
        node = len(tree.feature)
        tree.feature.append(-1)
        tree.threshold.append(0.0)
        tree.left.append(-1)
        tree.right.append(-1)
        tree.value.append(float(y[rows].mean()))
        if level < depth and len(rows) >= 2 * min_leaf:
            split = _best_split(x[rows], y[rows], min_leaf)
            if split is not None:
                f, threshold, _ = split
                go_left = x[rows, f] <= threshold
                tree.feature[node], tree.threshold[node] = f, threshold
                tree.left[node] = grow(rows[go_left], level + 1)
                tree.right[node] = grow(rows[~go_left], level + 1)
        return node

    grow(np.arange(len(y)), 0)
    return tree


# -- a kind's predictor ----------------------------------------------------------------------------

@dataclass
class KindFit:
    """Base coefficients (seconds per unit of each term) and the boosted log-space correction."""

    coef: list[float]
    trees: list[Tree] = field(default_factory=list)
    learning_rate: float = LEARNING_RATE
    feature_low: list[float] = field(default_factory=list)  # the sampled range of each feature
    feature_high: list[float] = field(default_factory=list)

    def base(self, terms: np.ndarray) -> np.ndarray:
        floor = max(self.coef[0], 1e-9) if self.coef else 1e-9
        return np.maximum(terms @ np.asarray(self.coef), floor)

    def correction(self, features: np.ndarray) -> np.ndarray:
        out = np.zeros(len(features))
        for tree in self.trees:
            out += self.learning_rate * tree.predict(features)
        return out

    def predict(self, terms: Sequence[Sequence[float]], features: Sequence[Sequence[float]]) -> np.ndarray:
        """Seconds per call for each row of ``terms`` / ``features``."""
        t = np.asarray(terms, dtype=float).reshape(len(terms), -1)
        f = np.asarray(features, dtype=float).reshape(len(features), -1)
        return self.base(t) * np.exp(self.correction(f))

    def in_range(self, features: Sequence[float]) -> bool:
        """True when every feature lies within the sampled range (an interpolation, not an extrapolation)."""
        return all(lo <= v <= hi for v, lo, hi in zip(features, self.feature_low, self.feature_high))

    def to_dict(self) -> dict[str, Any]:
        return {"coef": [float(f"{c:.6g}") for c in self.coef], "learning_rate": self.learning_rate,
                "feature_low": self.feature_low, "feature_high": self.feature_high,
                "trees": [t.to_dict() for t in self.trees]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KindFit":
        return cls([float(c) for c in data["coef"]], [Tree.from_dict(t) for t in data.get("trees", [])],
                   float(data.get("learning_rate", LEARNING_RATE)), list(data.get("feature_low", [])),
                   list(data.get("feature_high", [])))


def fit_kind(terms: Sequence[Sequence[float]], features: Sequence[Sequence[float]], seconds: Sequence[float], *,
             trees: int = TREES, depth: int = DEPTH) -> KindFit:
    """Fit one kind's predictor to measured seconds per call."""
    t = np.asarray(terms, dtype=float)
    f = np.asarray(features, dtype=float).reshape(len(t), -1)
    y = np.asarray(seconds, dtype=float)
    if len(y) == 0 or np.any(y <= 0):
        raise ValueError("fit_kind needs positive times")
    coef = fit_base(t, y)
    fit = KindFit([float(c) for c in coef], feature_low=[float(v) for v in f.min(axis=0)],
                  feature_high=[float(v) for v in f.max(axis=0)])
    if len(y) < MIN_SAMPLES_FOR_TREES or f.shape[1] == 0:
        return fit
    residual = np.log(y) - np.log(fit.base(t))
    current = np.zeros(len(y))
    for _ in range(trees):
        tree = grow_tree(f, residual - current, depth)
        step = fit.learning_rate * tree.predict(f)
        if np.abs(step).max() < 1e-5:
            break
        fit.trees.append(tree)
        current += step
    return fit


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold relative errors (predicted / measured - 1) of one kind's predictor."""

    errors: list[float]  # aligned with the samples
    folds: int

    @property
    def median_abs(self) -> float:
        return float(np.median(np.abs(self.errors))) if self.errors else float("nan")

    @property
    def p90_abs(self) -> float:
        return float(np.quantile(np.abs(self.errors), 0.9)) if self.errors else float("nan")

    def within(self, tolerance: float) -> float:
        return float(np.mean(np.abs(self.errors) <= tolerance)) if self.errors else float("nan")

    def summary(self) -> dict[str, float]:
        return {"samples": len(self.errors), "folds": self.folds, "median_abs_error": round(self.median_abs, 4),
                "p90_abs_error": round(self.p90_abs, 4), "within_10pct": round(self.within(0.10), 4)}


def cross_validate(terms: Sequence[Sequence[float]], features: Sequence[Sequence[float]], seconds: Sequence[float], *,
                   folds: int = 5, seed: int = 0, trees: int = TREES) -> CrossValidation:
    t = np.asarray(terms, dtype=float)
    f = np.asarray(features, dtype=float).reshape(len(t), -1)
    y = np.asarray(seconds, dtype=float)
    n = len(y)
    folds = max(2, min(folds, n))
    if n < 4:
        return CrossValidation([], 0)
    assignment = np.random.default_rng(seed).permutation(n) % folds
    predicted = np.empty(n)
    for k in range(folds):
        test = assignment == k
        fit = fit_kind(t[~test], f[~test], y[~test], trees=trees)
        predicted[test] = fit.predict(t[test], f[test])
    return CrossValidation([float(e) for e in predicted / y - 1], folds)


def relative_errors(predicted: Sequence[float], measured: Sequence[float]) -> list[float]:
    return [p / m - 1 for p, m in zip(predicted, measured) if m > 0 and math.isfinite(p)]
