"""Where do rating shifts under a room, noise, a phone or a codec come from: the hand-made features
or the spectrogram branch, and which feature groups? And does leaving the most sensitive groups out
of training make a model steadier?

Usage:
  python bench/shift_sources.py [--run runs/hybrid_lite0_aug3_ens5] [--runs runs/shift_sources]
                                [--drop NAME=FEATURES ...] [--out bench/results/shift_sources]

Uses the segments and conditions of bench/robustness.py (RUN/robustness_ratings.csv must exist; the
same seeded conditions are made again) and RUN's fold models (ONNX, RUN/onnx/).
1. Per condition, the mean |rating shift| (in within-passage label SDs, 0.097) when the condition
   reaches every input, only the features, or only the log-mel windows (the other input clean).
2. Per feature group: the shift when only that group's features come from the condition.
3. For each --drop candidate (a `pianokit fit --features` list) and for all features, one model
   (the shipped recipe, one member, seed 0) is trained into --runs, and its fold models rate the
   same segments from the cached features, with the clean log-mel windows: clean R², shifts, and
   the model's cross-validated R² / within-passage R² on the passage folds.
Parts 2 and 3 hold the log-mel input clean, so they measure the feature path only.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from pianos import RECIPES  # noqa: E402
from result_files import fit_once, write_table  # noqa: E402
from robustness import conditions, evaluated_rows, fold_models  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402

CONDITIONS = ("reverb_0.8s", "reverb_2.0s", "noise_pink_30dB", "phone_gsm", "ogg_low")
GROUPS = {
    "librosa timing": ["tempo", "pulse_clarity", "onset_rate", "ioi_*"],
    "MFCC means": ["mfcc*_mean"],
    "MFCC SDs": ["mfcc*_std"],
    "spectral contrast": ["contrast*"],
    "spectral shape": ["spectral_*"],
    "chroma / tonal": ["chroma_*", "tonnetz*", "key_strength"],
    "harmonic ratio": ["harmonic_ratio"],
    "onset strength / attack / decay": ["onset_strength_*", "attack_time", "decay_rate"],
    "RMS level": ["rms_*"],
    "transcribed timing": ["tr_duration_s", "tr_note_count", "tr_note_density", "tr_chord_rate", "tr_polyphony_mean",
                           "tr_ioi*", "tr_log_ioi_std", "tr_tempo_slope", "tr_onset_spread_mean"],
    "transcribed velocity": ["tr_velocity*"],
    "transcribed articulation": ["tr_duration_mean", "tr_duration_median", "tr_log_duration_std", "tr_articulation*",
                                 "tr_legato_fraction", "tr_overlap_mean"],
    "transcribed pitch / keys": ["tr_pitch*", "tr_active_keys_mean", "tr_onset_peak_mean"],
}


def group_index(names: list[str]) -> dict[str, list[int]]:
    out = {g: [i for i, n in enumerate(names) if any(fnmatch.fnmatch(n, p) for p in patterns)]
           for g, patterns in GROUPS.items()}
    covered = sorted(i for ii in out.values() for i in ii)
    if covered != list(range(len(names))):
        missing = sorted(set(range(len(names))) - set(covered))
        raise SystemExit(f"feature groups must cover every feature exactly once; check {[names[i] for i in missing]}")
    return out


def rate(scorer, features: np.ndarray, mel: np.ndarray, index: list[int] | None = None) -> np.ndarray:
    """Mean over windows of one segment's ratings from one feature vector and its log-mel windows."""
    f = features if index is None else features[index]
    inputs = {"features": np.repeat(f[None].astype(np.float32), len(mel), axis=0), "mel": mel.astype(np.float32)}
    return scorer.session.run(None, inputs)[0].mean(axis=0)


def segment_inputs(scorer, path: Path) -> dict[str, np.ndarray]:
    from pianokit.audio import read_segments

    pieces = list(read_segments(path, scorer.config.sample_rate, scorer.segment_seconds, scorer.config.min_duration))
    if len(pieces) != 1:
        raise SystemExit(f"{path}: longer than one scoring segment")
    inputs = scorer.inputs_for(pieces[0][1])
    return {"features": inputs["features"][0], "mel": inputs["mel"]}


def first_pass(run: Path, table: pd.DataFrame, wp_sd: float, cache: Path) -> dict:
    """Parts 1 and 2 on RUN's fold models (``table``: its evaluated rows by segment_id, ``wp_sd``: their
    within-passage label SD); caches every segment's clean and conditioned features."""
    from pianokit.scorer import Scorer

    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    ratings = pd.read_csv(run / "robustness_ratings.csv")
    segments = ratings[ratings["condition"] == "clean"][["segment_id", "fold"]].to_numpy()
    scorers = {k: Scorer(path, "cpu") for k, path in fold_models(run).items()}
    groups = group_index(list(scorers[0].metadata.feature_names))
    paths = {c: {"all inputs": [], "features only": [], "log-mel only": []} for c in CONDITIONS}
    by_group = {c: {g: [] for g in groups} for c in CONDITIONS}
    cached = {}
    for n, (segment_id, fold) in enumerate(segments):
        scorer = scorers[int(fold)]
        y, _ = sf.read(table.loc[segment_id, "audio"], dtype="float64")
        rng = np.random.default_rng([0, *str(segment_id).encode()])  # bench/robustness.py's draw (--seed 0)
        with tempfile.TemporaryDirectory() as tmp:
            files = conditions(y, None, rng, Path(tmp))
            clean = segment_inputs(scorer, files["clean"])
            cached[segment_id] = {"fold": int(fold), "clean": clean["features"], "mel": clean["mel"].astype(np.float16)}
            base = rate(scorer, clean["features"], clean["mel"])
            for c in CONDITIONS:
                x = segment_inputs(scorer, files[c])
                cached[segment_id][c] = x["features"]
                paths[c]["all inputs"].append(np.abs(rate(scorer, x["features"], x["mel"]) - base).mean())
                paths[c]["features only"].append(np.abs(rate(scorer, x["features"], clean["mel"]) - base).mean())
                paths[c]["log-mel only"].append(np.abs(rate(scorer, clean["features"], x["mel"]) - base).mean())
                for g, idx in groups.items():
                    mixed = clean["features"].copy()
                    mixed[idx] = x["features"][idx]
                    by_group[c][g].append(np.abs(rate(scorer, mixed, clean["mel"]) - base).mean())
        print(f"{n + 1}/{len(segments)} segments", flush=True)
    result = {"wp_sd": wp_sd, "names": list(scorers[0].metadata.feature_names), "segments": cached,
              "paths": {c: {k: float(np.mean(v)) / wp_sd for k, v in p.items()} for c, p in paths.items()},
              "groups": {c: {g: float(np.mean(v)) / wp_sd for g, v in p.items()} for c, p in by_group.items()}}
    cache.write_bytes(pickle.dumps(result))
    return result


