"""Does projecting out the directions along which recording conditions move the features make
ratings steadier under rooms and phones, and at what cost in accuracy? Ridge on leak-free folds.

Usage:
  python bench/nuisance_projection.py --store data/stores/ms_aug0_floor35 [--groups-per-fold 2]
                                      [--ranks 0 2 5 10 20] [--seed 0] [--out bench/results/nuisance_projection]

Nuisance attribute projection (NAP, as in speaker verification): in each fold's training rows, every
augmented recording of a segment (random room, noise, colouring, phone, codec: `pianokit dataset
augment`) is paired with the segment's clean render; the differences of their standardised features
span the directions conditions move features along. The top-k right singular vectors U of those
differences are removed (z -> z - z U U^T) before ridge, which trains on the clean and augmented
rows alike. k = 0 is plain ridge on the same rows; a last row trains plain ridge on the clean renders
alone (what training on augmented recordings buys).

Scored on each fold's test passages (the clean renders the manifest marks for evaluation) and, for
a seeded sample of whole test passage groups, on the same renders under conditions of
bench/robustness.py (rooms of 0.8 and 2 s, GSM phone, 20 dB pink noise), their features extracted
here with the store's feature config (cached in STORE/nuisance_conditions.npz). Per k: R² and
within-passage R² (mean of 19 dimensions, mean over folds) clean and under each condition, and the
mean |rating shift| from clean in units of the within-passage label SD.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit.baselines import predict_all, ridge  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import aggregate, evaluate, passage_deviations  # noqa: E402
from pianokit.training_data import make_folds, split_groups, symbolic_features  # noqa: E402

SR = 22050
CONDITIONS = ("reverb_0.8s", "reverb_2.0s", "phone_gsm", "noise_pink_20dB")
CLEAN_ONLY = -1  # the reference row: plain ridge trained on the clean renders alone


def condition_audio(y: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    from pianokit import conditions as c

    if name.startswith("reverb_"):
        return c.reverberate(y, SR, float(name[len("reverb_"):-1]), rng)
    if name == "phone_gsm":
        return c.phone(y, SR, codec=True)
    if name == "noise_pink_20dB":
        return c.add_noise(y, SR, 20, "pink", rng)
    raise ValueError(name)


def in_workers(fn, config: dict, audio, seeds, jobs: int) -> np.ndarray:
    """np.stack of ``fn((path, config, seed))`` for every recording, in order, over a worker pool."""
    from pianokit.parallel import run_parallel

    items = [(str(a), config, int(s)) for a, s in zip(audio, seeds)]
    done = {}
    for item, result, error in run_parallel(fn, items, jobs, "conditions"):
        if error:
            raise SystemExit(error)
        done[item[0]] = result
    return np.stack([done[item[0]] for item in items])


def condition_features(job: tuple[str, dict, int]) -> np.ndarray:
    """(conditions, features) of one clean render under every condition, seeded per recording."""
    from pianokit.audio import load_audio
    from pianokit.contract import FeatureConfig
    from pianokit.features import extract

    path, config, seed = job
    config = FeatureConfig.from_dict(config)
    y = load_audio(path, SR)
    rng = np.random.default_rng(seed)
    return np.stack([extract(np.clip(condition_audio(y, name, rng), -1, 1).astype(np.float32), config)[0]
                     for name in CONDITIONS])


def sample_groups(table: pd.DataFrame, test: np.ndarray, per_fold: int, rng: np.random.Generator) -> np.ndarray:
    """Test rows of ``per_fold`` whole passage groups drawn at random (groups with 2+ segments)."""
    groups = table["passage_group"].astype(str).to_numpy()
    sizes = pd.Series(groups[test]).value_counts()
    chosen = rng.choice(sorted(sizes[sizes >= 2].index), size=min(per_fold, int((sizes >= 2).sum())), replace=False)
    return test[np.isin(groups[test], chosen)]


@dataclass
class ProbeData:
    """A store read for ridge probes: every row's features and labels, the passage folds of its
    evaluated renders (the clean ones), a seeded sample of whole test passage groups per fold, and
    the within-passage label SD (the unit of rating shifts)."""

    config: dict
    features: pd.DataFrame
    table: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    is_eval: np.ndarray
    groups: np.ndarray
    passages: np.ndarray
    evaluated: pd.DataFrame
    eval_rows: np.ndarray
    folds: list
    sampled: np.ndarray
    wp_sd: float
    seed: int

    @classmethod
    def load(cls, store: Path, groups_per_fold: int, seed: int) -> "ProbeData":
        config = json.loads((store / "config.json").read_text())
        table = pd.read_csv(store / "manifest.csv")
        features = pd.read_csv(store / "features.csv").set_index("id")
        table = table[table["segment_id"].isin(features.index)].reset_index(drop=True)
        is_eval = table["eval"].to_numpy() == 1
        evaluated = table[is_eval].reset_index(drop=True)
        folds = make_folds(evaluated, "passage")
        rng = np.random.default_rng(seed)
        sampled = np.concatenate([sample_groups(evaluated, f.test, groups_per_fold, rng) for f in folds])
        labels = evaluated[list(DIMENSIONS)].to_numpy(float)
        centred, _ = passage_deviations(labels, labels, evaluated["passage"].to_numpy())
        return cls(config, features, table, features.loc[table["segment_id"], list(config["features"])].to_numpy(float),
                   table[list(DIMENSIONS)].to_numpy(float), is_eval, split_groups(table),
                   table["passage"].to_numpy(), evaluated, np.flatnonzero(is_eval), folds, sampled,
                   float(np.sqrt(np.mean(centred ** 2))), seed)

    def sampled_audio(self) -> np.ndarray:
        return self.features.loc[self.evaluated["segment_id"].to_numpy()[self.sampled], "audio"].to_numpy()

    def seeds(self) -> np.ndarray:
        """One seed per sampled recording, for its conditions' random draws."""
        return self.seed * 100003 + self.sampled


