"""The run folder `pianokit fit` writes, and the one place its layout is known:

    RUN/config.json               the command and every setting (with the store's FeatureConfig)
    RUN/metrics.json, metrics.csv the model's and the baselines' metrics over all folds
    RUN/fold<k>/                  model.keras, spec.json, history.csv, metrics.json, predictions.csv
    RUN/final/                    model.keras, spec.json, history.csv, info.json (with --final)

Training writes it (resuming finished folds), export and compare read it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pianokit.errors import InputError, os_reason

CONFIG = "config.json"
METRICS = "metrics.json"
MODEL = "model.keras"
SPEC = "spec.json"
PREDICTIONS = "predictions.csv"
FINAL_INFO = "info.json"


def fold_dir(run: Path, index: int) -> Path:
    return Path(run) / f"fold{index}"


def final_dir(run: Path) -> Path:
    return Path(run) / "final"


def is_done(folder: Path) -> bool:
    """A fold (or final) folder whose model and results were both written."""
    marker = METRICS if folder.name.startswith("fold") else FINAL_INFO
    return (folder / MODEL).is_file() and (folder / marker).is_file()


def locate_model(source: str | os.PathLike) -> tuple[Path, Path | None]:
    """(model.keras, run folder or None) for a run folder (its final/ model, else fold 0) or a .keras file."""
    source = Path(source)
    if source.is_file():
        if source.suffix != ".keras":
            raise InputError(f"{source}: not a .keras model file")
        run = source.parent.parent if (source.parent.parent / CONFIG).is_file() else None
        return source, run
    if not source.is_dir():
        raise InputError(f"{source}: no such run folder or model file")
    for folder in (final_dir(source), fold_dir(source, 0)):
        if (folder / MODEL).is_file():
            return folder / MODEL, source
    raise InputError(f"{source}: no final/model.keras or fold0/model.keras (run 'pianokit fit' first)")


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise InputError(f"{path}: not valid JSON") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({os_reason(exc)})") from None


def read_config(run: Path | None) -> dict:
    """The run's config.json ({} without a run folder)."""
    if run is None or not (Path(run) / CONFIG).is_file():
        return {}
    config = _json(Path(run) / CONFIG)
    if not isinstance(config, dict):
        raise InputError(f"{Path(run) / CONFIG}: not a run configuration")
    return config


def read_metrics(run: Path, required: bool = True) -> dict | None:
    """The run's metrics.json, checked to hold the model's and the baselines' per-dimension metrics."""
    path = Path(run) / METRICS
    if not path.is_file():
        if required:
            raise InputError(f"{run}: no metrics.json (not a finished 'pianokit fit' run)")
        return None
    metrics = _json(path)
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


def read_predictions(run: Path):
    """Every fold's held-out predictions (segment_id, fold, passage, pred_<dim>, true_<dim>) as one
    DataFrame; empty when the run has none."""
    import pandas as pd

    parts = []
    for path in sorted(Path(run).glob(f"fold*/{PREDICTIONS}")):
        try:
            parts.append(pd.read_csv(path, dtype={"segment_id": str, "passage": str}))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
            raise InputError(f"{path}: not a readable predictions table") from None
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["segment_id", "fold", "passage"])
