"""Would a piano transcription that hears the pedal and the key velocities add to the audio features?
A probe on leak-free folds with Transkun's pretrained model, before building anything.

Usage: (1) in a Python with torch and Transkun:
           python bench/transkun_probe.py transcribe [--store data/stores/multi_piano_aug0x3_comp0.3_floor35]
                  [--cache data/transkun_probe] [--jobs 2]
       (2) in pianokit's environment:
           python bench/transkun_probe.py evaluate [--store ...] [--cache ...] [--out bench/results/transkun_probe]

bench/results/oracle_features.md found that what the audio features lack against the performance
MIDI is mostly the pedal (+0.045 R² to ridge) and the key velocities (+0.034); basic-pitch, the
shipped transcription front-end, hears neither. Transkun (Yujia Yan; MIT licence; PyPI `transkun`
2.0.1, whose wheel holds its pretrained 2.0 checkpoint, trained on MAESTRO's real recordings)
transcribes piano audio into notes with velocities and sustain / soft pedal events. It needs
PyTorch, which pianokit must not depend on, so step (1) runs in another environment:
`pip install torch==2.13.0` (CPU), `pip install --no-deps transkun`, `pip install ncls pretty_midi
mir_eval moduleconf soxr soundfile pandas`. torchaudio is only used to build the mel filter bank
buffer that the checkpoint then fills, so a stub stands in for it (checked: the loaded bank is not
empty). Each of the store's evaluated recordings (the 1189 clean MuseScore renders) is
level-normalised to -26 dBFS RMS (pianokit's ratings must not depend on level), resampled to
44.1 kHz, and its first 16 s (all of the median recording, 13.6 s) transcribed as one segment:
the model's own overlapping 16 s segments (8 s apart, 8 s of padding at each end) cost three times
as much, longer than this probe could take for 6.6 hours of audio; CACHE/<id>.mid, written
atomically, finished files skipped.

Step (2) reads each transcription with pianokit.symbolic's note reader and computes the 39 features
of the MIDI-derived symbolic reference over its first 16 s, and the same from the performance MIDI
over the same 16 s (the oracle it is compared with), and asks, with ridge (the in-house baseline) and pianokit.kernel_ridge at fixed
settings, both splits: the 115 audio features, + the transcription's pedal / velocity / all
features, beside the same with the performance MIDI's own (the oracle), and the pedal / all of it
beside 48 principal components of the store's Lite0 embeddings (as the shipped kernel ridge reads);
plus how closely each transcribed feature follows the MIDI's (Pearson r over the recordings) and
the in-house baselines.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RMS_DBFS = -26.0
SEGMENT_S = 16.0
LITE0_COMPONENTS = 48
_MODEL = None


def _load_model():
    """Transkun's pretrained 2.0 model on the CPU, one thread (one per worker)."""
    import types
    from importlib.resources import files

    import moduleconf
    import torch

    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    stub = types.ModuleType("torchaudio")
    stub.functional = types.SimpleNamespace(
        melscale_fbanks=lambda n_freqs, f_min, f_max, n_mels, sample_rate: torch.zeros(n_freqs, n_mels))
    sys.modules.setdefault("torchaudio", stub)
    pretrained = files("transkun") / "pretrained"
    conf = moduleconf.parseFromFile(str(pretrained / "2.0.conf"))
    model = conf["Model"].module.TransKun(conf=conf["Model"].config)
    checkpoint = torch.load(str(pretrained / "2.0.pt"), map_location="cpu")
    model.load_state_dict(checkpoint.get("best_state_dict", checkpoint.get("state_dict")), strict=False)
    model.eval()
    if not float(model.framewiseFeatureExtractor.freq2mels.abs().sum()) > 0:
        raise RuntimeError("Transkun's mel filter bank was not loaded from the checkpoint")
    return model


def _transcribe_one(job: tuple[str, str, str]) -> tuple[str, float, float]:
    """Transcribe one recording (id, audio, MIDI out); returns (id, audio seconds, seconds spent)."""
    import soundfile as sf
    import soxr
    import torch
    from transkun.Data import writeMidi

    global _MODEL
    if _MODEL is None:
        _MODEL = _load_model()
    segment_id, audio, out = job
    start = time.perf_counter()
    y, sr = sf.read(audio, dtype="float32", always_2d=True)
    y = soxr.resample(y, sr, _MODEL.fs)
    y = y * (10 ** (RMS_DBFS / 20) / (np.sqrt(np.mean(y ** 2)) + 1e-12))
    y = y[: int(SEGMENT_S * _MODEL.fs)]
    notes = _MODEL.transcribe(torch.from_numpy(y.astype(np.float32)), stepInSecond=SEGMENT_S,
                              segmentSizeInSecond=SEGMENT_S, discardSecondHalf=False)
    tmp = f"{out}.part"
    writeMidi(notes).write(tmp)
    os.replace(tmp, out)
    return segment_id, len(y) / _MODEL.fs, time.perf_counter() - start