def ridge_each(x_train: np.ndarray, y_train: np.ndarray, groups_train: np.ndarray, *matrices: np.ndarray) -> list:
    """pianokit.baselines.ridge fitted once on the training rows; its predictions for each matrix."""
    out = ridge(x_train, y_train, np.vstack(matrices), groups_train)
    return np.split(out, np.cumsum([len(m) for m in matrices])[:-1])


def projector(z_aug: np.ndarray, z_clean: np.ndarray, rank: int) -> np.ndarray:
    """I - U U^T for the top ``rank`` right singular vectors of the paired differences."""
    d = z_aug - z_clean
    if rank == 0:
        return np.eye(d.shape[1])
    _, _, vt = np.linalg.svd(d - d.mean(axis=0), full_matrices=False)
    u = vt[:rank].T
    return np.eye(d.shape[1]) - u @ u.T


def probe_parser(doc: str, store: Path | None = None) -> argparse.ArgumentParser:
    """The options the condition probes take (--store required unless ``store`` is its default)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--store", type=Path, required=store is None, default=store)
    parser.add_argument("--groups-per-fold", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    return parser


def condition_matrix(d: ProbeData, store: Path, jobs: int) -> np.ndarray:
    """(sampled, conditions, features): the sampled renders' features under each of CONDITIONS,
    cached in STORE/nuisance_conditions.npz."""
    ids = d.evaluated["segment_id"].to_numpy()[d.sampled].astype(str)
    return cached_features(store / "nuisance_conditions.npz", ids,
                           lambda: in_workers(condition_features, d.config, d.sampled_audio(), d.seeds(), jobs))


def cached_features(cache: Path, ids: np.ndarray, compute) -> np.ndarray:
    """The features ``cache`` (.npz) holds for exactly ``ids``, else ``compute()``, saved there."""
    cached = np.load(cache) if cache.is_file() else None
    if cached is not None and list(cached["ids"]) == list(ids):
        return cached["features"]
    features = compute()
    np.savez(cache, ids=ids, features=features)
    return features


def fold_train_rows(d: ProbeData, fold) -> np.ndarray:
    """Every store row (clean or augmented) outside the passage groups of ``fold``'s test renders."""
    return np.flatnonzero(~np.isin(d.groups, list(set(d.groups[d.eval_rows[fold.test]]))))


def fold_baselines(d: ProbeData, store: Path) -> dict[str, dict]:
    """The in-house baselines (pianokit.baselines), each fitted per fold on fold_train_rows and
    scored on the fold's clean test renders: {name: {"r2", "wp_r2"}}."""
    symbolic = symbolic_features(d.table, store)
    evals: dict[str, list] = {}
    for fold in d.folds:
        test = d.eval_rows[fold.test]
        for name, pred in predict_all(d.y, fold_train_rows(d, fold), test, d.table, d.x, symbolic).items():
            evals.setdefault(name, []).append(evaluate(d.y[test], pred, DIMENSIONS, d.passages[test]))
    return {name: _headline(e) for name, e in evals.items()}


def condition_scores(d: ProbeData, cond: np.ndarray, predict) -> dict[str, dict]:
    """A model's scores per fold, clean and under CONDITIONS: ``predict(fold, train, test, moved)``
    fits on store rows ``train`` (fold_train_rows) and returns (ratings of the clean test renders
    ``test``, [ratings of the sampled test renders' condition features ``moved[j]``, one per
    condition]). Returns {"clean", "sample_clean", each condition: {"r2", "wp_r2"[, "shift"]}},
    shift: mean |rating change| from the sampled renders' clean ratings in within-passage label SDs."""
    position = {int(r): i for i, r in enumerate(d.sampled)}
    clean, sample_clean = [], []
    under, shifts = {c: [] for c in CONDITIONS}, {c: [] for c in CONDITIONS}
    for fold in d.folds:
        test = d.eval_rows[fold.test]
        in_sample = np.isin(fold.test, d.sampled)
        rows = d.eval_rows[fold.test[in_sample]]
        at = [position[int(r)] for r in fold.test[in_sample]]
        pred, moved_all = predict(fold, fold_train_rows(d, fold), test, [cond[at, j] for j in range(len(CONDITIONS))])
        clean.append(evaluate(d.y[test], pred, DIMENSIONS, d.passages[test]))
        base = pred[in_sample]
        sample_clean.append(evaluate(d.y[rows], base, DIMENSIONS, d.passages[rows]))
        for name, moved in zip(CONDITIONS, moved_all):
            under[name].append(evaluate(d.y[rows], moved, DIMENSIONS, d.passages[rows]))
            shifts[name].append(np.abs(moved - base).mean() / d.wp_sd)
    row = {"clean": _headline(clean), "sample_clean": _headline(sample_clean)}
    for name in CONDITIONS:
        row[name] = {**_headline(under[name]), "shift": float(np.mean(shifts[name]))}
    return row