def candidate(name: str, features: str, store: str, runs: Path, cached: dict, table: pd.DataFrame) -> dict:
    """Part 3 for one feature list: train (once), then rate the cached segments clean and conditioned."""
    from pianokit.scorer import Scorer

    folder = runs / name
    recipe = RECIPES["hybrid_lite0"]
    fit_once([*recipe[:recipe.index("--features")], "--features", features, "--epochs", "200",
              "--patience", "15", "--batch-size", "128", "--store", store], folder)
    scorers = {k: Scorer(path, "cpu") for k, path in fold_models(folder).items()}
    index = [cached["names"].index(n) for n in scorers[0].metadata.feature_names]
    ids = list(cached["segments"])
    rated = {c: np.array([rate(scorers[cached["segments"][s]["fold"]], cached["segments"][s][c],
                               cached["segments"][s]["mel"], index) for s in ids]) for c in ("clean", *CONDITIONS)}
    truth = table.loc[ids, list(DIMENSIONS)].to_numpy(float)
    passages = table.loc[ids, "passage"].astype(str).to_numpy()
    metrics = json.loads((folder / "metrics.json").read_text())["model"]
    return {"features": features, "n_features": len(index), "cv_r2": metrics["mean"]["r2"],
            "cv_within_passage_r2": metrics["within_passage"]["mean"]["r2"],
            "clean_r2": evaluate(truth, rated["clean"], DIMENSIONS, passages)["mean"]["r2"],
            "shift": {c: float(np.abs(rated[c] - rated["clean"]).mean()) / cached["wp_sd"] for c in CONDITIONS},
            "r2": {c: evaluate(truth, rated[c], DIMENSIONS, passages)["mean"]["r2"] for c in CONDITIONS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/hybrid_lite0_aug3_ens5"))
    parser.add_argument("--runs", type=Path, default=Path("runs/shift_sources"), help="part 3's run folders")
    parser.add_argument("--drop", action="append", default=[], metavar="NAME=FEATURES",
                        help="a candidate feature list for part 3, e.g. 'no_timing=all,-tempo,-onset_rate'")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.runs.mkdir(parents=True, exist_ok=True)
    table, wp_sd = evaluated_rows(args.run)
    table = table.set_index("segment_id", drop=False)
    cached = first_pass(args.run, table, wp_sd, args.runs / "inputs.pkl")
    store = json.loads((args.run / "config.json").read_text())["store"]
    candidates = {"all features": candidate("all", "all", store, args.runs, cached, table)}
    for item in args.drop:
        name, _, features = item.partition("=")
        candidates[name] = candidate(name, features, store, args.runs, cached, table)
    cols = " | ".join(CONDITIONS)
    lines = [f"Run `{args.run}`, its {len(cached['segments'])} robustness segments (bench/robustness.py, seed 0); "
             f"shift = mean |rating change| / within-passage label SD ({cached['wp_sd']:.3f}).", "",
             "Which input carries the shift (the other input clean):", "", f"| condition reaches | {cols} |",
             "|---|" + "---|" * len(CONDITIONS)]
    for path in ("all inputs", "features only", "log-mel only"):
        lines.append(f"| {path} | " + " | ".join(f"{cached['paths'][c][path]:.2f}" for c in CONDITIONS) + " |")
    lines += ["", "Only one feature group from the condition (log-mel clean):", "", f"| feature group | {cols} |",
              "|---|" + "---|" * len(CONDITIONS)]
    for g in GROUPS:
        lines.append(f"| {g} | " + " | ".join(f"{cached['groups'][c][g]:.2f}" for c in CONDITIONS) + " |")
    lines += ["", "Trained without groups (one member, seed 0; shifts and R² on the segments above with clean "
              "log-mel; CV on the passage folds):", "",
              "| features | n | CV R² | CV wp R² | clean R² | " + " | ".join(f"{c}: shift / R²" for c in CONDITIONS) + " |",
              "|---|---|---|---|---|" + "---|" * len(CONDITIONS)]
    for name, r in candidates.items():
        lines.append(f"| {name} | {r['n_features']} | {r['cv_r2']:.3f} | {r['cv_within_passage_r2']:.3f} | "
                     f"{r['clean_r2']:.3f} | " + " | ".join(f"{r['shift'][c]:.2f} / {r['r2'][c]:.3f}"
                                                          for c in CONDITIONS) + " |")
    write_table(args.out, "shift_sources", lines, {
        "run": str(args.run), "wp_sd": cached["wp_sd"], "input_paths": cached["paths"], "groups": cached["groups"],
        "group_patterns": GROUPS, "candidates": candidates})


if __name__ == "__main__":
    main()
