"""How much of a new piano's loss is its static tone colour, and does training on strongly coloured
copies of the training pianos win it back? Leave-one-piano-out (FluidR3 held out), leak-free folds.

Usage:
  python bench/piano_colour.py [--runs runs/pianos_x3] [--store data/stores/multi_piano_aug0x3] [--data data]
                               [--seeds 0 1] [--out bench/results/piano_colour]

Needs the `without_fluidr3` run of bench/pianos.py in --runs (trained on MuseScore and TimGM6mb and
their augmented recordings, scored on FluidR3's clean renders).

1. Oracle EQ: the average spectrum of FluidR3's renders is matched to MuseScore's (one static EQ,
   from --pairs renders of the same MIDI on both pianos, smoothed to 1/3 octave; no labels), and the
   held-out FluidR3 renders are rated again through that run's fold models (exported to ONNX, the
   real scorer). Also with the EQ's straight-line fit over log frequency only (a tilt). If the EQ
   wins back the loss, the loss is static colour.
2. Wide colour training: one copy of every MuseScore and TimGM6mb clean render through a random EQ
   far wider than the training store's microphone colouring (pianokit.conditions.RANDOM_RECIPE):
   WIDE_COLOUR below, nothing else. These rows join the training rows of `without_fluidr3`, and
   the fit is repeated (--seeds; the run without them is fitted again for each seed other than 0).
   The copies and their store rows are kept (data/<piano dir>_colour<seed>, the store).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from pianos import RECIPES, extract_missing, per_piano  # noqa: E402
from result_files import fit_once, write_table  # noqa: E402
from robustness import fold_models  # noqa: E402
from training_store import RENDER_DIRS  # noqa: E402

from pianokit.atomic import atomic_path  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.manifest import read_manifest, write_csv_atomic  # noqa: E402
from pianokit.metrics import aggregate, evaluate, headline  # noqa: E402
from pianokit.parallel import run_parallel  # noqa: E402

N_FFT, HOP = 2048, 512
HELD_OUT, REFERENCE, COLOURED = "fluidr3", "musescore", ("musescore", "timgm")
WIDE_COLOUR = {"low_shelf_db": (-12.0, 12.0), "high_shelf_db": (-18.0, 12.0), "bell_hz": (200.0, 5000.0),
               "bell_db": (-12.0, 12.0)}


def spectrum(path: str) -> np.ndarray:
    y, _ = sf.read(path, dtype="float32")
    return (np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2).mean(axis=1)


def oracle_eq(table: pd.DataFrame, pairs: int, sr: int, seed: int) -> dict[str, np.ndarray]:
    """dB gain per STFT bin that moves the held-out piano's average spectrum onto the reference's
    (median 0 dB, 1/3-octave smoothing), and its straight-line fit over log2 frequency (50 Hz - 10 kHz)."""
    held = table[table["source"] == HELD_OUT]
    ref = table[table["source"] == REFERENCE].set_index("source_id")
    chosen = held.iloc[np.random.default_rng(seed).choice(len(held), min(pairs, len(held)), replace=False)]
    mean = {}
    for name, paths in ((HELD_OUT, chosen["audio"]), (REFERENCE, ref.loc[chosen["source_id"], "audio"])):
        spectra = [r for _, r, e in run_parallel(spectrum, list(paths), 2, "spectra", progress=False) if e is None]
        mean[name] = 10 * np.log10(np.mean(spectra, axis=0) + 1e-12)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    raw = mean[REFERENCE] - mean[HELD_OUT]
    smooth = np.array([raw[(freqs >= f / 2 ** (1 / 6)) & (freqs <= f * 2 ** (1 / 6))].mean() if f > 30 else raw[1]
                       for f in freqs])
    smooth = np.clip(smooth - np.median(smooth), -30, 30)
    octave = np.log2(np.maximum(freqs, 30.0))
    fit_band = (freqs > 50) & (freqs < 10000)
    tilt = np.polyval(np.polyfit(octave[fit_band], smooth[fit_band], 1), octave)
    return {"freqs": freqs, "eq": smooth, "tilt": tilt}


def equalised(y: np.ndarray, gain_db: np.ndarray) -> np.ndarray:
    spec = librosa.stft(y, n_fft=N_FFT, hop_length=HOP) * (10 ** (gain_db / 20))[:, None]
    out = librosa.istft(spec, hop_length=HOP, length=len(y))
    return 0.5 * out / max(1e-9, float(np.abs(out).max()))


_SCORERS: dict = {}


def rate_equalised(job: tuple[str, str, str], curves: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """{curve name: ratings} of one recording through each EQ curve, by its fold's model."""
    from pianokit.scorer import Scorer

    audio, model, _ = job
    if model not in _SCORERS:
        _SCORERS[model] = Scorer(model, "cpu")
    y, sr = sf.read(audio, dtype="float32")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, curve in curves.items():
            path = Path(tmp) / f"{name}.wav"
            sf.write(path, equalised(y, curve), sr)
            out[name] = _SCORERS[model].score_file(path).ratings
    return out