def evaluated_rows(store: Path) -> pd.DataFrame:
    """The store's evaluated recordings (manifest ``eval`` = 1: the clean MuseScore renders)."""
    table = pd.read_csv(store / "manifest.csv")
    return table[table["eval"] == 1].reset_index(drop=True)


def transcribe(args) -> None:
    from multiprocessing import Pool

    table = evaluated_rows(args.store)
    args.cache.mkdir(parents=True, exist_ok=True)
    base = args.store.resolve()
    jobs = []
    for row in table.itertuples():
        out = args.cache / f"{row.segment_id}.mid"
        if not out.is_file():
            audio = Path(row.audio) if Path(row.audio).is_absolute() else base / row.audio
            jobs.append((row.segment_id, str(audio), str(out)))
    print(f"{len(jobs)} of {len(table)} recordings to transcribe", file=sys.stderr, flush=True)
    log = args.cache / "timing.csv"
    start = time.perf_counter()
    with Pool(args.jobs) as pool:
        for n, (segment_id, seconds, spent) in enumerate(pool.imap_unordered(_transcribe_one, jobs), 1):
            with open(log, "a") as f:
                f.write(f"{segment_id},{seconds:.2f},{spent:.2f}\n")
            if n % 25 == 0 or n == len(jobs):
                print(f"{n}/{len(jobs)} in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


def first_seconds(path: str, seconds: float = SEGMENT_S) -> dict[str, float]:
    """pianokit's symbolic features of the notes and pedal of a MIDI file's first ``seconds``."""
    from pianokit.errors import InputError
    from pianokit.performance import note_features
    from pianokit.symbolic import read_notes

    try:
        frame, controls = read_notes(path)
    except InputError:
        return {}
    frame = frame[frame["onset"] < seconds]
    if frame.empty:
        return {}
    notes = {k: frame[k].to_numpy() for k in ("onset", "offset", "pitch", "velocity")}
    notes["offset"] = np.minimum(notes["offset"], seconds)
    return note_features(notes, {cc: [(t, v) for t, v in events if t < seconds] for cc, events in controls.items()})


def evaluate(args) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from musicnn_probe import kernel_ridge, lite0_means, probe_rows, reduce, split_scores
    from result_files import write_table

    from pianokit.baselines import player_mean, ridge, train_mean
    from pianokit.dimensions import DIMENSIONS
    from pianokit.feature_names import ALL_FEATURES, PEDAL_FEATURES, SYMBOLIC_FEATURES
    from pianokit.training_data import split_groups

    groups_of = {"pedal": list(PEDAL_FEATURES), "velocity": [f for f in SYMBOLIC_FEATURES if f.startswith("velocity")],
                 "all": list(SYMBOLIC_FEATURES)}
    start = time.perf_counter()
    table = evaluated_rows(args.store)
    ids = table["segment_id"].tolist()
    missing = [i for i in ids if not (args.cache / f"{i}.mid").is_file()]
    if missing:
        sys.exit(f"{len(missing)} of {len(ids)} recordings are not transcribed yet (run the transcribe step)")
    audio = pd.read_csv(args.store / "features.csv").set_index("id").loc[ids, list(ALL_FEATURES)].to_numpy(float)
    whole = pd.read_csv(args.store / "symbolic.csv").set_index("id").loc[ids, list(SYMBOLIC_FEATURES)]
    midi = pd.DataFrame([first_seconds(m) for m in table["midi"]], index=ids)[list(SYMBOLIC_FEATURES)]
    heard = pd.DataFrame([first_seconds(str(args.cache / f"{i}.mid")) for i in ids], index=ids)
    heard = heard.reindex(columns=list(SYMBOLIC_FEATURES))
    unread = int(heard.isna().any(axis=1).sum())
    heard = heard.fillna(heard.median()).fillna(0.0)
    follow = {f: float(np.corrcoef(midi[f], heard[f])[0, 1]) if heard[f].std() > 0 and midi[f].std() > 0 else 0.0
              for f in SYMBOLIC_FEATURES}
    y = table[list(DIMENSIONS)].to_numpy(float)
    groups = split_groups(table)
    players = table["performer"].astype(str).to_numpy()
    sets = {"115 audio features": audio, "Transkun alone (39 transcribed MIDI features)": heard.to_numpy(float),
            "MIDI alone, first 16 s": midi.to_numpy(float),
            "MIDI alone, whole (symbolic reference)": whole.to_numpy(float)}
    for group, names in groups_of.items():
        sets[f"audio + Transkun {group} ({len(names)})"] = np.hstack([audio, heard[names].to_numpy(float)])
        sets[f"audio + MIDI {group} ({len(names)}, oracle, first 16 s)"] = np.hstack([audio, midi[names].to_numpy(float)])

    sets = {name: np.nan_to_num(x) for name, x in sets.items()}
    lite0 = lite0_means(args.store, ids)
    beside_lite0 = {"": sets["115 audio features"], " + Transkun pedal (5)": sets["audio + Transkun pedal (5)"],
                    " + Transkun all (39)": sets["audio + Transkun all (39)"]}

    def per_fold(fold, train, test, add):
        add("training mean | -", train_mean(y[train], len(test)))
        add("player mean | -", player_mean(y[train], players[train], players[test]))
        for name, x in sets.items():
            add(f"{name} | ridge", np.clip(ridge(x[train], y[train], x[test], groups[train]), 0, 1))
            add(f"{name} | kernel ridge", np.clip(kernel_ridge(x[train], y[train], x[test]), 0, 1))
        components = reduce(lite0, train, test, LITE0_COMPONENTS)
        for name, x in beside_lite0.items():
            x_train, x_test = np.hstack([x[train], components[0]]), np.hstack([x[test], components[1]])
            label = f"audio + Lite0 (PCA {LITE0_COMPONENTS}, as the shipped kernel ridge){name}"
            add(f"{label} | ridge", np.clip(ridge(x_train, y[train], x_test, groups[train]), 0, 1))
            add(f"{label} | kernel ridge", np.clip(kernel_ridge(x_train, y[train], x_test), 0, 1))

    results = split_scores(table, y, per_fold)
    lines = [f"Probe on the {len(table)} clean MuseScore renders of `{args.store}` (the evaluated rows), "
             "leak-free folds, means over the folds' test sets; \"new players\" is the performer split. "
             f"Transkun 2.0 transcriptions of each recording's first 16 s in {args.cache} ({unread} without notes "
             "or unreadable, given the median); the MIDI rows marked \"first 16 s\" read the performance MIDI "
             "over the same 16 s.", "", *probe_rows(results)]
    lines += ["", "How closely each transcribed feature follows the performance MIDI's (Pearson r over the recordings):",
              "", "| group | features: r |", "|---|---|"]
    for group, names in {**{g: n for g, n in groups_of.items() if g != "all"},
                         "timing, articulation, notes": [f for f in SYMBOLIC_FEATURES if f not in
                                                         groups_of["pedal"] + groups_of["velocity"]]}.items():
        lines.append(f"| {group} | " + ", ".join(f"{f} {follow[f]:.2f}" for f in names) + " |")
    timing = pd.read_csv(args.cache / "timing.csv", header=None, names=["id", "audio_s", "spent_s"])
    wall = time.perf_counter() - start
    lines += ["", f"Transcription: {timing['spent_s'].sum() / 3600:.2f} CPU-hours (one thread per worker) for "
              f"{timing['audio_s'].sum() / 3600:.2f} hours of audio ({timing['spent_s'].sum() / timing['audio_s'].sum():.2f} "
              f"x real time per core); this evaluation {wall:.0f} s."]
    write_table(args.out, "transkun_probe", lines, {"rows": len(table), "store": str(args.store), "results": results,
                                                     "follow_midi_r": follow, "unreadable": unread,
                                                     "transcription_cpu_s": round(float(timing["spent_s"].sum()), 1),
                                                     "audio_s": round(float(timing["audio_s"].sum()), 1),
                                                     "wall_s": round(wall, 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("transcribe", "evaluate"))
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3_comp0.3_floor35"))
    parser.add_argument("--cache", type=Path, default=Path("data/transkun_probe"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/transkun_probe"))
    args = parser.parse_args()
    if args.step == "transcribe":
        transcribe(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
