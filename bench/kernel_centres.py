"""Does the kernel ridge lose accuracy to its Nystroem approximation? The same fit with more centres,
up to the exact solution, on the shipped store's folds.

Usage: python bench/kernel_centres.py [--store data/stores/multi_piano_aug0x3_comp0.3_floor35]
       [--centres 2000 4000 8000 0] [--out bench/results/kernel_centres]

pianokit.kernel_ridge solves exactly up to MAX_CENTRES (4000) training rows and with that many
seeded Nystroem centres above, so the exported graph stays small; the shipped store's folds have
about 10700 training rows, the final model 12600. Here the probes' kernel ridge (bench/musicnn_probe.py,
settings fixed beforehand) is fitted with each MAX_CENTRES of --centres (0: every training row,
the exact solution) on both splits' training and early-stopping rows and scored on the clean
MuseScore renders of the test folds, with the in-house baselines of the same folds, the wall time of
each fit and the exported centres' size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from musicnn_probe import audio_rows, baseline_evals, kernel_ridge, scores  # noqa: E402
from result_files import write_table  # noqa: E402

from pianokit import kernel_ridge as pk_kernel_ridge  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402
from pianokit.training_data import make_folds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3_comp0.3_floor35"))
    parser.add_argument("--centres", type=int, nargs="+", default=[2000, 4000, 8000, 0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    data, x, y = audio_rows(args.store)
    rows = []
    for split in ("passage", "performer"):
        folds = make_folds(data.table, split, 4, 0, 0.15)
        baselines: dict[str, list] = {}
        for fold in folds:
            for name, e in baseline_evals(data, x, y, fold).items():
                baselines.setdefault(name, []).append(e)
        rows += [{"split": split, "model": f"baseline: {n}", **scores(e)} for n, e in baselines.items()]
        for centres in args.centres:
            pk_kernel_ridge.MAX_CENTRES = centres or len(y)
            evals, walls = [], []
            for fold in folds:
                fit_rows = np.concatenate([fold.train, fold.val])
                t0 = time.perf_counter()
                pred = np.clip(kernel_ridge(x[fit_rows], y[fit_rows], x[fold.test]), 0.0, 1.0)
                walls.append(time.perf_counter() - t0)
                evals.append(evaluate(y[fold.test], pred, DIMENSIONS, data.passages[fold.test]))
            used = min(pk_kernel_ridge.MAX_CENTRES, max(len(f.train) + len(f.val) for f in folds))
            rows.append({"split": split, "model": f"kernel ridge, {'exact' if not centres else centres} centres",
                         "centres": used, "fit_s": float(np.mean(walls)),
                         "exported_mb": used * (x.shape[1] + len(DIMENSIONS)) * 4 / 1e6, **scores(evals)})
            print(rows[-1], file=sys.stderr, flush=True)
    lines = [f"`{args.store}`, clean MuseScore renders of the test folds; the probes' kernel ridge.", "",
             "| split | model | centres | R² | r | within-passage R² | within-passage r | fit (s, mean per fold) | "
             "centres in the model (MB) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        extra = (f"{r['centres']} | {r['r2']:.3f} | {r['r']:.3f} | {r['wp_r2']:.3f} | {r['wp_r']:.3f} | "
                 f"{r['fit_s']:.1f} | {r['exported_mb']:.1f}") if "centres" in r else \
            f" | {r['r2']:.3f} | {r['r']:.3f} | {r['wp_r2']:.3f} | {r['wp_r']:.3f} | |"
        lines.append(f"| {r['split']} | {r['model']} | {extra} |")
    write_table(args.out, "kernel_centres", lines, {"rows": rows, "wall_s": time.perf_counter() - start})


if __name__ == "__main__":
    main()