def scores_by_fold(table: pd.DataFrame, preds: pd.DataFrame) -> dict[str, float]:
    """Mean over folds of R², within-passage R² and within-passage r of a predictions table
    (segment_id, pred_*); ``table`` is indexed by segment_id."""
    evals = []
    rows = table.loc[preds["segment_id"]]
    for _, part in preds.groupby(rows["fold_passage"].to_numpy()):
        info = table.loc[part["segment_id"]]
        evals.append(evaluate(info[list(DIMENSIONS)].to_numpy(float),
                              part[[f"pred_{d}" for d in DIMENSIONS]].to_numpy(float),
                              DIMENSIONS, info["passage"].astype(str).to_numpy()))
    return headline(aggregate(evals, DIMENSIONS))


def oracle_part(run: Path, pairs: int, seed: int) -> dict:
    table = pd.read_csv(run.with_suffix(".csv")).set_index("segment_id", drop=False)
    sr = sf.info(table["audio"].iloc[0]).samplerate
    curves = oracle_eq(table, pairs, sr, seed)
    cache = run / "colour_ratings.csv"
    if not cache.is_file():
        models = fold_models(run)
        held = table[table["source"] == HELD_OUT]
        jobs = [(a, str(models[int(k)]), s) for s, a, k in zip(held["segment_id"], held["audio"], held["fold_passage"])]
        worker = functools.partial(rate_equalised, curves={"eq": curves["eq"], "tilt": curves["tilt"]})
        rows = []
        for (_, _, sid), result, error in run_parallel(worker, jobs, 2, "rate", progress=True):
            if error:
                raise SystemExit(f"{sid}: {error}")
            rows += [{"segment_id": sid, "curve": name, **{f"pred_{d}": v for d, v in r.items()}}
                     for name, r in result.items()]
        pd.DataFrame(rows).to_csv(cache, index=False)
    rated = pd.read_csv(cache)
    original = pd.concat([pd.read_csv(p) for p in sorted(run.glob("fold*/predictions.csv"))])
    original = original[original["segment_id"].isin(rated["segment_id"])]
    freqs = curves["freqs"]
    return {"as_rendered": scores_by_fold(table, original),
            **{f"through_{name}": scores_by_fold(table, part) for name, part in rated.groupby("curve")},
            "eq_db_at_hz": {str(f): round(float(np.interp(f, freqs, curves["eq"])), 1)
                            for f in (100, 250, 500, 1000, 2000, 4000, 8000)},
            "tilt_db_per_octave": round(float(np.polyfit(np.log2(freqs[(freqs > 50) & (freqs < 10000)]),
                                                         curves["tilt"][(freqs > 50) & (freqs < 10000)], 1)[0]), 2)}


def colour_one(job: tuple[str, str, int], audio_dir: Path, seed: int) -> dict:
    """One render through a random wide EQ (WIDE_COLOUR), written as FLAC; returns its manifest fields."""
    from pianokit import conditions
    from pianokit.variants import variant_seed

    segment_id, audio, _ = job
    rng = variant_seed(seed, segment_id, 0)
    c = WIDE_COLOUR
    params = (round(float(rng.uniform(*c["low_shelf_db"])), 2), round(float(rng.uniform(*c["high_shelf_db"])), 2),
              round(float(np.exp(rng.uniform(*np.log(c["bell_hz"])))), 1), round(float(rng.uniform(*c["bell_db"])), 2))
    target = audio_dir / f"{segment_id}@colour.flac"
    if not target.is_file():
        y, sr = sf.read(audio, dtype="float32")
        out = conditions.colour(y, sr, *params)
        with atomic_path(target) as tmp:  # an interrupted run leaves no half file for the next to reuse
            sf.write(tmp, 0.5 * out / max(1e-9, float(np.abs(out).max())), sr, format="FLAC", subtype="PCM_16")
    return {"variant_id": f"{segment_id}@colour", "audio": str(target.resolve()),
            "augmentation": f'{{"colour": {list(params)}}}'}


