"""Do musicnn's embeddings move less under rooms, a GSM phone and noise than the audio features?
The musicnn probe's kernel ridge, scored on held-out renders made again under recording conditions.

Usage: python bench/musicnn_conditions.py --store data/stores/multi_piano_aug0x2_comp0.3_floor35
       [--cache data/musicnn_probe] [--groups-per-fold 2] [--seed 0] [--jobs 2]
       [--augmented] [--out bench/results/musicnn_conditions]

The conditions, sampled passage groups and seeds are bench/nuisance_projection.py's (rooms of 0.8
and 2 s, the GSM phone line, 20 dB pink noise; two whole test passage groups per passage fold), the
condition features extracted with the store's feature config (cached in
CACHE/conditions_features.npz) and the musicnn embeddings of the same audio (CACHE/conditions_embeddings.npz;
bench/musicnn_probe.py's models, inputs and cache). Trained on the clean evaluated renders only,
so every shift is larger than a model trained with augmentation would show
(bench/results/nuisance_projection.md, its last row): what this compares is how far each input
moves a model that never heard a room. With --augmented, each training segment's first augmented
MuseScore recording in the store (`@aug1@musescore_aug`: a random room, noise, colouring, phone,
codec or compression, `pianokit dataset augment`) is trained on as well, its musicnn embedding
computed here (CACHE/augmented_embeddings.npz): the way the shipped recipe learns steadiness. Kernel
ridge as in bench/musicnn_probe.py (PCA 16 per embedding, fitted on the fold's training rows).
Shift: mean |rating change| from the clean render, in within-passage label SDs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from musicnn_probe import MODELS, embed, fetch_checkpoints, frozen_graph, kernel_ridge, patches_of, reduce  # noqa: E402
from nuisance_projection import (CONDITIONS, SR, ProbeData, _headline, condition_audio,  # noqa: E402
                                 condition_features, in_workers, probe_parser, result_table)
from result_files import write_table  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402

COMBOS = {"audio features": (), "+ musicnn MSD": ("MSD_musicnn",), "+ musicnn MTT": ("MTT_musicnn",)}


def condition_embeddings(data: ProbeData, cache: Path) -> dict[str, np.ndarray]:
    """{model: (sampled, 1 + conditions, 1706)}: each sampled render as the loader reads it (the
    clean reference), then the same condition audio condition_features makes (same seed, same
    order of draws), embedded by musicnn."""
    from pianokit.audio import load_audio

    file = cache / "conditions_embeddings.npz"
    ids = data.evaluated["segment_id"].to_numpy()[data.sampled].astype(str)
    if not file.is_file() or list(np.load(file)["ids"]) != list(ids):
        folder = fetch_checkpoints(cache)
        sessions = {m: frozen_graph(folder / m) for m in MODELS}
        rows = []
        for path, seed in zip(data.sampled_audio(), data.seeds()):
            y = load_audio(str(path), SR)
            rng = np.random.default_rng(int(seed))
            moved = [np.clip(condition_audio(y, name, rng), -1, 1).astype(np.float32) for name in CONDITIONS]
            rows.append([embed(sessions, x=patches_of(m, SR)) for m in [y, *moved]])
        np.savez(file, ids=ids, **{m: np.array([[cond[m] for cond in row] for row in rows]) for m in MODELS})
    cached = np.load(file)
    return {m: cached[m] for m in MODELS}


def augmented_rows(data: ProbeData) -> tuple[np.ndarray, np.ndarray]:
    """(store rows, evaluated rows of their segments) of each segment's first augmented MuseScore
    recording."""
    table = data.table
    rows = np.flatnonzero(table["segment_id"].str.endswith("@aug1@musescore_aug").to_numpy())
    position = {source: i for i, source in enumerate(data.evaluated["source_id"])}
    return rows, np.array([position[source] for source in table["source_id"].to_numpy()[rows]])


def augmented_embeddings(data: ProbeData, rows: np.ndarray, cache: Path) -> dict[str, np.ndarray]:
    """{model: (rows, 1706)} of the augmented recordings at store ``rows``."""
    file = cache / "augmented_embeddings.npz"
    ids = data.table["segment_id"].to_numpy()[rows].astype(str)
    if not file.is_file() or list(np.load(file)["ids"]) != list(ids):
        folder = fetch_checkpoints(cache)
        sessions = {m: frozen_graph(folder / m) for m in MODELS}
        done = [embed(sessions, str(path)) for path in data.table["audio"].to_numpy()[rows]]
        np.savez(file, ids=ids, **{m: np.array([d[m] for d in done]) for m in MODELS})
    cached = np.load(file)
    return {m: cached[m] for m in MODELS}


def main() -> None:
    parser = probe_parser(__doc__)
    parser.add_argument("--cache", type=Path, default=Path("data/musicnn_probe"))
    parser.add_argument("--augmented", action="store_true",
                        help="also train on each segment's first augmented MuseScore recording")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start = time.perf_counter()
    data = ProbeData.load(args.store, args.groups_per_fold, args.seed)
    ids = data.evaluated["segment_id"].to_numpy()
    clean_emb = {m: np.load(args.cache / f"emb_{m}.npy") for m in MODELS}
    if any(len(e) != len(ids) for e in clean_emb.values()):
        raise SystemExit(f"{args.cache}: embeddings of another store; run bench/musicnn_probe.py --store {args.store}")
    features_file = args.cache / "conditions_features.npz"
    if features_file.is_file() and list(np.load(features_file)["ids"]) == list(ids[data.sampled]):
        cond_x = np.load(features_file)["features"]
    else:
        cond_x = in_workers(condition_features, data.config, data.sampled_audio(), data.seeds(), args.jobs)
        np.savez(features_file, ids=ids[data.sampled].astype(str), features=cond_x)
    cond_emb = condition_embeddings(data, args.cache)
    aug_rows, aug_of = augmented_rows(data) if args.augmented else (np.zeros(0, int), np.zeros(0, int))
    aug_emb = augmented_embeddings(data, aug_rows, args.cache) if args.augmented else \
        {m: np.zeros((0, clean_emb[m].shape[1])) for m in MODELS}
    aug_x = data.x[aug_rows]

    x = data.x[data.eval_rows]
    y = data.y[data.eval_rows]
    passages = data.passages[data.eval_rows]
    position = {int(r): i for i, r in enumerate(data.sampled)}
    results: dict[str, dict] = {}
    for label, parts in COMBOS.items():
        clean_evals, sample_clean = [], []
        cond_evals = {c: [] for c in CONDITIONS}
        shifts = {c: [] for c in CONDITIONS}
        for fold in data.folds:
            train = np.concatenate([fold.train, fold.val])
            extra = np.flatnonzero(np.isin(aug_of, train))
            test = fold.test
            rows = test[np.isin(test, data.sampled)]
            at = [position[int(r)] for r in rows]
            inputs = [(np.vstack([x[train], aug_x[extra]]), x[test], [cond_x[at, j] for j in range(len(CONDITIONS))])]
            for m in parts:
                e = clean_emb[m].copy()
                e[rows] = cond_emb[m][at, 0]
                stacked = np.concatenate([e[test], *[cond_emb[m][at, 1 + j] for j in range(len(CONDITIONS))]])
                every = np.concatenate([e, aug_emb[m], stacked])
                tr, rest = reduce(every, np.concatenate([train, len(e) + extra]),
                                  len(e) + len(aug_emb[m]) + np.arange(len(stacked)), 16)
                moved = np.split(rest[len(test):], len(CONDITIONS))
                inputs.append((tr, rest[:len(test)], moved))
            x_train = np.hstack([i[0] for i in inputs])
            x_test = np.hstack([i[1] for i in inputs])
            x_moved = [np.hstack([i[2][j] for i in inputs]) for j in range(len(CONDITIONS))]
            y_train = np.vstack([y[train], y[aug_of[extra]]])
            pred = kernel_ridge(np.nan_to_num(x_train), y_train, np.nan_to_num(np.vstack([x_test, *x_moved])))
            clean, *moved = np.split(pred, np.cumsum([len(test)] + [len(rows)] * (len(CONDITIONS) - 1)))
            clean_evals.append(evaluate(y[test], clean, DIMENSIONS, passages[test]))
            base = clean[np.isin(test, data.sampled)]
            sample_clean.append(evaluate(y[rows], base, DIMENSIONS, passages[rows]))
            for name, p in zip(CONDITIONS, moved):
                cond_evals[name].append(evaluate(y[rows], p, DIMENSIONS, passages[rows]))
                shifts[name].append(np.abs(p - base).mean() / data.wp_sd)
        row = {"clean": _headline(clean_evals), "sample_clean": _headline(sample_clean)}
        for name in CONDITIONS:
            row[name] = {**_headline(cond_evals[name]), "shift": float(np.mean(shifts[name]))}
        results[label] = row

    wall = time.perf_counter() - start
    trained = (f"the {len(ids)} clean renders of `{args.store}` and one augmented MuseScore recording of each "
               f"({len(aug_rows)})" if args.augmented else
               f"the {len(ids)} clean renders of `{args.store}` (no augmented recordings)")
    lines = [f"Kernel ridge trained on {trained} (training folds' rows), "
             f"leak-free passage folds; conditions on {len(data.sampled)} held-out renders in "
             f"{args.groups_per_fold} whole test passage groups per fold; shift in within-passage label SDs "
             f"({data.wp_sd:.3f}). R² / within-passage R² / shift.", "", *result_table("inputs", results), "",
             f"Wall time {wall:.0f} s (condition features and embeddings cached in {args.cache} after the first run)."]
    write_table(args.out, "musicnn_conditions", lines,
                {"store": str(args.store), "augmented": bool(args.augmented), "sampled": len(data.sampled),
                 "wp_label_sd": data.wp_sd,
                 "conditions": list(CONDITIONS), "results": results, "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
