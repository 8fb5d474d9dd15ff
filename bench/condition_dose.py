"""Would more recordings made in rooms or through a phone make the ratings steadier there? A kernel
ridge trained with a training store's phone or room recordings thinned out, or with phone recordings
added, scored clean and under rooms and a GSM phone, on leak-free folds.

Usage: python bench/condition_dose.py [--store data/stores/multi_piano_aug0x2_comp0.3_floor35]
       [--groups-per-fold 2] [--seed 0] [--jobs 2] [--out bench/results/condition_dose]

The store's augmented recordings (`pianokit dataset augment`) drew a phone call (300-3400 Hz band
and the GSM codec) in 10 % of their recipes and a room in 70 % (pianokit.conditions.RANDOM_RECIPE).
Rooms and the GSM phone are the conditions furthest from issue 12's goals, so this asks, before a
store is rebuilt with other shares, how the rating shifts depend on how many such recordings the
model trained with: each row trains the probes' kernel ridge (bench/musicnn_probe.py, fixed
settings) on every store row outside the fold's test passage groups (three pianos, clean and
augmented), with the phone recordings, or the rooms of 0.6 s or more (the room check's limit), all
or half of them (seeded) left out, or with one more phone recording of each segment added: one of
its clean renders (a piano drawn at random) through a random recipe of the store's kind (compression
share 0.3) with the phone forced on, written as 16-bit FLAC, features extracted with the store's
config (cached in STORE/extra_phone_rows.npz). The conditions, sampled test renders and scoring are
bench/nuisance_projection.py's (its cache STORE/nuisance_conditions.npz).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from musicnn_probe import kernel_ridge  # noqa: E402
from nuisance_projection import (ProbeData, baseline_line, cached_features, condition_matrix,  # noqa: E402
                                 condition_scores, fold_baselines, in_workers, probe_parser, result_table)
from result_files import write_table  # noqa: E402

from pianokit.condition_checks import ROOM_RT60_S, recipe_of  # noqa: E402

COMPRESS_SHARE = 0.3


def phone_features(job: tuple[str, dict, int]) -> np.ndarray:
    """Features of one clean render recorded under a random recipe with the phone forced on."""
    import soundfile as sf

    from pianokit import conditions
    from pianokit.audio import load_audio
    from pianokit.contract import FeatureConfig
    from pianokit.features import extract

    path, config, seed = job
    config = FeatureConfig.from_dict(config)
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    recipe = conditions.random_recipe(np.random.default_rng(seed), COMPRESS_SHARE)
    recipe.phone = True
    with tempfile.TemporaryDirectory() as tmp:
        file = os.path.join(tmp, "phone.flac")
        sf.write(file, np.clip(conditions.apply(y.mean(axis=1), sr, recipe), -1, 1), sr, format="FLAC",
                 subtype="PCM_16")
        return extract(load_audio(file, config.sample_rate), config)[0]


def extra_phone_rows(d: ProbeData, store: Path, seed: int, jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """(features, store row of the segment's evaluated render) of one phone recording per segment,
    cached in STORE/extra_phone_rows.npz."""
    table = d.table
    clean = table[table["augmentation"].map(recipe_of).map(len) == 0]
    picked = clean.groupby("source_id").sample(1, random_state=seed)
    ids = picked["segment_id"].to_numpy().astype(str)
    x = cached_features(store / "extra_phone_rows.npz", ids,
                        lambda: in_workers(phone_features, d.config, d.features.loc[ids, "audio"].to_numpy(),
                                           seed * 100003 + np.arange(len(ids)), jobs))
    evaluated = {s: r for r, s in zip(d.eval_rows, table["source_id"].to_numpy()[d.eval_rows])}
    return x, np.array([evaluated[s] for s in picked["source_id"]])


def main() -> None:
    parser = probe_parser(__doc__, Path("data/stores/multi_piano_aug0x2_comp0.3_floor35"))
    args = parser.parse_args()
    start = time.perf_counter()
    d = ProbeData.load(args.store, args.groups_per_fold, args.seed)
    cond = np.nan_to_num(condition_matrix(d, args.store, args.jobs))
    recipes = d.table["augmentation"].map(recipe_of)
    phone = recipes.map(lambda r: r.get("phone") is True).to_numpy()
    room = recipes.map(lambda r: float(r.get("rt60") or 0.0) >= ROOM_RT60_S).to_numpy()
    half = np.random.default_rng(args.seed).random(len(d.table)) < 0.5
    extra_x, extra_of = extra_phone_rows(d, args.store, args.seed, args.jobs)
    x, extra_x = np.nan_to_num(d.x), np.nan_to_num(extra_x)
    entries = {  # label: (store rows left out, share of the extra phone recordings added)
        "every store row": (np.zeros(len(d.table), bool), 0.0),
        "no phone recordings": (phone, 0.0),
        "half the phone recordings": (phone & half, 0.0),
        f"+ {len(extra_x) // 2} phone recordings": (np.zeros(len(d.table), bool), 0.5),
        f"+ {len(extra_x)} phone recordings": (np.zeros(len(d.table), bool), 1.0),
        f"no rooms of {ROOM_RT60_S:g} s or more": (room, 0.0),
        f"half the rooms of {ROOM_RT60_S:g} s or more": (room & half, 0.0),
    }
    added = np.random.default_rng(args.seed).permutation(len(extra_x))
    results, counts = {}, {}
    for label, (left_out, share) in entries.items():
        extra = np.sort(added[: int(round(share * len(extra_x)))])

        def predict(fold, train, test, moved, left_out=left_out, extra=extra):
            train = train[~left_out[train]]
            extra = extra[~np.isin(d.groups[extra_of[extra]], d.groups[test])]
            out = kernel_ridge(np.vstack([x[train], extra_x[extra]]), np.vstack([d.y[train], d.y[extra_of[extra]]]),
                               np.vstack([x[test], *moved]))
            pred, *moved_all = np.split(np.clip(out, 0.0, 1.0), np.cumsum([len(test), *map(len, moved)])[:-1])
            return pred, moved_all

        results[label] = condition_scores(d, cond, predict)
        counts[label] = {"phone": int((phone & ~left_out).sum() + len(extra)), "room": int((room & ~left_out).sum())}
        print(label, counts[label], json.dumps({k: {m: round(v, 3) for m, v in r.items()}
                                                for k, r in results[label].items()}), flush=True)
    baselines = fold_baselines(d, args.store)
    lines = [f"Kernel ridge (bench/musicnn_probe.py's fixed settings) on `{args.store}` ({len(d.table)} rows, "
             f"{phone.sum()} through the phone, {room.sum()} in rooms of {ROOM_RT60_S:g} s or more; "
             f"{len(extra_x)} extra phone recordings made here), leak-free passage folds, every row of a test "
             f"passage group held out. Clean: all {len(d.eval_rows)} evaluated renders; conditions: "
             f"{len(d.sampled)} of them in {args.groups_per_fold} whole test passage groups per fold; "
             f"R² / within-passage R² / shift in within-passage label SDs ({d.wp_sd:.3f}).", "",
             *result_table("training rows", results), "",
             "Phone / room recordings in each row's training store (before the fold's test groups are held out): " +
             "; ".join(f"{label}: {c['phone']} / {c['room']}" for label, c in counts.items()) + ".",
             "", baseline_line(baselines)]
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s (the first run makes the extra phone recordings and the condition "
              "features; later runs read them from the store's caches)."]
    write_table(args.out, "condition_dose", lines,
                {"store": str(args.store), "rows": len(d.table), "sampled": len(d.sampled),
                 "wp_label_sd": d.wp_sd, "counts": counts, "results": results, "baselines": baselines,
                 "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
