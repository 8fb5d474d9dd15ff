"""`pianokit analyze`: label statistics of a manifest, the 19x19 correlation table and its heatmap."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from pianokit.atomic import atomic_path, write_text
from pianokit.manifest import read_manifest, write_csv_atomic
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError, os_reason
from pianokit.safety import own_folder


def analyze(manifest_path: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Write summary.json, dimensions.csv, correlation.csv and correlation.png under ``out``."""
    df = read_manifest(manifest_path, labelled=True)
    out = own_folder(out, "summary.json", "pianokit analyze folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the folder ({os_reason(exc)})") from None
    ratings = df[list(DIMENSIONS)]
    summary = {"segments": len(df)}
    for col in ("piece", "player", "passage"):
        if col in df.columns:
            summary[f"{col}s"] = int(df[col].nunique())
    stats = pd.DataFrame({"dimension": DIMENSIONS, "mean": ratings.mean().values, "std": ratings.std().values,
                          "min": ratings.min().values, "max": ratings.max().values})
    corr = ratings.corr()
    write_csv_atomic(stats, out / "dimensions.csv")
    write_csv_atomic(corr.reset_index(names="dimension"), out / "correlation.csv")
    _heatmap(corr, out / "correlation.png")
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    summary["dimensions"] = stats
    return summary


def _heatmap(corr: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 9))
    im = ax.imshow(corr.values, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(corr)), corr.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(corr)), corr.index, fontsize=7)
    for i in range(len(corr)):
        for j in range(len(corr)):
            ax.text(j, i, f"{corr.values[i, j]:.2f}", ha="center", va="center", fontsize=5)
    fig.colorbar(im, ax=ax, label="Pearson r")
    ax.set_title("PercePiano: correlation between the 19 rated dimensions")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
