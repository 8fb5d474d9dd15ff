"""How often the scorer's condition checks (pianokit.condition_checks: a reverberant room, a phone
call) fire, by room and recording condition, on passages their fit never saw.

Usage: python bench/condition_checks.py --store STORE [--piano NAME=AUDIO_DIR ...]
       [--rt60 0.4 0.8 1.5] [--per-fold 40] [--seed 0] [--jobs 2] [--out bench/results/condition_checks]

For each passage fold of STORE (a multi-piano training store whose manifest carries the augmentation
recipes), the checks are fitted as `pianokit export` fits them, on the fold's training and validation
rows, and applied to every row of the fold's held-out passage groups: each piano's clean renders,
augmented recordings without a room (gain and microphone colour, plus noise, a phone, a codec or
compression as their recipes drew), and rooms by RT60 band (pyroomacoustics, as in training).
Recordings the store does not hold, for the same held-out segments (``--per-fold`` clean renders
drawn per fold):
- rooms from another simulator: the clean render convolved with a direct sound plus a tail of
  exponentially decaying noise, decaying faster above 4 kHz and slower below 500 Hz, at a drawn
  direct-to-reverberant ratio (-3 to +6 dB), for each ``--rt60``;
- a phone's 300-3400 Hz band without the codec, and the GSM phone stored as 16-bit samples at the
  render's own level (as bench/robustness.py writes it; the quantisation noise fills the band above
  4 kHz that the codec emptied);
- other pianos (``--piano NAME=DIR``: renders of the same MIDI, files named by segment).
Features are extracted as `pianokit extract` does (trim, then pianokit.features.extract with the
store's FeatureConfig, noise floor included).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import write_table  # noqa: E402

from pianokit import condition_checks  # noqa: E402
from pianokit.training_data import load_training_data, make_folds  # noqa: E402

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
    """Features of one file, clean or under one condition (``kind``: "clean", "room" with an RT60,
    "phone_band" or "gsm16"), read and trimmed as `pianokit extract` does."""
    from pianokit import conditions
    from pianokit.audio import load_audio, trim_ends
    from pianokit.contract import FeatureConfig
    from pianokit.features import extract

    path, config, kind, rt60, seed = job
    config = FeatureConfig.from_dict(config)
    sr = config.sample_rate
    y = load_audio(path, sr, config.min_duration).astype(np.float64)
    if kind == "room":
        y = noise_tail_room(y, sr, rt60, np.random.default_rng(seed))
    elif kind in ("phone_band", "gsm16"):
        y = conditions.phone(y, sr, codec=kind == "gsm16").astype(np.float64)
        if kind == "gsm16":
            y = np.round(np.clip(y, -1, 1) * 32767) / 32767
    y, _ = trim_ends(np.clip(y, -1, 1).astype(np.float32), sr)
    return extract(y, config)[0]


def extracted(jobs: list[tuple], n_jobs: int) -> np.ndarray:
    from pianokit.parallel import run_parallel

    done = {}
    for item, result, error in run_parallel(features_of, jobs, n_jobs, "condition check audio"):
        if error:
            raise SystemExit(error)
        done[item[:1] + item[2:4]] = result
    return np.stack([done[j[:1] + j[2:4]] for j in jobs])


def category(source: str, recipe: dict) -> str:
    """The row's kind: a clean render (per piano), an augmented recording without a room (by what its
    recipe drew), or a room band."""
    if source in CLEAN_SOURCES:
        return f"clean render: {source}"
    rt60 = recipe.get("rt60") or 0.0
    if rt60:
        lo, hi = next(b for b in BANDS if b[0] <= rt60 < b[1])
        return f"room {lo:g}-{min(hi, 2.0):g} s" + (" + phone" if recipe.get("phone") else "")
    drawn = [name for name, key in (("noise", "noise"), ("phone", "phone"), ("codec", "codec"),
                                    ("compression", "compress")) if recipe.get(key)]
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
    recipes = [condition_checks.recipe_of(a) for a in table.get("augmentation", pd.Series([None] * len(table)))]
    kinds = np.array([category(s, r) for s, r in zip(table["source"], recipes)])
    pianos = dict(p.split("=", 1) for p in args.piano)
    rng = np.random.default_rng(args.seed)
    checked = list(condition_checks.CONDITIONS)
    variants = [("clean", 0.0)] + [("room", r) for r in args.rt60] + [("phone_band", 0.0), ("gsm16", 0.0)]
    labels = (["clean render: musescore, extracted again here"] + [f"noise-tail room, RT60 {r:g} s" for r in args.rt60]
              + ["phone band 300-3400 Hz, no codec", "GSM phone, 16-bit at the render's level"])

    probs = {name: np.full(len(table), np.nan) for name in checked}
    extra: dict[str, dict[str, list]] = {}
    for fold in make_folds(table, "passage"):
        fit_rows = np.concatenate([fold.train, fold.val])
        checks = condition_checks.fit(x[fit_rows], [recipes[i] for i in fit_rows], names)
        held = np.flatnonzero(table["fold_passage"].to_numpy() == fold.index)
        sample = rng.choice(fold.test, size=min(args.per_fold, len(fold.test)), replace=False)
        ids = table["source_id"].to_numpy()[sample]
        jobs = [(str(table["audio"].iloc[i]), config, kind, r, args.seed * 100003 + int(i)) for i in sample
                for kind, r in variants]
        jobs += [(str(Path(d) / f"{s}.wav"), config, "clean", 0.0, 0) for d in pianos.values() for s in ids]
        features = extracted(jobs, args.jobs)
        k, v = len(sample), len(variants)
        for name in checked:
            probs[name][held] = condition_checks.probability(checks[name], x[held])
            p = condition_checks.probability(checks[name], features)
            per = p[: k * v].reshape(k, v)
            for j, label in enumerate(labels):
                extra.setdefault(label, {}).setdefault(name, []).extend(per[:, j])
            for j, piano in enumerate(pianos):
                extra.setdefault(f"clean render: {piano} (never in the store)", {}).setdefault(name, []).extend(
                    p[k * v + j * k: k * v + (j + 1) * k])

    rows = {kind: {name: probs[name][kinds == kind] for name in checked} for kind in sorted(set(kinds))}
    rows.update({label: {name: np.asarray(v) for name, v in by.items()} for label, by in extra.items()})
    limit = condition_checks.WARN_PROBABILITY
    lines = [f"Condition checks (logistic regression on the {len(names)} features; "
             + "; ".join(f"{name}: {c.definition}" for name, c in condition_checks.CONDITIONS.items())
             + f"; warning at probability {limit:g}) fitted per passage fold on `{args.store}`'s training rows "
             "and applied to the fold's held-out passage groups.", "",
             "| recordings | n | " + " | ".join(f"{name} warned" for name in checked) + " |",
             "|---|---|" + "---|" * len(checked)]
    results = {}
    for kind, by in rows.items():
        n = len(next(iter(by.values())))
        results[kind] = {"n": int(n), **{f"{name}_warned": float(np.mean(by[name] >= limit)) for name in checked},
                         **{f"{name}_mean_probability": float(np.mean(by[name])) for name in checked}}
        lines.append(f"| {kind} | {n} | " + " | ".join(f"{100 * np.mean(by[name] >= limit):.1f} %"
                                                        for name in checked) + " |")
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s ({args.jobs} jobs)."]
    write_table(args.out, "condition_checks", lines, {"store": str(args.store), "rt60_s": condition_checks.ROOM_RT60_S,
                                                       "warn_probability": limit, "results": results,
                                                       "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
