"""Ratings a pianist can read: each dimension with its poles and group, the rating on the raters'
1-7 scale and as a percentile of PercePiano's ratings, its uncertainty, and how accurate the model
is on it (leak-free cross-validation). Also the verdict on what changed between two recordings.

Uncertainty, from the model's metadata (pianokit.calibration, measured on held-out folds):
``interval_80``: the rating +- the 80% quantile of held-out |error|; ``ensemble_sd``: how much the
ensemble's members disagree on this recording (it does not include the error they share).
"""

from __future__ import annotations

import math

import numpy as np

from pianokit.dimensions import GROUP_TITLES, group_of, poles, to_rater_scale
from pianokit.reference import percentile

SCALE = 7.0
CHANGE_Z = 1.645  # a change is reported when it exceeds this many standard errors of a difference (90%)


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def dimension_rows(rating, scorer) -> list[dict]:
    """One row per dimension, in PercePiano's order (which groups them), all numbers JSON-safe."""
    cv = scorer.cv_accuracy()
    residuals = (scorer.metadata.cv_metrics or {}).get("residual_quantiles", {})
    spread = rating.spread() or {}
    rows = []
    for dim, value in rating.ratings.items():
        aspect, low, high = poles(dim)
        acc, res = cv.get(dim, {}), residuals.get(dim, {})
        half = res.get("abs_q80")
        rows.append({
            "dimension": dim, "group": GROUP_TITLES.get(group_of(dim), "Other"), "aspect": aspect,
            "low_pole": low, "high_pole": high,
            "rating": _r(value, 4), "rating_1_to_7": _r(to_rater_scale(value)),
            "percentile": _r(percentile(dim, value), 1),
            "interval_80_1_to_7": None if half is None else [_r(max(1 / SCALE, value - half) * SCALE),
                                                             _r(min(1.0, value + half) * SCALE)],
            "ensemble_sd_1_to_7": _r(spread[dim] * SCALE) if dim in spread else None,
            "cv_r2": _r(acc.get("r2")), "cv_r": _r(acc.get("r")), "cv_within_passage_r": _r(acc.get("within_r")),
        })
    return rows


def leaning(row: dict) -> str:
    """Plain words for where a rating sits: 'clearly stable', 'somewhat unstable', 'in between'."""
    value = row["rating_1_to_7"]
    if value is None:
        return "-"
    side = row["low_pole"] if value < 4 else row["high_pole"]
    distance = abs(value - 4)
    return "in between" if distance < 0.5 else f"{'somewhat' if distance < 1.5 else 'clearly'} {side}"


def difference_rows(a, b, scorer) -> list[dict]:
    """Per dimension, B minus A on the 1-7 scale, its standard error and the verdict. The standard
    error of a difference between two recordings of the same music is sqrt(2) x the held-out
    within-passage residual SD (the model's shared bias for a passage cancels); a model without that
    calibration falls back on its ensemble spread, and one without either judges nothing."""
    residuals = (scorer.metadata.cv_metrics or {}).get("residual_quantiles", {})
    spread_a, spread_b = a.spread() or {}, b.spread() or {}
    rows = []
    for dim in a.ratings:
        aspect, low, high = poles(dim)
        delta = (b.ratings[dim] - a.ratings[dim]) * SCALE
        if "within_passage_sd" in residuals.get(dim, {}):
            se, basis = math.sqrt(2) * residuals[dim]["within_passage_sd"] * SCALE, "held-out error"
        elif dim in spread_a and dim in spread_b:
            se, basis = math.hypot(spread_a[dim], spread_b[dim]) * SCALE, "ensemble spread"
        else:
            se, basis = None, "none"
        changed = se is not None and abs(delta) > CHANGE_Z * se
        towards = high if delta > 0 else low
        rows.append({
            "dimension": dim, "group": GROUP_TITLES.get(group_of(dim), "Other"), "aspect": aspect,
            "low_pole": low, "high_pole": high,
            "a_1_to_7": _r(to_rater_scale(a.ratings[dim])), "b_1_to_7": _r(to_rater_scale(b.ratings[dim])),
            "change_1_to_7": _r(delta), "standard_error_1_to_7": _r(se), "uncertainty_from": basis,
            "changed": bool(changed),
            "verdict": (f"more {towards}" if changed else "no clear change") if se is not None else "not judged",
        })
    return rows


def summary_of_changes(rows: list[dict]) -> str:
    """One sentence for a teacher: what changed beyond the uncertainty."""
    changed = [r for r in rows if r["changed"]]
    if not changed:
        judged = any(r["uncertainty_from"] != "none" for r in rows)
        return ("No dimension changed by more than the model's uncertainty." if judged
                else "The model carries no uncertainty, so no change is judged.")
    parts = [f"{r['aspect']} ({r['verdict']}, {r['change_1_to_7']:+.1f})" for r in
             sorted(changed, key=lambda r: -abs(r["change_1_to_7"]))]
    return f"B differs from A beyond the uncertainty in {len(changed)} of {len(rows)} dimensions: " + "; ".join(parts) + "."


def group_means(rows: list[dict], key: str = "rating_1_to_7") -> dict[str, float]:
    """Mean of ``key`` per group, in order (for charts)."""
    out: dict[str, list[float]] = {}
    for row in rows:
        if row[key] is not None:
            out.setdefault(row["group"], []).append(row[key])
    return {g: float(np.mean(v)) for g, v in out.items()}
