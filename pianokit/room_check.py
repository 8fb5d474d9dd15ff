"""A room check: does a recording sound like it was made in a reverberant room?

Rooms are the recording condition that moves the ratings most among those the model trained on
(docs/results.md, Robustness: 0.8-2 s of reverberation moves them by about 0.3 of the spread between
players of one passage, pedal, timbre and dynamics most). The training store knows each augmented
recording's room (its recipe's RT60, pianokit.conditions), so a logistic regression on the model's
own features, fitted on the rows the model trained on, tells rooms of more than ROOM_RT60_S seconds
from the rest. ``pianokit export`` fits it and writes it into the model's metadata; the scorer
applies it to each segment's features (numpy only) and warns when the duration-weighted probability
reaches WARN_PROBABILITY. bench/room_check.py measures how often it fires, by room and condition.
"""

from __future__ import annotations

import json

import numpy as np

ROOM_RT60_S = 0.6
WARN_PROBABILITY = 0.5
MIN_ROWS_PER_CLASS = 20
PENALTY_C = 1.0


def rt60_of(recipe) -> float:
    """The RT60 of an augmentation recipe (manifest column ``augmentation``, JSON); 0 without a room."""
    if not isinstance(recipe, str) or not recipe.strip():
        return 0.0
    try:
        value = json.loads(recipe).get("rt60")
    except (ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, int | float) else 0.0


def fit(features: np.ndarray, rt60: np.ndarray, names: list[str]) -> dict | None:
    """The check fitted on rows of ``features`` (columns ``names``) with their rooms' ``rt60`` (0: dry);
    None when there are fewer than MIN_ROWS_PER_CLASS rows on either side of ROOM_RT60_S."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, dtype=np.float64)
    room = np.asarray(rt60, dtype=np.float64) >= ROOM_RT60_S
    if min(room.sum(), (~room).sum()) < MIN_ROWS_PER_CLASS:
        return None
    mean = np.nanmean(x, axis=0)
    scale = np.nanstd(x, axis=0)
    mean, scale = np.nan_to_num(mean), np.where(np.nan_to_num(scale) > 1e-12, np.nan_to_num(scale), 1.0)
    model = LogisticRegression(C=PENALTY_C, max_iter=5000).fit(_standardised(x, mean, scale), room)
    return {"rt60_s": ROOM_RT60_S, "warn_probability": WARN_PROBABILITY, "features": list(names),
            "mean": mean.tolist(), "scale": scale.tolist(), "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0]), "rows": int(len(room)), "room_rows": int(room.sum())}


def _standardised(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standard scores; a missing feature counts as the training mean."""
    return np.nan_to_num((x - mean) / scale)


def probability(check: dict, features: np.ndarray) -> np.ndarray:
    """P(room over the check's RT60) for each row of ``features`` (columns in ``check['features']`` order)."""
    z = _standardised(np.atleast_2d(np.asarray(features, dtype=np.float64)), np.asarray(check["mean"]),
                      np.asarray(check["scale"]))
    logit = z @ np.asarray(check["coef"]) + float(check["intercept"])
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60)))


def valid(check, names) -> bool:
    """``check`` is a fitted room check (finite numbers, not booleans; one mean, scale > 0 and
    coefficient per feature) whose features are all among ``names``."""
    def number(v) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool) and bool(np.isfinite(v))

    if not isinstance(check, dict) or not isinstance(check.get("features"), list) or not check["features"]:
        return False
    n = len(check["features"])
    parts = [check.get(k) for k in ("mean", "scale", "coef")]
    if not all(isinstance(p, list) and len(p) == n and all(number(v) for v in p) for p in parts):
        return False
    return (all(number(check.get(k)) for k in ("intercept", "rt60_s"))
            and number(check.get("warn_probability", WARN_PROBABILITY))
            and all(v > 0 for v in check["scale"]) and set(check["features"]) <= set(names))


def warning(p: float, check: dict) -> str | None:
    """The scorer's warning for a recording whose room probability is ``p`` (None below the limit)."""
    if p < float(check.get("warn_probability", WARN_PROBABILITY)):
        return None
    return (f"reverberant room: sounds like a room with more than {check['rt60_s']:g} s of reverberation (room "
            f"check {p:.2f}); pedal, timbre and dynamics ratings move in such rooms (for the shipped model by "
            "about 0.3 of the spread between players of one passage)")