def baseline_line(baselines: dict[str, dict]) -> str:
    return ("In-house baselines on the same folds and training rows (clean renders of the test passages): " +
            "; ".join(f"{name.replace('_', ' ')} R² {b['r2']:.3f}, within-passage R² {b['wp_r2']:.3f}"
                      for name, b in baselines.items()) + ".")


def main() -> None:
    parser = probe_parser(__doc__)
    parser.add_argument("--ranks", type=int, nargs="+", default=[0, 2, 5, 10, 20])
    args = parser.parse_args()
    start = time.perf_counter()
    d = ProbeData.load(args.store, args.groups_per_fold, args.seed)
    table, x, y, is_eval, groups = d.table, d.x, d.y, d.is_eval, d.groups
    eval_rows, sampled, wp_sd = d.eval_rows, d.sampled, d.wp_sd
    clean_of = pd.Series(np.flatnonzero(is_eval), index=table.loc[is_eval, "source_id"])
    partner = clean_of.reindex(table["source_id"]).to_numpy()
    cond = condition_matrix(d, args.store, args.jobs)
    baselines = fold_baselines(d, args.store)

    results: dict[str, dict] = {}
    for entry in [*args.ranks, CLEAN_ONLY]:
        rank = max(entry, 0)

        def predict(fold, train, test, moved, entry=entry, rank=rank):
            if entry == CLEAN_ONLY:
                train = train[is_eval[train]]
            mean, std = x[train].mean(axis=0), np.maximum(x[train].std(axis=0), 1e-9)
            z = (x - mean) / std
            aug = train[(~is_eval[train]) & np.isin(partner[train], train)]
            p = projector(z[aug], z[partner[aug].astype(int)], rank)
            pred, *moved_all = ridge_each(z[train] @ p, y[train], groups[train], z[test] @ p,
                                          *(((m - mean) / std) @ p for m in moved))
            return pred, moved_all

        row = condition_scores(d, cond, predict)
        label = "0, clean rows only" if entry == CLEAN_ONLY else str(rank)
        results[label] = row
        print(label, json.dumps({k: {m: round(v, 3) for m, v in r.items()} for k, r in row.items()}))

    lines = [f"Ridge on `{args.store}` ({len(table)} rows: {is_eval.sum()} clean renders, {(~is_eval).sum()} "
             "augmented), leak-free passage folds (whole passage groups held out, every variant with its segment); "
             "k nuisance directions projected out of the standardised features (k = 0: plain ridge). "
             f"Clean: all {len(eval_rows)} evaluated renders; conditions: {len(sampled)} of them in "
             f"{args.groups_per_fold} whole test passage groups per fold; shift in within-passage label SDs "
             f"({wp_sd:.3f}). R² / within-passage R² / shift.", "", *result_table("k", results)]
    lines += ["", baseline_line(baselines)]
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s (the first run extracts the condition features; later runs read "
              "them from STORE/nuisance_conditions.npz)."]
    write_table(args.out, "nuisance_projection", lines,
                {"store": str(args.store), "rows": len(table), "sampled": len(sampled), "wp_label_sd": wp_sd,
                 "conditions": list(CONDITIONS), "results": results, "baselines": baselines, "wall_s": round(wall, 1)})


def result_table(first: str, results: dict) -> list[str]:
    """Markdown table of ridge probe results: per row (``first`` names the column), clean R² and
    within-passage R², the sampled renders clean, and R² / within-passage R² / shift per condition."""
    lines = [f"| {first} | clean R² | clean wp R² | sampled, clean | " + " | ".join(CONDITIONS) + " |",
             "|---|---|---|---|" + "---|" * len(CONDITIONS)]
    for label, row in results.items():
        lines.append(f"| {label} | {row['clean']['r2']:.3f} | {row['clean']['wp_r2']:.3f} | "
                     f"{row['sample_clean']['r2']:.3f} / {row['sample_clean']['wp_r2']:.3f} | " +
                     " | ".join(f"{row[c]['r2']:.3f} / {row[c]['wp_r2']:.3f} / {row[c]['shift']:.2f}"
                                for c in CONDITIONS) + " |")
    return lines


def _headline(evals: list[dict]) -> dict:
    scores = aggregate(evals, DIMENSIONS)
    return {"r2": scores["mean"]["r2"], "wp_r2": scores["within_passage"]["mean"]["r2"]}


if __name__ == "__main__":
    main()
