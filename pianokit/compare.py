"""`pianokit compare`: one table and one chart of several runs' per-dimension metrics."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from pianokit.atomic import atomic_path, write_text
from pianokit.baselines import BASELINES
from pianokit.manifest import write_csv_atomic
from pianokit.run_folder import read_metrics, read_predictions
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.safety import own_folder


def protocol(run: Path, metrics: dict) -> dict:
    """How a run was evaluated: split, number of folds, and which segments each fold tested (ids are
    compared without a variant suffix '@...', so a multi-piano run scored on the same renders matches)."""
    ids = read_predictions(run)
    tested = [(int(f), str(i).split("@")[0]) for f, i in zip(ids["fold"], ids["segment_id"])]
    digest = hashlib.sha256(json.dumps(sorted(tested)).encode()).hexdigest()[:10] if tested else "unknown"
    return {"split": metrics.get("split"), "folds": metrics.get("folds"), "test sets": digest}


def compare_runs(runs, out: str | os.PathLike, metric: str = "r2", allow_mixed: bool = False) -> str:
    """Write comparison.csv/.md/.png under ``out``; return the markdown table.

    Beside each dimension: the mean over dimensions, plain and within-passage, for the model and for
    each in-house baseline measured in the same run (same folds). Runs evaluated differently (another
    split, fold count or test segments) are refused, or with ``allow_mixed`` marked with '*'."""
    out = own_folder(out, "comparison.md", "pianokit compare folder")
    loaded = [(run, read_metrics(run)) for run in map(Path, runs)]
    protocols = [protocol(run, m) for run, m in loaded]
    mixed = any(p != protocols[0] for p in protocols)
    if mixed and not allow_mixed:
        lines = "; ".join(f"{run}: {', '.join(f'{k} {v}' for k, v in p.items())}" for (run, _), p in zip(loaded, protocols))
        raise InputError(f"the runs were not evaluated the same way ({lines}); their numbers are not comparable. "
                         "Pass --allow-mixed to compare them anyway, marked with '*'")
    columns = {}
    for (run, m), p in zip(loaded, protocols):
        name = run.name if run.name not in columns else str(run)
        if mixed and p != protocols[0]:
            name += " *"
        col = {dim: v[metric] for dim, v in m["model"]["per_dimension"].items()}
        col["MEAN"] = m["model"]["mean"][metric]
        col["within-passage MEAN"] = m["model"].get("within_passage", {}).get("mean", {}).get(metric)
        for base, b in m["baselines"].items():
            col[f"{base} MEAN"] = b["mean"][metric]
            col[f"{base} within-passage MEAN"] = b.get("within_passage", {}).get("mean", {}).get(metric)
        columns[name] = col
    summary_rows = ["MEAN", "within-passage MEAN"] + [f"{b}{w} MEAN" for b in BASELINES
                                                     for w in ("", " within-passage")]
    table = pd.DataFrame(columns).reindex([*DIMENSIONS, *summary_rows]).astype(float)
    table.index.name = "dimension"
    out.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(table.reset_index(), out / "comparison.csv")
    markdown = table.astype(object).where(table.notna(), None).to_markdown(floatfmt=".3f", missingval="-")
    note = ("\n\n* evaluated differently from the first run (split, folds or test segments): not comparable.\n"
            if mixed else "\n")
    write_text(out / "comparison.md", f"Metric: {metric}\n\n{markdown}{note}")
    _chart(table.drop(index=summary_rows[1:]), metric, out / "comparison.png")
    return markdown


def _chart(table: pd.DataFrame, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 6))
    table.plot.bar(ax=ax, width=0.8)
    ax.set_ylabel(metric)
    ax.set_title(f"Per-dimension {metric} by run")
    ax.axhline(0, color="black", linewidth=0.5)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
