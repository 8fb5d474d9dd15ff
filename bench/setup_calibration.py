"""Would a per-setup offset, estimated from a few recordings made on the same piano, win back what a
piano the model never heard loses? Simulated on the held-out predictions of bench/pianos.py.

Usage:
  python bench/setup_calibration.py [--runs runs/pianos_x3] [--sizes 10 40 0] [--repeats 20] [--seed 0]
                                    [--out bench/results/setup_calibration]

For every fold and every piano a run scores, each passage group's recordings are corrected by one
offset per dimension estimated from a calibration batch of K other recordings of that piano, drawn
from the fold's *other* passage groups (0 = all of them), as a user would calibrate on recordings of
other music. Two estimates:
- label-free: the training labels' mean minus the batch's mean prediction (assumes the batch is as
  good, on average, as PercePiano's performances);
- rated: the batch's mean error (labels minus predictions), as if an expert had rated K recordings.
Beside them, bench/pianos.py's two fold-wide diagnostics, whose batch holds the scored recordings
themselves: "recentred" (the fold's own mean error) and "batch-recentred" (the fold's own mean
prediction). A constant per passage group leaves within-passage scores unchanged, so only R² is shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from pianos import fold_pianos  # noqa: E402
from result_files import write_table  # noqa: E402
from training_store import TRAIN_PIANOS  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402


def r2(truth: np.ndarray, pred: np.ndarray, passages: np.ndarray) -> float:
    return evaluate(truth, pred, list(DIMENSIONS), passages)["mean"]["r2"]


def calibrated(truth, pred, groups, train_mean, size, rated, rng) -> np.ndarray:
    """Predictions with each passage group moved by an offset from SIZE recordings of other groups."""
    out = pred.copy()
    for group in np.unique(groups):
        pool = np.flatnonzero(groups != group)
        batch = pool if size == 0 or size >= len(pool) else rng.choice(pool, size, replace=False)
        offset = (truth[batch] - pred[batch]).mean(axis=0) if rated else train_mean - pred[batch].mean(axis=0)
        out[groups == group] += offset
    return out


def simulate(run: Path, manifest: Path, sizes: list[int], repeats: int, seed: int) -> dict[str, dict[str, float]]:
    """{piano: {setting: mean R² over folds (and over repeats)}} for one pianos.py run folder."""
    scores: dict[str, dict[str, list[float]]] = {}
    rngs: dict[int, np.random.Generator] = {}
    for fold, piano, info, pred, train_mean in fold_pianos(run, pd.read_csv(manifest).set_index("segment_id")):
        rng = rngs.setdefault(fold, np.random.default_rng([seed, fold]))
        truth = info[list(DIMENSIONS)].to_numpy(float)
        passages = info["passage"].astype(str).to_numpy()
        groups = info["passage_group"].astype(str).to_numpy()
        got = scores.setdefault(piano, {})
        got.setdefault("none", []).append(r2(truth, pred, passages))
        got.setdefault("fold_recentred", []).append(r2(truth, pred - pred.mean(0) + truth.mean(0), passages))
        got.setdefault("fold_batch_recentred", []).append(r2(truth, pred - pred.mean(0) + train_mean, passages))
        for rated in (False, True):
            for size in sizes:
                name = f"{'rated' if rated else 'label_free'}_{size or 'all'}"
                draws = 1 if size == 0 else repeats
                got.setdefault(name, []).append(float(np.mean([
                    r2(truth, calibrated(truth, pred, groups, train_mean, size, rated, rng), passages)
                    for _ in range(draws)])))
    return {piano: {k: float(np.mean(v)) for k, v in got.items()} for piano, got in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/pianos_x3"),
                        help="a bench/pianos.py runs folder (in_piano/, without_<piano>/ and their .csv manifests)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 0],
                        help="calibration batch sizes (0 = every recording of the fold's other passage groups)")
    parser.add_argument("--repeats", type=int, default=20, help="random batches per passage group and size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = {}
    wanted = {"in_piano", *(f"without_{p}" for p in TRAIN_PIANOS)}  # bench/pianos.py's runs, not later ones
    for run in sorted(p for p in args.runs.iterdir() if p.name in wanted and (p / "metrics.json").is_file()):
        scored = simulate(run, run.with_suffix(".csv"), args.sizes, args.repeats, args.seed)
        for piano, values in scored.items():
            if run.name == "in_piano":
                results[f"{piano} ({'in training' if piano in TRAIN_PIANOS else 'never trained on'})"] = values
            elif run.name == f"without_{piano}":
                results[f"{piano} (held out)"] = values
    settings = list(next(iter(results.values())))
    lines = [f"Runs {args.runs} (bench/pianos.py, leak-free passage folds), R² on each piano's clean renders, mean "
             f"over folds; calibration batches drawn from the fold's other passage groups, {args.repeats} draws "
             "each (all: one). label_free_K: training-label mean minus the batch's mean prediction; rated_K: the "
             "batch's mean error; fold_*: bench/pianos.py's diagnostics, whose batch includes the scored "
             "recordings.", "",
             "| piano | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings)]
    lines += [f"| {piano} | " + " | ".join(f"{v[s]:.3f}" for s in settings) + " |" for piano, v in results.items()]
    write_table(args.out, "setup_calibration", lines, {
        "runs": str(args.runs), "sizes": args.sizes, "repeats": args.repeats, "seed": args.seed, "r2": results})


if __name__ == "__main__":
    main()
