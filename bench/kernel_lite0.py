"""Would the kernel ridge beside the network gain from reading the Lite0 embedding too? The probe of
bench/musicnn_probe.py (one piano's clean renders) repeated on the shipped multi-piano store.

Usage: python bench/kernel_lite0.py [--store data/stores/multi_piano_aug0x3_comp0.3_floor35]
       [--components 16 48] [--run RUN ...] [--out bench/results/kernel_lite0]

The shipped model's kernel ridge reads the 115 hand-made features only; the network also reads the
frozen EfficientNet-Lite0 embedding. Here the probes' kernel ridge (bench/musicnn_probe.py, fixed
settings) is fitted on every training and early-stopping row of each fold (three pianos, augmented
recordings) with the features alone and beside K principal components of each recording's mean
Lite0 embedding (the store's cache; musicnn_probe.reduce: fitted on the training rows, floored and
clipped), both splits, scored on the clean MuseScore renders of the test folds, beside the in-house
baselines of the same folds. With --run (finished `fit --kernel-ridge` runs on this store, one per
split), each fold's network (bench/blend_share.py) is also blended with each of these kernel
ridges at the share that fold's early-stopping split chose for its own kernel ridge (the test
folds choose nothing; the probe's settings are not the run's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blend_share import fold_parts, run_trainer  # noqa: E402
from musicnn_probe import audio_rows, baseline_evals, kernel_ridge, lite0_means, reduce, scores  # noqa: E402
from result_files import write_table  # noqa: E402

from pianokit import run_folder as rf  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402
from pianokit.training_data import make_folds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3_comp0.3_floor35"))
    parser.add_argument("--components", type=int, nargs="+", default=[16, 48])
    parser.add_argument("--run", type=Path, action="append", default=[],
                        help="a finished --kernel-ridge run on --store whose fold networks to blend with")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    data, x, y = audio_rows(args.store)
    lite0 = lite0_means(args.store, data.ids)
    runs = {}
    for run in args.run:
        trainer, folds, infos = run_trainer(run)
        runs[trainer.config.split] = (run, trainer, infos)
    rows = []
    for split in ("passage", "performer"):
        folds = make_folds(data.table, split, 4, 0, 0.15)
        evals: dict[str, list] = {}
        for fold in folds:
            network = share = None
            if split in runs:
                run, trainer, infos = runs[split]
                assert list(trainer.data.ids) == list(data.ids), "--run must be trained on --store"
                info = infos[fold.index]["kernel_ridge"]
                network, _ = fold_parts(trainer, rf.fold_dir(run, fold.index), fold, info, trainer.config.seed + fold.index)
                share = info["weight"]
                evals.setdefault("network alone (run's fold model)", []).append(
                    evaluate(y[fold.test], np.clip(network, 0.0, 1.0), DIMENSIONS, data.passages[fold.test]))
            fit_rows = np.concatenate([fold.train, fold.val])
            truth, passages = y[fold.test], data.passages[fold.test]
            for name, e in baseline_evals(data, x, y, fold).items():
                evals.setdefault(f"baseline: {name}", []).append(e)
            candidates = {"kernel ridge, 115 features": (x[fit_rows], x[fold.test])}
            for k in args.components:
                train_c, test_c = reduce(lite0, fit_rows, fold.test, k)
                candidates[f"kernel ridge, 115 features + Lite0 PCA {k}"] = (
                    np.hstack([x[fit_rows], train_c]), np.hstack([x[fold.test], test_c]))
            for name, (train_x, test_x) in candidates.items():
                pred = np.clip(kernel_ridge(train_x, y[fit_rows], test_x), 0.0, 1.0)
                evals.setdefault(name, []).append(evaluate(truth, pred, DIMENSIONS, passages))
                if network is not None:
                    blend = np.clip((1 - share) * network + share * pred, 0.0, 1.0)
                    evals.setdefault(f"network + {name} (fold's share)", []).append(
                        evaluate(truth, blend, DIMENSIONS, passages))
            print(f"{split} fold {fold.index} done, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        rows += [{"split": split, "model": name, **scores(e)} for name, e in evals.items()]
    lines = [f"`{args.store}`, every training row; clean MuseScore renders of the test folds.", "",
             "| split | model | R² | r | within-passage R² | within-passage r |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['split']} | {r['model']} | {r['r2']:.3f} | {r['r']:.3f} | {r['wp_r2']:.3f} | {r['wp_r']:.3f} |"
              for r in rows]
    write_table(args.out, "kernel_lite0", lines, {"rows": rows, "wall_s": time.perf_counter() - start})


if __name__ == "__main__":
    main()
