"""How often the scorer's room check (pianokit.room_check) fires, by room and recording condition,
on passages its fit never saw.

Usage: python bench/room_check.py --store STORE [--piano NAME=AUDIO_DIR ...] [--rt60 0.4 0.8 1.5]
       [--per-fold 40] [--seed 0] [--jobs 2] [--out bench/results/room_check]

For each passage fold of STORE (a multi-piano training store whose manifest carries the augmentation
recipes), the check is fitted as `pianokit export` fits it, on the fold's training and validation
rows, and applied to every row of the fold's held-out passage groups: each piano's clean renders,
augmented recordings without a room (gain and microphone colour, plus noise, a phone, a codec or
compression as their recipes drew), and rooms by RT60 band (pyroomacoustics, as in training).
Two kinds of recording the store does not hold, for the same held-out segments (``--per-fold`` clean
renders drawn per fold):
- rooms from another simulator: the clean render convolved with a direct sound plus a tail of
  exponentially decaying noise, decaying faster above 4 kHz and slower below 500 Hz, at a drawn
  direct-to-reverberant ratio (-3 to +6 dB), for each ``--rt60``;
- other pianos (``--piano NAME=DIR``: renders of the same MIDI, files named by segment).
Features are extracted as `pianokit extract` does (trim, then pianokit.features.extract with the
store's FeatureConfig, noise floor included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import write_table  # noqa: E402

from pianokit import room_check  # noqa: E402
from pianokit.training_data import load_training_data, make_folds  # noqa: E402

SR = 22050
BANDS = ((0.2, 0.4), (0.4, 0.6), (0.6, 1.0), (1.0, 2.01))
CLEAN_SOURCES = ("musescore", "fluidr3", "timgm")


def noise_tail_room(y: np.ndarray, sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` through a direct sound plus an exponentially decaying noise tail (RMS kept)."""
    from scipy.signal import butter, fftconvolve, sosfilt

    n = int(1.5 * rt60 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    tail = np.zeros(n)
    for kind, edges, factor in (("lowpass", 500.0, 1.3), ("bandpass", (500.0, 4000.0), 1.0), ("highpass", 4000.0, 0.5)):
        band = sosfilt(butter(4, edges, kind, fs=sr, output="sos"), noise)
        tail += band * np.exp(-6.91 * t / (rt60 * factor))
    tail[: int(0.005 * sr)] = 0.0
    drr_db = rng.uniform(-3.0, 6.0)
    tail *= np.sqrt(1.0 / (np.sum(tail**2) * 10 ** (drr_db / 10)))
    ir = tail
    ir[0] += 1.0
    wet = fftconvolve(y, ir)[: len(y) + int(0.5 * rt60 * sr)]
    return wet * np.sqrt(np.mean(y**2) / max(np.mean(wet**2), 1e-20))


def features_of(job: tuple) -> np.ndarray:
    """Features of one file, clean or in a noise-tail room, read and trimmed as `pianokit extract` does."""
    from pianokit.audio import load_audio, trim_ends
    from pianokit.contract import FeatureConfig
    from pianokit.features import extract

    path, config, rt60, seed = job
    config = FeatureConfig.from_dict(config)
    y = load_audio(path, config.sample_rate, config.min_duration)
    if rt60:
        y = np.clip(noise_tail_room(y.astype(np.float64), config.sample_rate, rt60, np.random.default_rng(seed)),
                    -1, 1).astype(np.float32)
    y, _ = trim_ends(y, config.sample_rate)
    return extract(y, config)[0]


def extracted(jobs: list[tuple], n_jobs: int) -> np.ndarray:
    from pianokit.parallel import run_parallel

    done = {}
    for item, result, error in run_parallel(features_of, jobs, n_jobs, "room check audio"):
        if error:
            raise SystemExit(error)
        done[(item[0], item[2])] = result
    return np.stack([done[(j[0], j[2])] for j in jobs])


def category(source: str, recipe) -> str:
    """The row's kind: a clean render (per piano), an augmented recording without a room (by what its
    recipe drew), or a room band."""
    if source in CLEAN_SOURCES:
        return f"clean render: {source}"
    r = json.loads(recipe) if isinstance(recipe, str) else {}
    rt60 = r.get("rt60") or 0.0
    if rt60:
        lo, hi = next(b for b in BANDS if b[0] <= rt60 < b[1])
        return f"room {lo:g}-{min(hi, 2.0):g} s"
    drawn = [name for name, key in (("noise", "noise"), ("phone", "phone"), ("codec", "codec"),
                                    ("compression", "compress")) if r.get(key)]
    return "no room: " + (" + ".join(drawn) if drawn else "gain / colour only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--piano", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--rt60", type=float, nargs="+", default=[0.4, 0.8, 1.5])
    parser.add_argument("--per-fold", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    data = load_training_data(args.store, with_mels=False)
    table, x = data.table, data.features
    names = list(data.store.config.features)
    config = data.store.config.to_dict()
    rt60 = np.array([room_check.rt60_of(a) for a in table.get("augmentation", pd.Series([None] * len(table)))])
    kinds = np.array([category(s, a) for s, a in zip(table["source"], table.get("augmentation"))])
    pianos = dict(p.split("=", 1) for p in args.piano)
    rng = np.random.default_rng(args.seed)

    probs = np.full(len(table), np.nan)
    extra: dict[str, list] = {}
    for fold in make_folds(table, "passage"):
        check = room_check.fit(x[np.concatenate([fold.train, fold.val])],
                               rt60[np.concatenate([fold.train, fold.val])], names)
        held = np.flatnonzero(table["fold_passage"].to_numpy() == fold.index)
        probs[held] = room_check.probability(check, x[held])
        sample = rng.choice(fold.test, size=min(args.per_fold, len(fold.test)), replace=False)
        ids = table["source_id"].to_numpy()[sample]
        jobs = [(str(table["audio"].iloc[i]), config, r, args.seed * 100003 + int(i)) for i in sample
                for r in [0.0, *args.rt60]]
        jobs += [(str(Path(d) / f"{s}.wav"), config, 0.0, 0) for d in pianos.values() for s in ids]
        p = room_check.probability(check, extracted(jobs, args.jobs))
        k = len(sample)
        per = np.asarray(p[: k * (1 + len(args.rt60))]).reshape(k, -1)
        extra.setdefault("clean render: musescore, extracted again here", []).extend(per[:, 0])
        for j, r in enumerate(args.rt60):
            extra.setdefault(f"noise-tail room, RT60 {r:g} s", []).extend(per[:, 1 + j])
        for j, name in enumerate(pianos):
            extra.setdefault(f"clean render: {name} (never in the store)", []).extend(
                p[k * (1 + len(args.rt60)) + j * k: k * (1 + len(args.rt60)) + (j + 1) * k])

    rows = {}
    for kind in sorted(set(kinds)):
        mask = kinds == kind
        rows[kind] = probs[mask]
    rows.update({k: np.asarray(v) for k, v in extra.items()})
    limit = room_check.WARN_PROBABILITY
    lines = [f"Room check (logistic regression on the {len(names)} features, room = RT60 of at least "
             f"{room_check.ROOM_RT60_S:g} s, warning at probability {limit:g}) fitted per passage fold on "
             f"`{args.store}`'s training rows and applied to the fold's held-out passage groups.", "",
             "| recordings | n | warned | mean probability |", "|---|---|---|---|"]
    results = {}
    for kind, p in rows.items():
        results[kind] = {"n": int(len(p)), "warned": float(np.mean(p >= limit)), "mean_probability": float(np.mean(p))}
        lines.append(f"| {kind} | {len(p)} | {100 * np.mean(p >= limit):.1f} % | {np.mean(p):.3f} |")
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s ({args.jobs} jobs)."]
    write_table(args.out, "room_check", lines, {"store": str(args.store), "rt60_s": room_check.ROOM_RT60_S,
                                                 "warn_probability": limit, "results": results,
                                                 "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
