"""Per-dimension R² and MAE (sklearn), Pearson r, their means over dimensions, and the within-passage
variant: the same scores on deviations from each passage's mean over its renditions; means over folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, r2_score

METRICS = ("r2", "r", "mae")


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson correlation per column; 0 where either side is constant."""
    t = y_true - y_true.mean(axis=0)
    p = y_pred - y_pred.mean(axis=0)
    denom = np.sqrt((t**2).sum(axis=0) * (p**2).sum(axis=0))
    return np.where(denom > 0, (t * p).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)


def _scores(y_true: np.ndarray, y_pred: np.ndarray, names) -> dict:
    scores = {
        "r2": r2_score(y_true, y_pred, multioutput="raw_values"),
        "r": pearson(y_true, y_pred),
        "mae": mean_absolute_error(y_true, y_pred, multioutput="raw_values"),
    }
    return {
        "per_dimension": {n: {k: float(v[i]) for k, v in scores.items()} for i, n in enumerate(names)},
        "mean": {k: float(np.mean(v)) for k, v in scores.items()},
    }


def passage_deviations(y_true: np.ndarray, y_pred: np.ndarray, passages) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions minus their passage's mean, over passages with at least two renditions."""
    passages = pd.Series(np.asarray(passages, dtype=str))
    keep = (passages.map(passages.value_counts()) >= 2).to_numpy()
    if keep.sum() < 3:
        return np.empty((0, y_true.shape[1])), np.empty((0, y_true.shape[1]))
    key = passages[keep].to_numpy()

    def centred(y: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(y[keep])
        return (frame - frame.groupby(key).transform("mean")).to_numpy()

    return centred(y_true), centred(y_pred)


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, names, passages=None) -> dict:
    """{'per_dimension': {name: {r2, r, mae}}, 'mean': {r2, r, mae}} for 2-D arrays (n, dims).

    With ``passages`` (one id per row), also 'within_passage': the same scores on deviations from each
    passage's mean (what ranking two performances of the same music depends on), and its row count.
    """
    out = _scores(y_true, y_pred, names)
    if passages is not None:
        t, p = passage_deviations(y_true, y_pred, passages)
        if len(t):
            out["within_passage"] = {**_scores(t, p, names), "n": int(len(t))}
    return out


def _mean_over_folds(evals: list[dict], targets) -> dict:
    """Per-dimension mean over folds, then the mean over dimensions."""
    per_dim = {t: {m: float(np.mean([e["per_dimension"][t][m] for e in evals])) for m in METRICS} for t in targets}
    return {"per_dimension": per_dim, "mean": {m: float(np.mean([per_dim[t][m] for t in targets])) for m in METRICS}}


def aggregate(evals: list[dict], targets) -> dict:
    """Plain and (where measured) within-passage metrics of one predictor over folds (:func:`evaluate` outputs)."""
    out = _mean_over_folds(evals, targets)
    within = [e["within_passage"] for e in evals if "within_passage" in e]
    if within:
        out["within_passage"] = _mean_over_folds(within, targets)
    return out


def headline(scores: dict) -> dict[str, float]:
    """The three figures the tables lead with, from an :func:`evaluate` or :func:`aggregate` output:
    mean R², within-passage R² and within-passage r (NaN where within-passage was not measured)."""
    within = scores.get("within_passage", {}).get("mean", {})
    return {"r2": scores["mean"]["r2"], "within_passage_r2": within.get("r2", float("nan")),
            "within_passage_r": within.get("r", float("nan"))}
