"""`pianokit compare`: one table and one chart of several runs' per-dimension metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from pianokit.atomic import atomic_path, write_text
from pianokit.baselines import BASELINES
from pianokit.dataset import write_csv_atomic
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.safety import own_folder


def load_run(run: Path) -> dict:
    path = run / "metrics.json"
    if not path.is_file():
        raise InputError(f"{run}: no metrics.json (not a finished 'pianokit fit' run)")
    try:
        metrics = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise InputError(f"{path}: not valid JSON") from None
    try:
        if "baselines" not in metrics:
            raise InputError(f"{run}: made by an older pianokit without baselines; rerun 'pianokit fit' into a new folder")
        for block in (metrics["model"], *metrics["baselines"].values()):
            if not all(isinstance(v, dict) and set(v) >= {"r2", "r", "mae"}
                       for v in (*block["per_dimension"].values(), block["mean"])):
                raise KeyError("metrics")
    except (KeyError, TypeError, AttributeError):
        raise InputError(f"{path}: not the metrics of a 'pianokit fit' run") from None
    return metrics


def compare_runs(runs, out: str | os.PathLike, metric: str = "r2") -> str:
    """Write comparison.csv/.md/.png under ``out``; return the markdown table.

    Beside each dimension: the mean over dimensions, plain and within-passage, for the model and for
    each in-house baseline measured in the same run (same folds)."""
    out = own_folder(out, "comparison.md", "pianokit compare folder")
    columns = {}
    for run in map(Path, runs):
        m = load_run(run)
        name = run.name if run.name not in columns else str(run)
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
    write_text(out / "comparison.md", f"Metric: {metric}\n\n{markdown}\n")
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
