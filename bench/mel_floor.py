"""Would a higher log-mel floor make the librosa features steadier under codecs, noise and rooms,
without costing accuracy? Measured with ridge regression (pianokit.baselines.ridge), leak-free folds.

Usage:
  python bench/mel_floor.py [--store data/stores/multi_piano_v5] [--run runs/hybrid_lite0_v5_ens5]
                            [--floors -100 -80 -70] [--work runs/mel_floor] [--out bench/results/mel_floor]

The floor of the log-mel the librosa features read (-100 dB below full scale of the level-normalised
audio in feature version 4, where it was mel_floor_db; FeatureConfig.feature_floor_db since version
5, which this measurement led to) clips quiet bands; codecs and noise change what lies near it. For
each floor, the 79 librosa features of every store row are computed again (cached in --work; the
store's own values are used for its floor) and joined with the store's 36 transcription features,
which do not depend on it.
1. Accuracy: ridge on the 115 features, trained on each fold's training rows (every piano and
   augmented recording the manifest marks for training), scored on the held-out clean renders.
2. Steadiness: the same fold models rate the segments and conditions of bench/robustness.py (the
   run's robustness_ratings.csv, seed 0), librosa features made again at each floor under each
   condition while the transcription features keep their clean values (so the shift is the librosa
   features' part alone): mean |rating shift| from clean in within-passage label SDs, and R².
Ridge is the in-house baseline, not the shipped hybrid: this asks whether the features get steadier,
which a retrained model has to confirm (bench/results/robustness.md measures the shipped one).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402
from robustness import conditions, evaluated_rows, run_data  # noqa: E402

from pianokit.audio import load_audio  # noqa: E402
from pianokit.baselines import ridge  # noqa: E402
from pianokit.contract import SEGMENT_SECONDS  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.features import extract  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402
from pianokit.parallel import run_parallel  # noqa: E402
from pianokit.store import FeatureStore  # noqa: E402
from pianokit.variants import role_mask  # noqa: E402

CONDITIONS = ("clean", "reverb_0.8s", "reverb_2.0s", "noise_pink_30dB", "phone_gsm", "ogg_low")


def librosa_features(audio: str, config) -> np.ndarray:
    """``config.features`` of one audio file, read as `pianokit extract` reads it (pianokit.audio.load_audio)."""
    return extract(load_audio(audio, config.sample_rate, config.min_duration, SEGMENT_SECONDS), config)[0]


def compute_features(audio: list[str], config, jobs: int, label: str) -> np.ndarray:
    """``librosa_features`` of every file, (len(audio), len(config.features)), in parallel; stops on a failure."""
    worker = functools.partial(librosa_features, config=config)
    done = {}
    for path, result, error in run_parallel(worker, audio, jobs, label, progress=True):
        if error:
            raise SystemExit(f"{path}: {error}")
        done[path] = result
    return np.array([done[a] for a in audio]).reshape(len(audio), len(config.features))


def conditioned_features(job: tuple[str, str], configs: dict) -> dict:
    """{(condition, floor): librosa features} of one robustness segment (bench/robustness.py's draw)."""
    segment_id, audio = job
    y, _ = sf.read(audio, dtype="float64")
    rng = np.random.default_rng([0, *str(segment_id).encode()])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = conditions(y, None, rng, Path(tmp))
        for name in CONDITIONS:
            z, _ = sf.read(files[name], dtype="float32", always_2d=True)
            for floor, config in configs.items():
                out[(name, floor)] = extract(z.mean(axis=1), config)[0]
    return out


def store_features(store: FeatureStore, ids: list[str], floor: float, config, work: Path) -> pd.DataFrame:
    """Librosa features of ``ids`` at ``floor`` (the store's own when it was made with that floor)."""
    names = list(config.features)
    table = store.table.set_index("id")
    if floor == store.config.feature_floor_db:
        return table.loc[ids, names]
    cache = work / f"features_{int(floor)}.csv"
    if not cache.is_file():
        values = compute_features([str(table.loc[i, "audio"]) for i in ids], config, 2, f"floor {floor:g}")
        pd.DataFrame(values, index=ids, columns=names).rename_axis("id").to_csv(cache)
    return pd.read_csv(cache, index_col="id").loc[ids, names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_v5"))
    parser.add_argument("--run", type=Path, default=Path("runs/hybrid_lite0_v5_ens5"),
                        help="run whose robustness_ratings.csv names the segments (and whose manifest is used)")
    parser.add_argument("--floors", type=float, nargs="+", default=[-100.0, -80.0, -70.0])
    parser.add_argument("--work", type=Path, default=Path("runs/mel_floor"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    store = FeatureStore.open(args.store)
    librosa_names = [n for n in store.config.features if not n.startswith("tr_")]
    transcribed = [n for n in store.config.features if n.startswith("tr_")]
    configs = {f: dataclasses.replace(store.config, features=tuple(librosa_names), feature_floor_db=f)
               for f in args.floors}
    data = run_data(args.run)
    table, wp_sd = evaluated_rows(args.run, data)
    rows = data.table.reset_index(drop=True)
    train, evaluated = role_mask(rows, "train"), role_mask(rows, "eval")
    ids = rows["segment_id"].astype(str).tolist()
    tr_values = store.table.set_index("id").loc[ids, transcribed].to_numpy(float)
    labels = rows[list(DIMENSIONS)].to_numpy(float)
    folds, groups = rows["fold_passage"].to_numpy(), rows["passage_group"].astype(str).to_numpy()
    ratings = pd.read_csv(args.run / "robustness_ratings.csv")
    segments = ratings[ratings["condition"] == "clean"][["segment_id", "fold"]]
    audio = table.set_index("segment_id").loc[segments["segment_id"], "audio"].astype(str)
    cache = args.work / "conditions.pkl"
    if cache.is_file():
        conditioned = pd.read_pickle(cache)
    else:
        worker = functools.partial(conditioned_features, configs=configs)
        conditioned = {}
        for (sid, _), result, error in run_parallel(worker, list(zip(segments["segment_id"], audio)), 2,
                                                    "conditions", progress=True):
            if error:
                raise SystemExit(f"{sid}: {error}")
            conditioned[sid] = result
        pd.to_pickle(conditioned, cache)
    seg_tr = store.table.set_index("id").loc[segments["segment_id"], transcribed].to_numpy(float)
    seg_truth = table.set_index("segment_id").loc[segments["segment_id"], list(DIMENSIONS)].to_numpy(float)
    seg_passages = table.set_index("segment_id").loc[segments["segment_id"], "passage"].astype(str).to_numpy()
    results = {}
    for floor in args.floors:
        x = np.hstack([store_features(store, ids, floor, configs[floor], args.work).to_numpy(float), tr_values])
        cv_r2, cv_wp, rated = [], [], {c: np.zeros((len(segments), len(DIMENSIONS))) for c in CONDITIONS}
        for k in sorted(set(folds)):
            fit_rows, test_rows = train & (folds != k), evaluated & (folds == k)
            inside = (segments["fold"] == k).to_numpy()
            tests = [x[test_rows]] + [np.hstack([np.array([conditioned[s][(c, floor)] for s in
                                                           segments["segment_id"][inside]]), seg_tr[inside]])
                                      for c in CONDITIONS]
            preds = ridge(x[fit_rows], labels[fit_rows], np.vstack(tests), groups[fit_rows])
            n = int(test_rows.sum())
            ev = evaluate(labels[test_rows], preds[:n], DIMENSIONS, rows["passage"].astype(str).to_numpy()[test_rows])
            cv_r2.append(ev["mean"]["r2"])
            cv_wp.append(ev["within_passage"]["mean"]["r2"])
            per = int(inside.sum())
            for j, c in enumerate(CONDITIONS):
                rated[c][inside] = preds[n + j * per: n + (j + 1) * per]
        entry = {"cv_r2": float(np.mean(cv_r2)), "cv_within_passage_r2": float(np.mean(cv_wp)), "conditions": {}}
        for c in CONDITIONS:
            entry["conditions"][c] = {
                "r2": evaluate(seg_truth, rated[c], DIMENSIONS, seg_passages)["mean"]["r2"],
                "shift": float(np.abs(rated[c] - rated["clean"]).mean()) / wp_sd}
        results[f"{floor:g}"] = entry
        print(floor, entry, flush=True)
    cols = [c for c in CONDITIONS if c != "clean"]
    lines = [f"Ridge on 79 librosa features (made at each floor) + 36 transcription features, trained on the "
             f"training rows of `{args.run}`'s manifest, leak-free passage folds; steadiness on its "
             f"{len(segments)} robustness segments (shift in within-passage label SDs, {wp_sd:.3f}; librosa features "
             f"made under each condition, transcription features held at their clean values).", "",
             "| mel floor (dB) | CV R² | CV wp R² | clean R² | " + " | ".join(f"{c}: shift / R²" for c in cols) + " |",
             "|---|---|---|---|" + "---|" * len(cols)]
    for floor, e in results.items():
        lines.append(f"| {floor} | {e['cv_r2']:.3f} | {e['cv_within_passage_r2']:.3f} | "
                     f"{e['conditions']['clean']['r2']:.3f} | " + " | ".join(
                         f"{e['conditions'][c]['shift']:.2f} / {e['conditions'][c]['r2']:.3f}" for c in cols) + " |")
    write_table(args.out, "mel_floor", lines, {"floors": args.floors, "results": results})


if __name__ == "__main__":
    main()
