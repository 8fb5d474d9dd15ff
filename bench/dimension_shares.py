"""Would each rating dimension gain from its own kernel ridge share? A `fit --kernel-ridge` run's
one share per fold against a share per dimension, both chosen on the fold's early-stopping rows.

Usage: python bench/dimension_shares.py --run runs/A [--run runs/B ...] [--out bench/results/dimension_shares]

For each fold of a finished run, the fold's network (members' mean) and its kernel ridge refitted
on the training rows alone with the fold's settings and seed (the fit the fold's early-stopping
rows judged) rate the early-stopping rows; there one share (pianokit.kernel_ridge.blend_weight,
which must reproduce the fold's recorded choice) and one share per dimension (the same grid, one
dimension at a time) are chosen. The test rows are then rated by the network and the fold's final
kernel ridge (bench/blend_share.py fold_parts) blended at those shares. Test folds choose nothing;
the baselines of the same folds are the run's own. Prints a table and writes PREFIX.json and .md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blend_share import fold_parts, kernel_ratings, network_ratings, rows_of_runs, run_trainer  # noqa: E402
from result_files import write_table  # noqa: E402

from pianokit import kernel_ridge  # noqa: E402
from pianokit import run_folder as rf  # noqa: E402
from pianokit.metrics import aggregate, evaluate, headline  # noqa: E402


def early_stopping_parts(trainer, folder: Path, fold, info: dict, seed: int):
    """Early-stopping-row ratings of the fold's network and of its kernel ridge fitted on the
    training rows alone, both clipped to [0, 1] as the trainer's choice saw them."""
    net = np.clip(network_ratings(trainer, folder, fold.val), 0.0, 1.0)
    return net, kernel_ratings(trainer, folder, fold, info, seed, fold.train, fold.val)


def per_dimension_shares(y: np.ndarray, net: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return np.array([max(kernel_ridge.BLEND_WEIGHTS, key=lambda w: r2_score(y[:, d], (1 - w) * net[:, d] + w * kernel[:, d]))
                     for d in range(y.shape[1])])


def run_rules(run: Path) -> list[dict]:
    trainer, folds, infos = run_trainer(run)
    fc = trainer.config
    evals: dict[str, list] = {"one share per fold (as run)": [], "a share per dimension": []}
    shares = []
    for fold, info in zip(folds, infos):
        folder, seed, kr = rf.fold_dir(run, fold.index), fc.seed + fold.index, info["kernel_ridge"]
        val_net, val_kernel = early_stopping_parts(trainer, folder, fold, kr, seed)
        y_val = trainer._labels(fold.val)
        one = kernel_ridge.blend_weight(y_val, val_net, val_kernel)
        assert one == kr["weight"], f"fold {fold.index}: chose {one}, the run recorded {kr['weight']}"
        each = per_dimension_shares(y_val, val_net, val_kernel)
        shares.append(each.tolist())
        net, kernel = fold_parts(trainer, folder, fold, kr, seed)
        truth, passages = trainer._labels(fold.test), trainer.data.passages[fold.test]
        for name, w in (("one share per fold (as run)", one), ("a share per dimension", each)):
            evals[name].append(evaluate(truth, np.clip((1 - w) * net + w * kernel, 0.0, 1.0), fc.targets, passages))
        print(f"{run} fold {fold.index}: one share {one:g}, per dimension {each.tolist()}", file=sys.stderr, flush=True)
    metrics = json.loads((run / rf.METRICS).read_text())
    rows = [{"run": str(run), "split": fc.split, "rule": f"baseline: {name}", **headline(scores)}
            for name, scores in metrics["baselines"].items()]
    rows += [{"run": str(run), "split": fc.split, "rule": name, **headline(aggregate(e, fc.targets)),
              **({"shares": shares} if name == "a share per dimension" else {})} for name, e in evals.items()]
    return rows


def main() -> None:
    args, rows, start = rows_of_runs(__doc__.splitlines()[0], run_rules)
    lines = ["| run | split | rule | R² | within-passage R² | within-passage r |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['split']} | {r['rule']} | {r['r2']:.3f} | {r['within_passage_r2']:.3f} | "
              f"{r['within_passage_r']:.3f} |" for r in rows]
    write_table(args.out, "dimension_shares", lines, {"rows": rows, "wall_s": time.perf_counter() - start})


if __name__ == "__main__":
    main()
