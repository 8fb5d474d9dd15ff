"""Would a model trained on one recording condition rate recordings made under it better than the
general model does? A probe with the kernel ridge on the store's own augmented recordings.

Usage: python bench/condition_expert.py [--store data/stores/multi_piano_aug0x3_comp0.3_floor35]
       [--out bench/results/condition_expert]

The scorer's condition checks name a phone call every time and most rooms of 0.8 s and more
(bench/results/condition_checks.md), so it could hand such recordings to a model of their own. For
each passage fold and each condition of pianokit.condition_checks (room: RT60 >= 0.6 s; phone: the
GSM call), the test rows are the store's recordings of the fold's held-out passages made under it
(any piano, with whatever else the recipe drew), rated by: the general model (a kernel ridge on the
115 features of every training row), the expert (the same on the training rows made under the
condition only) and their mean: the probes' kernel ridge (bench/musicnn_probe.py: pianokit.kernel_ridge
at settings fixed beforehand, features standardised on the training rows). Reported per condition:
R², within-passage R² and r on those rows, the general model's figures on the fold's clean MuseScore
renders, and the shift from the general model's rating of the segment's clean MuseScore render in
units of the within-passage label SD. Labels are the segment's; the test folds choose nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from musicnn_probe import audio_rows, kernel_ridge, scores  # noqa: E402
from result_files import write_table  # noqa: E402

from pianokit.condition_checks import CONDITIONS, recipe_of  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate, passage_deviations  # noqa: E402
from pianokit.training_data import make_folds  # noqa: E402


def rated(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The probes' kernel ridge (bench/musicnn_probe.py: fixed settings) fitted on ``train``, rating
    ``test`` on the labels' [0, 1] scale."""
    return np.clip(kernel_ridge(x[train], y[train], x[test]), 0.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3_comp0.3_floor35"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    data, x, y = audio_rows(args.store)
    table = data.table
    passages = data.passages
    recipes = [recipe_of(r) for r in table["augmentation"]]
    labelled = {c: np.array([cond.label(r) for r in recipes]) for c, cond in CONDITIONS.items()}
    clean_of = {s: i for i, (s, e) in enumerate(zip(table["source_id"], table["eval"])) if e == 1}
    clean_rows = np.array(sorted(clean_of.values()))
    t, _ = passage_deviations(y[clean_rows], y[clean_rows], passages[clean_rows])
    wp_sd = float(t.std(0).mean())
    folds = make_folds(table, "passage", 4, 0, 0.15)
    fold_of = table["fold_passage"].to_numpy()
    results = {c: {"general": [], "expert": [], "mean of both": [], "clean (general)": []} for c in CONDITIONS}
    shifts = {c: {"general": [], "expert": [], "mean of both": []} for c in CONDITIONS}
    for fold in folds:
        train = np.concatenate([fold.train, fold.val])
        held_out = np.flatnonzero(fold_of == fold.index)  # every recording of the fold's passages
        general = np.full(y.shape, np.nan)
        general[held_out] = rated(x, y, train, held_out)
        for c in CONDITIONS:
            test = held_out[labelled[c][held_out]]
            test = test[[table["source_id"].iat[i] in clean_of for i in test]]
            preds = {"general": general[test], "expert": rated(x, y, train[labelled[c][train]], test)}
            preds["mean of both"] = (preds["general"] + preds["expert"]) / 2
            reference = general[[clean_of[table["source_id"].iat[i]] for i in test]]
            for name, p in preds.items():
                results[c][name].append(evaluate(y[test], p, DIMENSIONS, passages[test]))
                shifts[c][name].append(float(np.abs(p - reference).mean() / wp_sd))
            results[c]["clean (general)"].append(evaluate(y[fold.test], general[fold.test], DIMENSIONS,
                                                          passages[fold.test]))
            print(f"fold {fold.index} {c}: {len(test)} test rows, expert trained on "
                  f"{int(labelled[c][train].sum())}", file=sys.stderr, flush=True)
    rows = []
    for c in CONDITIONS:
        for name, evals in results[c].items():
            rows.append({"condition": c, "model": name, **scores(evals),
                         "shift_wp_sd": float(np.mean(shifts[c][name])) if name in shifts[c] else 0.0})
    lines = [f"`{args.store}`, passage folds; the probes' kernel ridge; shift in units of "
             f"the within-passage label SD ({wp_sd:.3f}) from the general model's rating of the clean MuseScore "
             "render (mean over folds).", "",
             "| condition | model | R² | within-passage R² | within-passage r | shift (wp SD) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['condition']} | {r['model']} | {r['r2']:.3f} | {r['wp_r2']:.3f} | {r['wp_r']:.3f} | "
              f"{r['shift_wp_sd']:.2f} |" for r in rows]
    write_table(args.out, "condition_expert", lines, {"rows": rows, "within_passage_label_sd": wp_sd,
                                                      "wall_s": time.perf_counter() - start})


if __name__ == "__main__":
    main()
