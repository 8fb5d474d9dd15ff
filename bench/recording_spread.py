"""How far a run's fold models move the ratings of held-out segments between the store's recordings
of them: the other training pianos, their augmented variants and the never-trained piano.

Usage:
  python bench/recording_spread.py RUN [RUN ...] [--out bench/results/recording_spread]

For each fold model of each RUN (a `pianokit fit` run on a multi-piano store), every recording in
the store of each test segment is rated the way `pianokit fit` rates its test rows (every window,
mean, clipped); per kind of recording (manifest column `source`), the mean |rating - the rating of
the clean training-piano render| is given in units of the within-passage label SD, and in units of
the within-passage SD of the model's own clean ratings (scale-free). Cheaper than
bench/robustness.py (no audio is made, no ONNX export) and it sees the training kind of conditions,
not the fixed test conditions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import passage_deviations  # noqa: E402


def spread(run: Path, reference: str) -> dict:
    from pianokit.export import load_keras_model
    from pianokit.train import FitConfig, Trainer
    from pianokit.training_data import make_folds

    saved = json.loads((run / "config.json").read_text())
    config = FitConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()
                          if k in FitConfig.__dataclass_fields__})
    trainer = Trainer(config, run / "spread_unused", progress=False)
    table = trainer.data.table
    labels = table[list(DIMENSIONS)].to_numpy()
    clean_rows = (table["source"] == reference).to_numpy()
    centred, _ = passage_deviations(labels[clean_rows], labels[clean_rows], trainer.data.passages[clean_rows])
    label_sd = float(np.sqrt(np.mean(centred ** 2)))
    shifts, clean_preds = [], []
    for fold in make_folds(table, config.split, config.folds, config.seed, config.val_fraction):
        model = load_keras_model(run / f"fold{fold.index}" / "model.keras")
        idx = np.flatnonzero(table["source_id"].isin(set(table.loc[fold.test, "source_id"])).to_numpy())
        pred = pd.DataFrame(trainer.predict(model, idx), columns=list(DIMENSIONS))
        pred["source_id"], pred["kind"] = table.loc[idx, "source_id"].to_numpy(), table.loc[idx, "source"].to_numpy()
        pred["passage"] = trainer.data.passages[idx]
        clean = pred[pred["kind"] == reference].set_index("source_id")
        clean_preds.append(clean)
        for kind, part in pred[pred["kind"] != reference].groupby("kind"):
            part = part.set_index("source_id")
            diff = np.abs(part[list(DIMENSIONS)].to_numpy() - clean.loc[part.index, list(DIMENSIONS)].to_numpy())
            shifts.append({"fold": fold.index, "kind": kind, "sum": diff.mean(axis=1).sum(), "n": len(part)})
    clean = pd.concat(clean_preds)
    _, own = passage_deviations(clean[list(DIMENSIONS)].to_numpy(), clean[list(DIMENSIONS)].to_numpy(), clean["passage"])
    model_sd = float(np.sqrt(np.mean(own ** 2)))
    per_kind = pd.DataFrame(shifts).groupby("kind")[["sum", "n"]].sum()
    mean_shift = per_kind["sum"] / per_kind["n"]
    return {"label_wp_sd": label_sd, "model_wp_sd": model_sd,
            "kinds": {k: {"recordings": int(per_kind.loc[k, "n"]), "shift_in_label_wp_sd": float(v / label_sd),
                          "shift_in_model_wp_sd": float(v / model_sd)} for k, v in mean_shift.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--reference", default="musescore", help="the `source` whose clean renders are the reference")
    parser.add_argument("--out", type=Path, default=None,
                        help="result prefix (default: a new bench/results/recording_spread-<time>)")
    args = parser.parse_args()
    results = {str(run): spread(run, args.reference) for run in args.runs}
    kinds = sorted({k for r in results.values() for k in r["kinds"]})
    lines = [f"Mean |rating change| from the clean `{args.reference}` render of each held-out segment, per kind of "
             "recording; label = in within-passage label SDs, model = in the run's own within-passage rating SDs.",
             "", "| run | model wp SD | " + " | ".join(f"{k} (label / model)" for k in kinds) + " |",
             "|---|---|" + "---|" * len(kinds)]
    for run, r in results.items():
        cells = [f"{r['kinds'][k]['shift_in_label_wp_sd']:.2f} / {r['kinds'][k]['shift_in_model_wp_sd']:.2f}"
                 if k in r["kinds"] else "-" for k in kinds]
        lines.append(f"| {run} | {r['model_wp_sd']:.3f} | " + " | ".join(cells) + " |")
    write_table(args.out, "recording_spread", lines, {"reference": args.reference, "runs": results})


if __name__ == "__main__":
    main()