def coloured_manifest(data: Path, piano: str, seed: int) -> Path:
    """data/<piano dir>_colour<seed>/manifest.csv: one widely coloured copy of each clean render."""
    from pianokit.variants import write_variants

    out = data / f"{RENDER_DIRS[piano]}_colour{seed}"
    if not (out / "manifest.csv").is_file():
        source = read_manifest(data / RENDER_DIRS[piano] / "manifest.csv", labelled=True)
        worker = functools.partial(colour_one, audio_dir=out / "audio", seed=seed)
        _, failures = write_variants(source, out, worker, 1, seed, 2, True, f"colour {piano}")
        if failures:  # no manifest that a rerun would take as complete
            (out / "manifest.csv").unlink()
            audio, error = failures[0]
            raise SystemExit(f"{audio}: {error}")
    return out / "manifest.csv"


def with_coloured(base: Path, coloured: dict[str, Path], out: Path) -> Path:
    """The run's combined manifest plus the coloured copies as training-only rows (ids <id>@<name>)."""
    if out.is_file():
        return out
    from pianokit.variants import combine_manifests

    extra = combine_manifests(coloured, train=list(coloured), eval_names=list(coloured))
    extra["eval"] = 0
    table = pd.concat([pd.read_csv(base), extra], ignore_index=True)
    write_csv_atomic(table, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/pianos_x3"))
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--pairs", type=int, default=150, help="renders per piano for the average spectra")
    parser.add_argument("--seed", type=int, default=0, help="seed of the render sample and of the colours")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds of part 2")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    base = args.runs / f"without_{HELD_OUT}"
    if not (base / "metrics.json").is_file():
        raise SystemExit(f"{base}: run bench/pianos.py --runs {args.runs} first")
    oracle = oracle_part(base, args.pairs, args.seed)
    print("oracle EQ:", oracle, flush=True)
    coloured = {f"{p}_colour": coloured_manifest(args.data, p, args.seed) for p in COLOURED}
    trained = {}
    for seed in args.seeds:
        for name, manifest in (("without", base.with_suffix(".csv")),
                               ("with", with_coloured(base.with_suffix(".csv"), coloured,
                                                      args.runs / f"without_{HELD_OUT}_colour.csv"))):
            if name == "with":
                extract_missing(manifest, args.store)
            folder = base if (name, seed) == ("without", 0) else \
                args.runs / f"without_{HELD_OUT}{'_colour' if name == 'with' else ''}_seed{seed}"
            if folder != base:
                fit_once([*RECIPES["hybrid_lite0"], "--epochs", str(args.epochs), "--patience", "15", "--batch-size",
                          str(args.batch_size), "--seed", str(seed), "--store", str(args.store), "--manifest",
                          str(manifest)], folder)
            trained[f"{name}_colour_seed{seed}"] = {"run": str(folder), **per_piano(folder, manifest)[HELD_OUT]}
            print(name, seed, trained[f"{name}_colour_seed{seed}"], flush=True)
    lines = [f"FluidR3 held out (run {base}: trained on MuseScore and TimGM6mb + their augmented recordings), "
             "R² and within-passage R² on FluidR3's clean renders, leak-free passage folds, mean over folds. "
             f"In-piano (FluidR3 trained on): see bench/results/pianos_x3.md (0.296 / 0.217).", "",
             "| FluidR3 renders | R² | within-passage R² |", "|---|---|---|"]
    for key, label in (("as_rendered", "as rendered"), ("through_eq", "through the oracle EQ (FluidR3 -> MuseScore)"),
                       ("through_tilt", "through its straight-line tilt only")):
        lines.append(f"| {label} | {oracle[key]['r2']:.3f} | {oracle[key]['within_passage_r2']:.3f} |")
    lines += ["", f"Oracle EQ (dB at Hz): {oracle['eq_db_at_hz']}; tilt {oracle['tilt_db_per_octave']} dB/octave.", "",
              "| training seed | without coloured copies: R² | wp R² | with them: R² | wp R² |", "|---|---|---|---|---|"]
    for seed in args.seeds:
        a, b = trained[f"without_colour_seed{seed}"], trained[f"with_colour_seed{seed}"]
        lines.append(f"| {seed} | {a['r2']:.3f} | {a['within_passage_r2']:.3f} | {b['r2']:.3f} | "
                     f"{b['within_passage_r2']:.3f} |")
    write_table(args.out, "piano_colour", lines, {"wide_colour": WIDE_COLOUR, "oracle": oracle, "training": trained})


if __name__ == "__main__":
    main()
