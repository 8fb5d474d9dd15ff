"""Which share of the kernel ridge should a model fitted on all data take? The rules a `fit
--kernel-ridge` run could use, compared on its own cross-validation folds.

Usage: python bench/blend_share.py --run runs/A [--run runs/B ...] [--out bench/results/blend_share]

Each fold model of a finished `--kernel-ridge` run is split into its two parts: the network members'
mean (the graph's 'ratings_mean') and the kernel ridge, fitted again with the settings and seed the
fold chose (pianokit.kernel_ridge, exact same centres). The blend is then formed on the test rows
with each rule's share: fixed shares, the share the fold's own early-stopping split chose (what the
run reports; its figure must match the run's metrics), and the median of the shares the *other*
folds' early-stopping splits chose (what a final model takes under `fit --final` since 2026-12-06:
the folds' median). Test folds choose nothing here, but this comparison is itself made on test
folds: say so where it decides anything. The in-house baselines of the same folds (from the run's
metrics.json) are listed beside them. Prints a table and writes PREFIX.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import write_table  # noqa: E402

from pianokit import kernel_ridge  # noqa: E402
from pianokit import run_folder as rf  # noqa: E402
from pianokit.export import load_keras_model  # noqa: E402
from pianokit.inference import mean_by_owner  # noqa: E402
from pianokit.metrics import aggregate, evaluate, headline  # noqa: E402
from pianokit.models.spec import ModelSpec  # noqa: E402
from pianokit.train import FitConfig, Trainer  # noqa: E402
from pianokit.training_data import make_folds  # noqa: E402

FIXED = (0.0, 0.25, 0.5, 0.75)


def fold_parts(trainer: Trainer, folder: Path, fold, info: dict, seed: int):
    """Test-row ratings of the fold's network (members' mean, unclipped) and of its kernel ridge."""
    both = np.concatenate([fold.train, fold.val])
    return network_ratings(trainer, folder, fold.test), kernel_ratings(trainer, folder, fold, info, seed, both, fold.test)


def kernel_ratings(trainer: Trainer, folder: Path, fold, info: dict, seed: int, fit_rows: np.ndarray,
                   rate_rows: np.ndarray) -> np.ndarray:
    """Ratings of recordings ``rate_rows`` by the fold's kernel ridge settings (``info``) fitted on
    ``fit_rows``, reading the embedding through the projection of the fold's training rows, as the
    trainer fits and applies it (every window, clipped to [0, 1])."""
    spec = ModelSpec.from_dict(json.loads((folder / rf.SPEC).read_text()))
    projection = trainer._kernel_projection(fold.train)
    fitted = kernel_ridge.fit(trainer._kernel_inputs(spec, fit_rows, projection)[0], trainer._labels(fit_rows),
                              info["alpha"], info["width"], seed)
    return trainer._kernel_ratings(fitted, *trainer._kernel_inputs(spec, rate_rows, projection, windows=True))


def network_ratings(trainer: Trainer, folder: Path, rows: np.ndarray) -> np.ndarray:
    """Ratings of recordings ``rows`` by the fold model's network alone (members' mean, unclipped)."""
    import keras

    model = load_keras_model(folder / rf.MODEL)
    names = [layer.name for layer in model.layers]
    network = keras.Model(model.inputs, model.get_layer("ratings_mean").output) if "ratings_blend" in names else model
    inputs, owner = trainer._window_inputs(rows)
    return mean_by_owner(network.predict(inputs, batch_size=256, verbose=0), owner, len(rows))


def run_trainer(run: Path):
    """(Trainer, folds, each fold's metrics.json) of a finished run, as it was made."""
    config = json.loads((run / rf.CONFIG).read_text())
    fields = {k: v for k, v in config.items() if k in FitConfig.__dataclass_fields__}
    fields["augment"], fields["stretch_range"] = tuple(fields["augment"]), tuple(fields["stretch_range"])
    fc = FitConfig(**fields)
    trainer = Trainer(fc, run, progress=False)
    folds = make_folds(trainer.data.table, fc.split, fc.folds, fc.seed, fc.val_fraction)
    return trainer, folds, [json.loads((rf.fold_dir(run, f.index) / rf.METRICS).read_text()) for f in folds]


def run_rules(run: Path) -> list[dict]:
    trainer, folds, infos = run_trainer(run)
    fc = trainer.config
    chosen = [m["kernel_ridge"]["weight"] for m in infos]
    parts = [fold_parts(trainer, rf.fold_dir(run, f.index), f, m["kernel_ridge"], fc.seed + f.index)
             for f, m in zip(folds, infos)]
    rules = {**{f"fixed {w:g}": [w] * len(folds) for w in FIXED},
             "own early-stopping split (as run)": chosen,
             "median of the other folds' choices": [float(np.median(chosen[:i] + chosen[i + 1:]))
                                                    for i in range(len(folds))]}
    rows = []
    for name, scores in json.loads((run / rf.METRICS).read_text())["baselines"].items():
        rows.append({"run": str(run), "split": fc.split, "rule": f"baseline: {name}", "shares": [],
                     **headline(scores)})
    for name, shares in rules.items():
        evals = []
        for f, (net, kernel), w in zip(folds, parts, shares):
            pred = np.clip((1 - w) * net + w * kernel, 0.0, 1.0)
            evals.append(evaluate(trainer._labels(f.test), pred, fc.targets, trainer.data.passages[f.test]))
        rows.append({"run": str(run), "split": fc.split, "rule": name, "shares": shares,
                     **headline(aggregate(evals, fc.targets)),
                     "reported_r2": json.loads((run / rf.METRICS).read_text())["model"]["mean"]["r2"]})
    return rows


def rows_of_runs(description: str, rules) -> tuple[argparse.Namespace, list[dict], float]:
    """Parse --run (repeated) and --out; the rows ``rules(run)`` gives for every run, and the start time."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--run", type=Path, action="append", required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    return args, [row for run in args.run for row in rules(run)], start


def main() -> None:
    args, rows, start = rows_of_runs(__doc__.splitlines()[0], run_rules)
    lines = ["| run | split | rule | shares per fold | R² | within-passage R² | within-passage r |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['split']} | {r['rule']} | {', '.join(f'{w:g}' for w in r['shares'])} | "
              f"{r['r2']:.3f} | {r['within_passage_r2']:.3f} | {r['within_passage_r']:.3f} |" for r in rows]
    lines += ["", "Runs' own reported R²: " + "; ".join(sorted({f"{r['run']} {r['reported_r2']:.3f}" for r in rows
                                                                if "reported_r2" in r}))]
    write_table(args.out, "blend_share", lines, {"rows": rows, "wall_s": time.perf_counter() - start})


if __name__ == "__main__":
    main()
