"""Would a common room under every recording, in training and scoring, make ratings steadier in
real rooms, as the common noise floor did for noise? A probe with ridge, before any model is
trained that way.

Usage:
  python bench/room_floor_probe.py --store data/stores/ms_aug0_floor35 [--rt60 1.0] [--jobs 2]
                                   [--out bench/results/room_floor_probe]

Every recording of the store (clean renders and augmented ones) and each sampled test render under
the conditions of bench/nuisance_projection.py (same segments and seeds: rooms of 0.8 and 2 s, GSM
phone, 20 dB pink noise) is convolved with one fixed room (pianokit.conditions.room_impulse_response
with a fixed seed, RT60 --rt60 s, RMS kept, tail kept as `reverberate` keeps it) and then goes
through the store's own feature extraction (its noise floor included). Ridge, trained per passage
fold on the floored store rows, rates the floored test renders; the same ridge on the store's own
features (no room floor; condition features from STORE/nuisance_conditions.npz) is the reference.
Reported for both: R² and within-passage R² clean and under each condition, and the mean |rating
shift| in within-passage label SDs. The floored features are cached in
STORE/room_floor_<rt60>.npz. In-house baselines on the same folds: bench/nuisance_projection.py.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from nuisance_projection import (CONDITIONS, SR, ProbeData, _headline, condition_audio, in_workers,  # noqa: E402
                                 probe_parser, result_table, ridge_each)
from result_files import write_table  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402

FLOOR_ROOM_SEED = 20261203


@functools.lru_cache(maxsize=2)
def floor_response(rt60: float) -> np.ndarray:
    from pianokit.conditions import room_impulse_response

    return room_impulse_response(rt60, SR, np.random.default_rng(FLOOR_ROOM_SEED))


def room_floor(y: np.ndarray, rt60: float) -> np.ndarray:
    """``y`` in the fixed floor room, RMS kept, with the first part of the tail (as `reverberate`)."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(y, floor_response(rt60))[: len(y) + int(0.5 * rt60 * SR)]
    return np.clip(wet * np.sqrt(np.mean(y ** 2) / (np.mean(wet ** 2) + 1e-20)), -1, 1).astype(np.float32)


def _config(config: dict):
    from pianokit.contract import FeatureConfig

    return FeatureConfig.from_dict({k: v for k, v in config.items() if k != "room_floor_rt60"})


def row_features(job: tuple[str, dict, int]) -> np.ndarray:
    """Features of one store recording over the floor room."""
    from pianokit.audio import load_audio
    from pianokit.features import extract

    path, config, _ = job
    return extract(room_floor(load_audio(path, SR), config["room_floor_rt60"]), _config(config))[0]


def condition_row_features(job: tuple[str, dict, int]) -> np.ndarray:
    """(clean + conditions, features) of one sampled render over the floor room, the conditions
    drawn as bench/nuisance_projection.py draws them."""
    from pianokit.audio import load_audio
    from pianokit.features import extract

    path, config, seed = job
    rt60, cfg = config["room_floor_rt60"], _config(config)
    y = load_audio(path, SR)
    rng = np.random.default_rng(seed)
    variants = [y] + [np.clip(condition_audio(y, name, rng), -1, 1).astype(np.float32) for name in CONDITIONS]
    return np.stack([extract(room_floor(a, rt60), cfg)[0] for a in variants])


def main() -> None:
    parser = probe_parser(__doc__)
    parser.add_argument("--rt60", type=float, default=1.0)
    args = parser.parse_args()
    start = time.perf_counter()
    d = ProbeData.load(args.store, args.groups_per_fold, args.seed)
    config = {**d.config, "room_floor_rt60": args.rt60}
    sampled_ids = d.evaluated["segment_id"].to_numpy()[d.sampled].astype(str)
    cache = args.store / f"room_floor_{args.rt60:g}.npz"
    cached = np.load(cache) if cache.is_file() else None
    if cached is not None and list(cached["ids"]) == list(d.table["segment_id"].astype(str)) \
            and list(cached["sampled"]) == list(sampled_ids):
        floored, floored_cond = cached["rows"], cached["conditions"]
    else:
        audio = d.features.loc[d.table["segment_id"], "audio"].to_numpy()
        floored_cond = in_workers(condition_row_features, config, d.sampled_audio(), d.seeds(), args.jobs)
        floored = in_workers(row_features, config, audio, np.zeros(len(audio)), args.jobs)
        np.savez(cache, ids=np.asarray(d.table["segment_id"], dtype=str), sampled=sampled_ids, rows=floored,
                 conditions=floored_cond)
    plain = np.load(args.store / "nuisance_conditions.npz")
    if list(plain["ids"]) != list(sampled_ids):
        raise SystemExit("run bench/nuisance_projection.py on this store first (its condition features)")
    plain_cond = np.concatenate([d.x[d.eval_rows[d.sampled]][:, None], plain["features"]], axis=1)

    results = {}
    for name, x, cond in (("no room floor", d.x, plain_cond), (f"room floor {args.rt60:g} s", floored, floored_cond)):
        cond_of = {int(r): cond[i] for i, r in enumerate(d.sampled)}
        clean_evals, sub_clean = [], []
        cond_evals, shifts = {c: [] for c in CONDITIONS}, {c: [] for c in CONDITIONS}
        for fold in d.folds:
            test = d.eval_rows[fold.test]
            train = np.flatnonzero(~np.isin(d.groups, list(set(d.groups[test]))))
            rows = fold.test[np.isin(fold.test, d.sampled)]
            truth, where = d.y[d.eval_rows[rows]], d.passages[d.eval_rows[rows]]
            per_variant = [np.stack([cond_of[int(r)][j] for r in rows]) for j in range(1 + len(CONDITIONS))]
            pred, base, *moved_all = ridge_each(x[train], d.y[train], d.groups[train], x[test], *per_variant)
            clean_evals.append(evaluate(d.y[test], pred, DIMENSIONS, d.passages[test]))
            sub_clean.append(evaluate(truth, base, DIMENSIONS, where))
            for c, moved in zip(CONDITIONS, moved_all):
                cond_evals[c].append(evaluate(truth, moved, DIMENSIONS, where))
                shifts[c].append(np.abs(moved - base).mean() / d.wp_sd)
        row = {"clean": _headline(clean_evals), "sample_clean": _headline(sub_clean)}
        for c in CONDITIONS:
            row[c] = {**_headline(cond_evals[c]), "shift": float(np.mean(shifts[c]))}
        results[name] = row
        print(name, row)

    lines = [f"Ridge on `{args.store}` ({len(d.table)} rows), leak-free passage folds; with and without one "
             f"fixed room (RT60 {args.rt60:g} s, seed {FLOOR_ROOM_SEED}) under every recording before extraction, "
             f"in training and scoring. Clean: all {len(d.eval_rows)} evaluated renders; conditions: "
             f"{len(d.sampled)} of them in {args.groups_per_fold} whole test passage groups per fold (as in "
             f"bench/nuisance_projection.py); shift in within-passage label SDs ({d.wp_sd:.3f}). "
             "R² / within-passage R² / shift.", "", *result_table("features", results)]
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s (the first run extracts the floored features; later runs read them "
              f"from {cache.name})."]
    write_table(args.out, "room_floor_probe", lines,
                {"store": str(args.store), "rt60": args.rt60, "seed": FLOOR_ROOM_SEED, "rows": len(d.table),
                 "sampled": len(d.sampled), "wp_label_sd": d.wp_sd, "conditions": list(CONDITIONS),
                 "results": results, "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
