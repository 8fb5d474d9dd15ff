"""Per-dimension R² and MAE (sklearn), Pearson r, and their means over dimensions."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pearson correlation per column; 0 where either side is constant."""
    t = y_true - y_true.mean(axis=0)
    p = y_pred - y_pred.mean(axis=0)
    denom = np.sqrt((t**2).sum(axis=0) * (p**2).sum(axis=0))
    return np.where(denom > 0, (t * p).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)


def evaluate(y_true: np.ndarray, y_pred: np.ndarray, names) -> dict:
    """{'per_dimension': {name: {r2, r, mae}}, 'mean': {r2, r, mae}} for 2-D arrays (n, dims)."""
    scores = {
        "r2": r2_score(y_true, y_pred, multioutput="raw_values"),
        "r": pearson(y_true, y_pred),
        "mae": mean_absolute_error(y_true, y_pred, multioutput="raw_values"),
    }
    return {
        "per_dimension": {n: {k: float(v[i]) for k, v in scores.items()} for i, n in enumerate(names)},
        "mean": {k: float(np.mean(v)) for k, v in scores.items()},
    }
