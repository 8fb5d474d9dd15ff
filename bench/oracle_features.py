"""What would a perfect transcription add to the audio features, part by part, and how much of the
pedal part do audio proxies recover? Ridge (the in-house baseline) on leak-free folds.

Usage: python bench/oracle_features.py [--store data/stores/multi_piano_v5] [--out bench/results/oracle_features]

Rows: the store's evaluated recordings (manifest ``eval`` = 1: the clean MuseScore renders, one per
labelled segment); ridge trains and tests on them only, so "audio" here is ridge on one piano's
clean audio, not the multi-piano baseline of the model tables. Both splits of pianokit.training_data
(passage: held-out passage groups; performer: players never heard), the fold's validation rows
joined to its training rows (ridge picks its penalty by grouped inner CV).

Feature sets: the 115 audio features (features.csv); the same plus one group of the features read
from the performance MIDI (symbolic.csv: key velocities, sustain/soft pedal, timing, articulation,
notes and pitch), or plus all of them; the MIDI features alone (the symbolic reference); and two
audio pedal proxies made from the stored log-mel (the models' input), each added to the audio features:
- decay: how fast the loud cells of the log-mel fall from frame to frame (share falling faster than
  1, 2, 4, 8 dB per frame, median fall, share of frames where over 10 % / 20 % of the bands fall
  faster than 3 dB): dampers cut notes fast, a held pedal lets them ring;
- detector: a frame-wise pedal detector (gradient-boosted trees on 32-band log-mel levels and their
  changes over +-6 frames) trained on the MIDI's sustain-pedal state (CC64 >= 64), nested inside each
  fold (training segments get out-of-fold outputs of detectors trained on other training passage groups;
  test segments, a detector trained on every training segment); per segment: mean pedal probability,
  share of frames over 0.5, changes per second.
Beside each: the training mean and the player's training mean on the same folds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit.baselines import player_mean, ridge, train_mean  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.feature_names import ALL_FEATURES, PEDAL_FEATURES, SYMBOLIC_FEATURES  # noqa: E402
from pianokit.metrics import aggregate, evaluate  # noqa: E402
from pianokit.symbolic import read_notes  # noqa: E402
from pianokit.training_data import make_folds, split_groups  # noqa: E402

MIDI_GROUPS = {
    "velocity": [f for f in SYMBOLIC_FEATURES if f.startswith("velocity")],
    "pedal": list(PEDAL_FEATURES),
    "timing": ["ioi_mean", "ioi_median", "ioi_std", "ioi_cv", "log_ioi_std", "ioi_ratio_std", "ioi_ratio_abs_mean",
               "tempo_slope", "onset_spread_mean"],
    "articulation": ["duration_mean", "duration_median", "log_duration_std", "articulation_mean", "articulation_std",
                     "legato_fraction", "overlap_mean"],
    "notes_pitch": ["duration_s", "note_count", "note_density", "chord_rate", "polyphony_mean", "pitch_mean",
                    "pitch_std", "pitch_range"],
}
LAGS = (-6, -3, 0, 3, 6)
FRAME_STEP = 4


def decay_proxies(mel: np.ndarray) -> list[float]:
    """The decay proxies of one (n_mels, frames) dB log-mel."""
    s = np.maximum(mel.astype(np.float32), -80.0)
    fall = s[:, :-1] - s[:, 1:]
    loud = s[:, :-1] > s.max() - 50
    share = [float(((fall > t) & loud).sum() / max(loud.sum(), 1)) for t in (1, 2, 4, 8)]
    falling = np.where(loud & (fall > 0), fall, np.nan)
    bands = ((fall > 3) & loud).mean(axis=0)
    median = float(np.nanmedian(falling)) if np.isfinite(falling).any() else 0.0
    return share + [median, float((bands > 0.1).mean()), float((bands > 0.2).mean())]


def frame_inputs(mel: np.ndarray) -> np.ndarray:
    """Detector inputs, one row per FRAME_STEP-th frame: 32-band levels relative to the loudest band,
    and band changes at the LAGS."""
    s = np.maximum(mel.astype(np.float32), -80.0)
    bands = s[: s.shape[0] // 4 * 4].reshape(-1, 4, s.shape[1]).mean(axis=1)
    change = np.diff(bands, axis=1, prepend=bands[:, :1])
    rows = np.concatenate([np.roll(change, k, axis=1) for k in LAGS] + [bands - bands.max()], axis=0).T
    return rows[::FRAME_STEP]


def pedal_states(midi: str, n_frames: int, frame_rate: float) -> np.ndarray:
    """Sustain pedal down (CC64 >= 64) at every FRAME_STEP-th frame time."""
    _, controls = read_notes(midi)
    events = controls.get(64, [])
    times = np.arange(0, n_frames, FRAME_STEP) / frame_rate
    if not events:
        return np.zeros(len(times))
    at = np.array([t for t, _ in events])
    values = np.array([v for _, v in events])
    index = np.searchsorted(at, times, side="right") - 1
    return np.where(index >= 0, values[np.clip(index, 0, None)], 0) >= 64


def detector_summary(p: np.ndarray, frame_rate: float) -> list[float]:
    down = np.convolve(p, np.ones(3) / 3, "same") > 0.5
    seconds = len(p) * FRAME_STEP / frame_rate
    return [float(p.mean()), float(down.mean()), float(np.abs(np.diff(down.astype(int))).sum() / max(seconds, 1e-3))]


def detector_features(frames: list[np.ndarray], states: list[np.ndarray], train: np.ndarray, test: np.ndarray,
                      groups: np.ndarray, frame_rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment summaries of the detector for ``train`` (out of fold, inner grouped CV) and ``test``."""
    def fit(rows: np.ndarray):
        x = np.concatenate([frames[i] for i in rows])[::2]
        y = np.concatenate([states[i] for i in rows])[::2]
        return HistGradientBoostingClassifier(max_iter=300, random_state=seed).fit(x, y)

    def summarise(model, rows: np.ndarray) -> np.ndarray:
        return np.array([detector_summary(model.predict_proba(frames[i])[:, 1], frame_rate) for i in rows])

    inner = np.zeros((len(train), 3))
    for fit_rows, out_rows in GroupKFold(3).split(train, groups=groups[train]):
        inner[out_rows] = summarise(fit(train[fit_rows]), train[out_rows])
    return inner, summarise(fit(train), test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_v5"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    config = json.loads((args.store / "config.json").read_text())
    frame_rate = config["sample_rate"] / config["hop_length"]
    table = pd.read_csv(args.store / "manifest.csv")
    table = table[table["eval"] == 1].reset_index(drop=True)
    ids = table["segment_id"].tolist()
    audio = pd.read_csv(args.store / "features.csv").set_index("id").loc[ids, list(ALL_FEATURES)].to_numpy(float)
    midi = pd.read_csv(args.store / "symbolic.csv").set_index("id").loc[ids]
    mels = [np.load(args.store / "mels" / f"{i}.npy") for i in ids]
    decay = np.array([decay_proxies(m) for m in mels])
    frames = [frame_inputs(m) for m in mels]
    states = [pedal_states(path, m.shape[1], frame_rate)[: len(f)] for path, m, f in zip(table["midi"], mels, frames)]
    y = table[list(DIMENSIONS)].to_numpy(float)
    groups = split_groups(table)
    players = table["performer"].astype(str).to_numpy()

    sets = {"audio": audio, **{f"audio + MIDI {g}": np.hstack([audio, midi[c].to_numpy(float)])
                               for g, c in MIDI_GROUPS.items()},
            "audio + all MIDI": np.hstack([audio, midi[list(SYMBOLIC_FEATURES)].to_numpy(float)]),
            "MIDI alone (symbolic reference)": midi[list(SYMBOLIC_FEATURES)].to_numpy(float),
            "audio + log-mel decay (pedal proxy)": np.hstack([audio, decay])}
    results: dict[str, dict] = {}
    proxy_r: dict[str, dict] = {}
    for split in ("passage", "performer"):
        folds = make_folds(table, split)
        names = [*sets, "audio + pedal detector", "training mean", "player mean"]
        per_fold: dict[str, list[dict]] = {name: [] for name in names}
        detector, truth = [], []
        for fold in folds:
            train, test = np.concatenate([fold.train, fold.val]), fold.test
            preds = {name: ridge(x[train], y[train], x[test], groups[train]) for name, x in sets.items()}
            inner, outer = detector_features(frames, states, train, test, groups, frame_rate, args.seed)
            preds["audio + pedal detector"] = ridge(np.hstack([audio[train], inner]), y[train],
                                                    np.hstack([audio[test], outer]), groups[train])
            preds["training mean"] = train_mean(y[train], len(test))
            preds["player mean"] = player_mean(y[train], players[train], players[test])
            for name, p in preds.items():
                per_fold[name].append(evaluate(y[test], p, DIMENSIONS, table["passage"].to_numpy()[test]))
            detector.append(outer[:, 1])
            truth.append(midi["pedal_down_fraction"].to_numpy(float)[test])
        for name, evals in per_fold.items():
            scores = aggregate(evals, DIMENSIONS)
            results.setdefault(name, {})[split] = {
                "mean": scores["mean"], "within_passage": scores["within_passage"]["mean"],
                "per_dimension_r2": {d: scores["per_dimension"][d]["r2"] for d in DIMENSIONS}}
        proxy_r[split] = {"detector_pedal_down_share": float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(detector, truth)])),
                          "decay_fall_over_2dB": float(np.mean([np.corrcoef(decay[f.test, 1], b)[0, 1]
                                                                for f, b in zip(folds, truth)]))}

    base = {s: results["audio"][s]["mean"]["r2"] for s in ("passage", "performer")}
    lines = [f"Ridge on the {len(table)} clean MuseScore renders of `{args.store}` (the evaluated rows), leak-free "
             "folds; scores are means over the folds' test sets, as in the model tables; \"new players\" is the "
             "performer split. Gain = R² minus the audio row's.", "",
             "| features | R² | gain | within-passage R² | within-passage r | new players: R² | gain | "
             "new players: within-passage R² | new players: within-passage r |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        p, q = r["passage"], r["performer"]
        lines.append(f"| {name} | {p['mean']['r2']:.3f} | {p['mean']['r2'] - base['passage']:+.3f} | "
                     f"{p['within_passage']['r2']:.3f} | {p['within_passage']['r']:.3f} | {q['mean']['r2']:.3f} | "
                     f"{q['mean']['r2'] - base['performer']:+.3f} | {q['within_passage']['r2']:.3f} | "
                     f"{q['within_passage']['r']:.3f} |")
    lines += ["", "Pedal proxies against the MIDI's share of time with the sustain pedal down (r over each fold's "
              f"test segments, mean over folds): passage split {json.dumps({k: round(v, 3) for k, v in proxy_r['passage'].items()})}, "
              f"new players {json.dumps({k: round(v, 3) for k, v in proxy_r['performer'].items()})}.",
              f"Wall time {time.perf_counter() - start:.0f} s on this machine."]
    write_table(args.out, "oracle_features", lines, {"rows": len(table), "store": str(args.store), "results": results,
                                                     "pedal_proxy_r": proxy_r,
                                                     "wall_s": round(time.perf_counter() - start, 1)})


if __name__ == "__main__":
    main()
