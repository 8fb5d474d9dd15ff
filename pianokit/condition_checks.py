"""Condition checks: does a recording sound like it was made in a reverberant room, or through a phone?

Rooms and a GSM phone are the recording conditions that move the ratings most among those the model
trained on (docs/results.md, Robustness: 0.28-0.31 of the spread between players of one passage).
The training store knows each augmented recording's conditions (its recipe, pianokit.conditions),
so for each condition in CONDITIONS a logistic regression on the model's own features, fitted on
the rows the model trained on, tells recordings made under it from the rest. ``pianokit export``
fits them and writes them into the model's metadata (``condition_checks``); the scorer applies them
to each segment's features (numpy only) and warns when a duration-weighted probability reaches the
check's ``warn_probability``, for recordings that sound like a piano to pianokit.recording_checks
(a steady tone reads to the checks as a long room). bench/condition_checks.py measures how often
each fires.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np

ROOM_RT60_S = 0.6
WARN_PROBABILITY = 0.5
MIN_ROWS_PER_CLASS = 20
PENALTY_C = 1.0


@dataclass(frozen=True)
class Condition:
    """A recording condition told from the training recipes (``label``) and the scorer's warning."""

    definition: str
    label: Callable[[dict], bool]
    warning: str  # formatted with the check's fields and p, its probability


def _rt60(recipe: dict) -> float:
    value = recipe.get("rt60")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


CONDITIONS = {
    "room": Condition(
        f"a room with an RT60 of {ROOM_RT60_S:g} s or more",
        lambda recipe: _rt60(recipe) >= ROOM_RT60_S,
        "reverberant room: sounds like a room with more than {rt60_s:g} s of reverberation (room check {p:.2f}); "
        "pedal, timbre and dynamics ratings move in such rooms (for the shipped model by about 0.3 of the spread "
        "between players of one passage)"),
    "phone": Condition(
        "a phone call: 300-3400 Hz band and the GSM codec",
        lambda recipe: recipe.get("phone") is True,
        "phone channel: sounds like a telephone call (a 300-3400 Hz band through the GSM codec; phone check "
        "{p:.2f}); pedal, articulation and timbre ratings move through such a channel (for the shipped model by "
        "about 0.3 of the spread between players of one passage)"),
}


def recipe_of(text) -> dict:
    """An augmentation recipe (manifest column ``augmentation``, JSON) as a dict; {} for none."""
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        recipe = json.loads(text)
    except ValueError:
        return {}
    return recipe if isinstance(recipe, dict) else {}


def fit(features: np.ndarray, recipes: list[dict], names: list[str]) -> dict[str, dict]:
    """{condition: check} fitted on rows of ``features`` (columns ``names``) recorded under ``recipes``;
    a condition with fewer than MIN_ROWS_PER_CLASS rows under it or without it is left out."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, dtype=np.float64)
    mean, scale = np.nan_to_num(np.nanmean(x, axis=0)), np.nan_to_num(np.nanstd(x, axis=0))
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = _standardised(x, mean, scale)
    checks = {}
    for name, condition in CONDITIONS.items():
        under = np.array([condition.label(r) for r in recipes], dtype=bool)
        if min(under.sum(), (~under).sum()) < MIN_ROWS_PER_CLASS:
            continue
        model = LogisticRegression(C=PENALTY_C, max_iter=5000).fit(z, under)
        checks[name] = {"definition": condition.definition, "warn_probability": WARN_PROBABILITY,
                        "features": list(names), "mean": mean.tolist(), "scale": scale.tolist(),
                        "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]),
                        "rows": int(len(under)), "rows_under": int(under.sum()),
                        **({"rt60_s": ROOM_RT60_S} if name == "room" else {})}
    return checks


def _standardised(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Standard scores; a missing feature counts as the training mean."""
    return np.nan_to_num((x - mean) / scale)


def probability(check: dict, features: np.ndarray) -> np.ndarray:
    """P(recorded under the check's condition) for each row of ``features`` (columns in
    ``check['features']`` order)."""
    z = _standardised(np.atleast_2d(np.asarray(features, dtype=np.float64)), np.asarray(check["mean"]),
                      np.asarray(check["scale"]))
    logit = z @ np.asarray(check["coef"]) + float(check["intercept"])
    return 1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60)))


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and bool(np.isfinite(v))


def valid(checks, names) -> bool:
    """``checks`` maps known conditions to fitted checks (finite numbers, not booleans; one mean,
    scale > 0 and coefficient per feature) whose features are all among ``names``."""
    if not isinstance(checks, dict) or not set(checks) <= set(CONDITIONS):
        return False
    for name, check in checks.items():
        if not isinstance(check, dict) or not isinstance(check.get("features"), list) or not check["features"]:
            return False
        n = len(check["features"])
        parts = [check.get(k) for k in ("mean", "scale", "coef")]
        if not all(isinstance(p, list) and len(p) == n and all(_number(v) for v in p) for p in parts):
            return False
        numbers = ["intercept", "warn_probability"] + (["rt60_s"] if name == "room" else [])
        if not (all(_number(check.get(k)) for k in numbers) and all(v > 0 for v in check["scale"])
                and set(check["features"]) <= set(names)):
            return False
    return True


def warning(name: str, p: float, check: dict) -> str | None:
    """The scorer's warning for a recording whose probability under condition ``name`` is ``p``
    (None below the check's limit)."""
    if p < float(check["warn_probability"]):
        return None
    return CONDITIONS[name].warning.format(p=p, **{k: v for k, v in check.items() if k == "rt60_s"})
