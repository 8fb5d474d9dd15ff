"""Split-half reliability of PercePiano's labels: the ceiling any model's accuracy is read against.

Usage: python bench/label_reliability.py [--source ../shared/percepiano] [--splits 200] [--seed 0]

How: every rated segment's raters (ratings_raw.csv; cells that are not numbers in 1-7 are dropped;
the raw means reproduce labels_mean.json only for part of the segments, counted in the output)
are shuffled and cut into two halves; each half's mean rating per dimension is correlated with the
other half's across segments, and the Spearman-Brown formula 2r / (1 + r) turns that half-panel
correlation into the reliability of the full panel's mean. Averaged over --splits random cuts. The
within-passage reliability does the same after subtracting, in each half, the mean of each passage
(same piece, bars and segment; passages with at least two rated performances). Reliability is the
share of label variance that is not rater noise: the highest R² a perfect model could reach, and its
square root the highest r. Writes bench/results/label_reliability.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"


def load(source: Path) -> tuple[list[str], dict[str, np.ndarray], pd.DataFrame, dict]:
    dims = pd.read_csv(source / "dimensions.tsv", sep="\t")
    raw = pd.read_csv(source / "ratings_raw.csv")
    values = raw[list(dims["raw_csv_column"])].apply(pd.to_numeric, errors="coerce")
    outside = int(((values < 1) | (values > 7)).sum().sum())
    unreadable = int(raw[list(dims["raw_csv_column"])].notna().sum().sum() - values.notna().sum().sum())
    every_cell = values.copy()
    values = values.where((values >= 1) & (values <= 7))
    raw["segment_id"] = raw["filename"].astype(str).str.strip().str.replace(r"\.wav$", "", regex=True)
    folds = pd.read_csv(source / "folds.csv").set_index("segment_id")
    labels = json.loads((source / "labels_mean.json").read_text())
    groups = {sid: idx for sid, idx in raw.groupby("segment_id").groups.items() if sid in labels and sid in folds.index}
    per_segment = {sid: values.loc[idx].to_numpy(float) for sid, idx in groups.items()}

    def reproduces(table: pd.DataFrame) -> int:
        return sum(np.allclose(np.nanmean(table.loc[idx].to_numpy(float), axis=0) / 7,
                               np.array(labels[sid][:19], float), atol=1e-6) for sid, idx in groups.items())

    facts = {"segments_labelled": len(labels), "segments_with_raw_ratings": len(per_segment),
             "segments_whose_raw_mean_reproduces_labels_mean": reproduces(values),
             "same_keeping_cells_outside_1_7": reproduces(every_cell),
             "cells_outside_1_7_dropped": outside, "cells_not_numeric_dropped": unreadable}
    return list(dims["short_name"]), per_segment, folds, facts


def spearman_brown(r: np.ndarray) -> np.ndarray:
    return 2 * r / (1 + r)


def half_means(per_segment: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a, b = [], []
    for ratings in per_segment.values():
        order = rng.permutation(len(ratings))
        half = len(ratings) // 2
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            a.append(np.nanmean(ratings[order[:half]], axis=0))
            b.append(np.nanmean(ratings[order[half:]], axis=0))
    return np.array(a), np.array(b)


def column_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ok = ~(np.isnan(a) | np.isnan(b))
    return np.array([np.corrcoef(a[ok[:, j], j], b[ok[:, j], j])[0, 1] for j in range(a.shape[1])])


def centre(x: np.ndarray, passages: np.ndarray) -> np.ndarray:
    return (pd.DataFrame(x) - pd.DataFrame(x).groupby(passages).transform("mean")).to_numpy()


def reliability(per_segment: dict[str, np.ndarray], folds: pd.DataFrame, splits: int, seed: int) -> dict:
    per_segment = {s: r for s, r in per_segment.items() if len(r) >= 2}
    passages = folds.loc[list(per_segment), "passage"].to_numpy()
    multi = pd.Series(passages).map(pd.Series(passages).value_counts()).to_numpy() >= 2
    rng = np.random.default_rng(seed)
    overall, within = [], []
    for _ in range(splits):
        a, b = half_means(per_segment, rng)
        overall.append(spearman_brown(column_r(a, b)))
        within.append(spearman_brown(column_r(centre(a[multi], passages[multi]), centre(b[multi], passages[multi]))))
    return {"overall": np.mean(overall, axis=0), "within_passage": np.mean(within, axis=0),
            "segments": len(per_segment), "segments_within": int(multi.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/percepiano"))
    parser.add_argument("--splits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dims, per_segment, folds, facts = load(args.source)
    rel = reliability(per_segment, folds, args.splits, args.seed)
    per_dim = {d: {"overall": round(float(o), 4), "within_passage": round(float(w), 4)}
               for d, o, w in zip(dims, rel["overall"], rel["within_passage"])}
    summary = {"overall": round(float(np.mean(rel["overall"])), 4),
               "within_passage": round(float(np.mean(rel["within_passage"])), 4)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "label_reliability.json").write_text(json.dumps({
        "command": "python bench/label_reliability.py " + " ".join(sys.argv[1:]),
        "method": __doc__.split("How: ")[1].split(" Writes")[0].replace("\n", " "),
        "data": {**facts, "segments_used": rel["segments"], "segments_used_within_passage": rel["segments_within"]},
        "mean": summary, "per_dimension": per_dim,
    }, indent=2) + "\n")
    lines = ["| dimension | reliability | within-passage reliability |", "|---|---|---|"]
    lines += [f"| {d} | {v['overall']:.3f} | {v['within_passage']:.3f} |" for d, v in per_dim.items()]
    lines.append(f"| **mean** | **{summary['overall']:.3f}** | **{summary['within_passage']:.3f}** |")
    (RESULTS / "label_reliability.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
