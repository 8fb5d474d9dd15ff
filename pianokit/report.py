"""Render scorer results as a table, JSON or CSV (schema: docs/output.md), the comparison of two
recordings, and the per-window timeline CSV. Imports no plotting or training package."""

from __future__ import annotations

import csv
import io
import json
import os
import textwrap

from pianokit.atomic import write_text
from pianokit.explain import difference_rows, dimension_rows, leaning, summary_of_changes

SCHEMA = "pianokit-ratings/2"
CSV_FIELDS = ("file", "duration_s", "windows", "group", "dimension", "aspect", "low_pole", "high_pole", "rating",
              "rating_1_to_7", "percentile", "interval_80_low", "interval_80_high", "ensemble_sd_1_to_7", "cv_r2",
              "cv_r", "cv_within_passage_r", "warnings")
COMPARE_FIELDS = ("a", "b", "group", "dimension", "aspect", "low_pole", "high_pole", "a_1_to_7", "b_1_to_7",
                  "change_1_to_7", "standard_error_1_to_7", "uncertainty_from", "changed", "verdict")
FOOTNOTE = ("1-7: the raters' scale (1 = left pole, 7 = right pole); pct: percentile among PercePiano's 1189 "
            "rated segments; 80%: the range the experts' rating falls in 8 times out of 10 for held-out "
            "passages; +-: ensemble disagreement; r / wp r: cross-validated accuracy on held-out passages "
            "(wp r: ranking performances of the same music; near 0 = do not rely on it).")


def _csv(rows: list[dict], fields) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def model_facts(scorer) -> dict:
    meta = scorer.metadata
    cv = meta.cv_metrics or {}
    return {"name": meta.name, "architecture": meta.architecture, "provider": scorer.provider,
            "members": int(meta.extra.get("training", {}).get("ensemble", 1) or 1),
            "cv_split": cv.get("split"), "cv_folds": cv.get("folds"), "cv_protocol": cv.get("protocol"),
            "cv_mean": cv.get("mean"), "cv_within_passage_mean": cv.get("within_passage_mean"),
            "noise_floor_db": meta.feature_config.noise_floor_db}


def recording_json(rating, scorer) -> dict:
    rows = dimension_rows(rating, scorer)
    return {"file": rating.path, "duration_s": round(rating.duration_s, 3), "windows": len(rating.window_starts_s),
            "warnings": rating.warnings, "dimensions": rows,
            "ratings": {r["dimension"]: r["rating"] for r in rows},
            "ratings_1_to_7": {r["dimension"]: r["rating_1_to_7"] for r in rows}}


def comparison_json(a, b, scorer) -> dict:
    rows = difference_rows(a, b, scorer)
    return {"a": a.path, "b": b.path, "summary": summary_of_changes(rows), "dimensions": rows}


def render_ratings(results, scorer, fmt: str, compare: bool = False) -> str:
    """All recordings' ratings in ``fmt``; with ``compare`` (two recordings), what changed from the
    first to the second."""
    pair = (results[0], results[1]) if compare else None
    if fmt == "json":
        payload = {"schema": SCHEMA, "model": model_facts(scorer),
                   "recordings": [recording_json(r, scorer) for r in results]}
        if pair:
            payload["comparison"] = comparison_json(*pair, scorer)
        return json.dumps(payload, indent=2, allow_nan=False)
    if fmt == "csv":
        if pair:
            rows = [{"a": pair[0].path, "b": pair[1].path, **row} for row in difference_rows(*pair, scorer)]
            return _csv(rows, COMPARE_FIELDS).rstrip("\n")
        rows = []
        for r in results:
            for row in dimension_rows(r, scorer):
                low, high = row["interval_80_1_to_7"] or (None, None)
                rows.append({"file": r.path, "duration_s": round(r.duration_s, 3), "windows": len(r.window_starts_s),
                             **row, "interval_80_low": low, "interval_80_high": high,
                             "warnings": "; ".join(r.warnings)})
        return _csv(rows, CSV_FIELDS).rstrip("\n")
    text = "\n".join(_table(r, scorer) for r in results) + "\n" + textwrap.fill(FOOTNOTE, 100)
    return text + ("\n\n" + _comparison_table(*pair, scorer) if pair else "")


def _bar(value: float | None, width: int = 11) -> str:
    if value is None:
        return " " * width
    pos = min(width - 1, max(0, round((value - 1) / 6 * (width - 1))))
    return "".join("o" if i == pos else "-" for i in range(width))


def _num(value, fmt: str, width: int) -> str:
    return f"{value:{width}{fmt}}" if value is not None else f"{'-':>{width}}"


def _table(rating, scorer) -> str:
    out = io.StringIO()
    out.write(f"{rating.path}  ({rating.duration_s:.1f} s, {len(rating.window_starts_s)} window(s))\n")
    for warning in rating.warnings:
        out.write(f"  warning: {warning}\n")
    out.write(f"  {'1 means':>25} {'':11} {'7 means':25} {'1-7':>4} {'pct':>4} {'80%':>9} {'+-':>4} {'r':>5} "
              f"{'wp r':>5}  reading\n")
    group = None
    for row in dimension_rows(rating, scorer):
        if row["group"] != group:
            group = row["group"]
            out.write(f"  {group}\n")
        interval = row["interval_80_1_to_7"]
        span = f"{interval[0]:.1f}-{interval[1]:.1f}" if interval else "-"
        out.write(f"  {row['low_pole'][:25]:>25} {_bar(row['rating_1_to_7'])} {row['high_pole'][:25]:25} "
                  f"{_num(row['rating_1_to_7'], '.1f', 4)} {_num(row['percentile'], '.0f', 4)} {span:>9} "
                  f"{_num(row['ensemble_sd_1_to_7'], '.1f', 4)} {_num(row['cv_r'], '.2f', 5)} "
                  f"{_num(row['cv_within_passage_r'], '.2f', 5)}  {leaning(row)}\n")
    return out.getvalue()


def _comparison_table(a, b, scorer) -> str:
    rows = difference_rows(a, b, scorer)
    out = io.StringIO()
    out.write(f"A: {a.path}\nB: {b.path}\n")
    out.write(f"  {'dimension (1 means - 7 means)':58} {'A':>4} {'B':>4} {'B-A':>5} {'+-':>4}  verdict\n")
    for row in rows:
        se = row["standard_error_1_to_7"]
        label = f"{row['aspect']}: {row['low_pole']} - {row['high_pole']}"
        out.write(f"  {label[:58]:58} {row['a_1_to_7']:4.1f} {row['b_1_to_7']:4.1f} "
                  f"{row['change_1_to_7']:+5.1f} {_num(se, '.1f', 4)}  {row['verdict']}\n")
    out.write(summary_of_changes(rows) + "\n" + textwrap.fill(
        "(+-: standard error of the change on the 1-7 scale, from the model's held-out errors between performances "
        "of the same passage; a change counts when it exceeds 1.645 of them.)", 100))
    return out.getvalue()


def timeline_rows(results, dimensions) -> list[dict]:
    return [{"file": r.path, "window": k, "start_s": start, "end_s": end,
             **{d: round(float(v), 4) for d, v in zip(dimensions, values.tolist())}}
            for r in results
            for k, (start, end, values) in enumerate(zip(r.window_starts_s, r.window_ends_s, r.window_ratings))]


def write_timeline(results, dimensions, path: str | os.PathLike) -> None:
    """Per-window ratings (0-1) with each window's start and end in seconds, as CSV."""
    write_text(path, _csv(timeline_rows(results, dimensions), ("file", "window", "start_s", "end_s", *dimensions)))
