"""Render scorer results as a table, JSON or CSV, and write the per-window timeline."""

from __future__ import annotations

import csv
import io
import json
import os

from pianokit.atomic import write_text
from pianokit.dimensions import to_rater_scale


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _fmt(value):
    return f"{value:.4f}" if isinstance(value, float) else value


def render_ratings(results, scorer, fmt: str) -> str:
    cv = scorer.cv_accuracy()
    if fmt == "csv":
        rows = [{"file": r.path, "duration_s": round(r.duration_s, 2), "windows": len(r.window_starts_s),
                 **{d: _fmt(v) for d, v in r.ratings.items()}, "warnings": "; ".join(r.warnings)} for r in results]
        return _csv(rows).rstrip("\n")
    if fmt == "json":
        return json.dumps({
            "model": {"name": scorer.meta["name"], "architecture": scorer.meta["architecture"],
                      "provider": scorer.provider},
            "recordings": [{
                "file": r.path, "duration_s": round(r.duration_s, 3), "windows": len(r.window_starts_s),
                "warnings": r.warnings,
                "ratings": {d: round(v, 4) for d, v in r.ratings.items()},
                "ratings_1_to_7": {d: round(to_rater_scale(v), 3) for d, v in r.ratings.items()},
                "cv_r2": {d: round(cv[d]["r2"], 3) for d in r.ratings if d in cv},
                "cv_within_passage_r": {d: round(cv[d]["within_r"], 3) for d in r.ratings
                                        if "within_r" in cv.get(d, {})},
            } for r in results],
        }, indent=2, allow_nan=False)
    out = io.StringIO()
    for r in results:
        out.write(f"{r.path}  ({r.duration_s:.1f} s, {len(r.window_starts_s)} window(s))\n")
        for warning in r.warnings:
            out.write(f"  warning: {warning}\n")
        out.write(f"  {'dimension':42} {'0-1':>6} {'1-7':>5} {'CV R2':>6} {'CV r':>5} {'wp r':>5}\n")
        for d, v in r.ratings.items():
            acc = cv.get(d, {})
            trust = " ".join(f"{acc[k]:{w}.2f}" if k in acc else f"{'-':>{w}}"
                             for k, w in (("r2", 6), ("r", 5), ("within_r", 5)))
            out.write(f"  {d:42} {v:6.3f} {to_rater_scale(v):5.2f} {trust}\n")
    out.write("CV R2 / r: cross-validated accuracy on held-out PercePiano passages (leak-free folds; R2 near 0 "
              "means the rating is not reliable). wp r: within-passage r, how well the model ranks different "
              "performances of the same music.")
    return out.getvalue()


def write_timeline(results, dimensions, path: str | os.PathLike) -> None:
    rows = [
        {"file": r.path, "start_s": start, **{d: _fmt(v) for d, v in zip(dimensions, values.tolist())}}
        for r in results
        for start, values in zip(r.window_starts_s, r.window_ratings)
    ]
    write_text(path, _csv(rows))
