"""Would features relative to the passage help? Ridge and kernel ridge with each recording's features
centred among recordings of the same passage, on leak-free folds, both splits.

Usage: python bench/passage_centring.py [--store data/stores/multi_piano_aug0x2_comp0.3_floor35]
       [--group-sizes 2 3 5 10] [--out bench/results/passage_centring]

A user who records several performances of one passage (a teacher's students, a player's takes)
could have each rated against the others. Rows: the store's evaluated recordings (the 1189 clean
MuseScore renders), as bench/musicnn_probe.py. Training rows are centred per passage among the
fold's training rows; test rows among the test recordings of their passage (label-free: what a user
has), or among K of them (the recording and K-1 others drawn at random) to see how many are needed.
Models: ridge (the in-house baseline) and pianokit.kernel_ridge (fixed settings) on the 115 audio
features plain, centred (predicting centred ratings: within-passage figures only), and plain beside
centred. Beside them, on the same folds: training mean, the player's training mean and the symbolic
reference (ridge on the store's MIDI features).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from musicnn_probe import PROBE_HEADER, kernel_ridge, split_scores  # noqa: E402
from result_files import write_table  # noqa: E402

from pianokit.baselines import player_mean, ridge, train_mean  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.feature_names import ALL_FEATURES, SYMBOLIC_FEATURES  # noqa: E402
from pianokit.training_data import split_groups  # noqa: E402


def centred(a: np.ndarray, rows: np.ndarray, passages: np.ndarray, k: int | None = None,
            rng: np.random.Generator | None = None) -> np.ndarray:
    """``a[rows]`` minus the mean over the rows of the same passage (with ``k``: over the row and
    k-1 others of its passage drawn at random)."""
    out = a[rows].astype(np.float64)
    for i, r in enumerate(rows):
        same = rows[passages[rows] == passages[r]]
        if k is not None:
            others = same[same != r]
            same = np.concatenate([[r], rng.choice(others, min(k - 1, len(others)), replace=False)])
        out[i] -= a[same].mean(axis=0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x2_comp0.3_floor35"))
    parser.add_argument("--group-sizes", type=int, nargs="+", default=[2, 3, 5, 10])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    table = pd.read_csv(args.store / "manifest.csv")
    table = table[table["eval"] == 1].reset_index(drop=True)
    ids = table["segment_id"].tolist()
    x = np.nan_to_num(pd.read_csv(args.store / "features.csv").set_index("id").loc[ids, list(ALL_FEATURES)]
                      .to_numpy(float))
    symbolic = pd.read_csv(args.store / "symbolic.csv").set_index("id").loc[ids, list(SYMBOLIC_FEATURES)].to_numpy(float)
    y = table[list(DIMENSIONS)].to_numpy(float)
    groups, passages = split_groups(table), table["passage"].to_numpy()
    players = table["performer"].astype(str).to_numpy()

    def per_fold(fold, train, test, add):
        x_train_c, y_train_c = centred(x, train, passages), centred(y, train, passages)
        x_test_c = centred(x, test, passages)
        add("training mean | -", train_mean(y[train], len(test)))
        add("player mean | -", player_mean(y[train], players[train], players[test]))
        add("symbolic reference (MIDI) | ridge", ridge(symbolic[train], y[train], symbolic[test], groups[train]))
        add("plain | ridge", ridge(x[train], y[train], x[test], groups[train]))
        add("centred | ridge", ridge(x_train_c, y_train_c, x_test_c, groups[train]))
        add("plain + centred | ridge",
            ridge(np.hstack([x[train], x_train_c]), y[train], np.hstack([x[test], x_test_c]), groups[train]))
        for k in args.group_sizes:
            x_k = centred(x, test, passages, k, np.random.default_rng(fold.index))
            add(f"plain + centred among {k} | ridge",
                ridge(np.hstack([x[train], x_train_c]), y[train], np.hstack([x[test], x_k]), groups[train]))
        add("plain | kernel ridge", kernel_ridge(x[train], y[train], x[test]))
        add("centred | kernel ridge", kernel_ridge(x_train_c, y_train_c, x_test_c))
        add("plain + centred | kernel ridge",
            kernel_ridge(np.hstack([x[train], x_train_c]), y[train], np.hstack([x[test], x_test_c])))

    results = split_scores(table, y, per_fold)
    sizes = table.groupby("passage").size()
    lines = [f"Probe on the {len(table)} clean MuseScore renders of `{args.store}` (the evaluated rows), leak-free folds, "
             "means over the folds' test sets; \"new players\" is the performer split. Centred: features minus the mean "
             "of the recordings of the same passage (training rows among the fold's training rows, test rows among "
             f"the test recordings; passages have {sizes.min()}-{sizes.max()} recordings, median {sizes.median():.0f}). "
             "A centred model predicts centred ratings, so only its within-passage figures mean anything.", "",
             *PROBE_HEADER]
    for name, r in results.items():
        label, _, model = name.partition(" | ")
        p, q = r["passage"], r["performer"]
        plain_ok = not label.startswith("centred")
        lines.append(f"| {label} | {model} | {p['r2']:.3f} | {p['wp_r2']:.3f} | {p['wp_r']:.3f} | "
                     f"{q['r2']:.3f} | {q['wp_r2']:.3f} | {q['wp_r']:.3f} |" if plain_ok else
                     f"| {label} | {model} | - | {p['wp_r2']:.3f} | {p['wp_r']:.3f} | - | {q['wp_r2']:.3f} | "
                     f"{q['wp_r']:.3f} |")
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s."]
    write_table(args.out, "passage_centring", lines, {"rows": len(table), "store": str(args.store), "results": results,
                                                      "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
