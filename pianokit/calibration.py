"""How far held-out predictions fall from the experts' ratings: the honest uncertainty of a rating.

From the run's cross-validated predictions (every segment predicted by a model that never saw its
passage group), per dimension:

- ``abs_q50`` / ``abs_q80`` / ``abs_q90``: quantiles of |prediction - rating|; an 80% interval for a new
  recording's rating is the prediction +- abs_q80 (on the 0-1 scale);
- ``within_passage_sd``: the standard deviation of the residual after removing each passage's mean
  residual: the error left when two recordings of the same passage are compared (a passage's shared
  bias cancels), so the difference of two such ratings has a standard error of sqrt(2) times it.
"""

from __future__ import annotations

import numpy as np


def residual_summary(predictions) -> dict[str, dict[str, float]]:
    """{dimension: {abs_q50, abs_q80, abs_q90, within_passage_sd, n}} from a predictions table with
    pred_<dim>, true_<dim> and passage columns (run_folder.read_predictions); {} when it is empty."""
    if not len(predictions):
        return {}
    out = {}
    dims = [c[len("pred_"):] for c in predictions.columns if c.startswith("pred_")]
    for dim in dims:
        if f"true_{dim}" not in predictions:
            continue
        residual = predictions[f"pred_{dim}"] - predictions[f"true_{dim}"]
        keep = residual.notna()
        residual, passage = residual[keep], predictions.loc[keep, "passage"]
        if len(residual) < 2:
            continue
        within = residual - residual.groupby(passage).transform("mean")
        sizes = passage.map(passage.value_counts())
        within = within[sizes > 1]
        dof = max(1, len(within) - passage[sizes > 1].nunique())
        q50, q80, q90 = np.quantile(np.abs(residual), [0.5, 0.8, 0.9])
        out[dim] = {"abs_q50": float(q50), "abs_q80": float(q80), "abs_q90": float(q90),
                    "within_passage_sd": float(np.sqrt(np.sum(within**2) / dof)) if len(within) else float("nan"),
                    "n": int(len(residual))}
    return {d: v for d, v in out.items() if all(np.isfinite(x) for x in v.values())}
