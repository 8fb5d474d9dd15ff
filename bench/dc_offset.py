"""A DC offset (a constant a recorder's converter adds to the samples): how far it moves the shipped
model's ratings with the loader's offset removal (pianokit.audio: each channel's mean over the file
is taken away) and without it (the offset put back after loading, as the loader read files before).

Recordings: the bundled example and COUNT MuseScore renders (seed), each at its own level and
normalised to peak at -6 dBFS; offsets 40, 30, 20 and 10 dB under the recording's peak. Also the
augmented renders of --augmented whose mean lies within 45 dB of their peak (low room-like noise has
a mean over a 10 s file): how far taking that mean away moves their ratings. Shifts: mean |rating
change| in within-passage label SDs (bench/silence_ends.py's unit).

Usage: python bench/dc_offset.py [--count 8] [--augmented data/percepiano_musescore_aug0c]
                                 [--out bench/results/dc_offset]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402
from silence_ends import label_wp_sd, picked_recordings  # noqa: E402

from pianokit.audio import load_audio, trim_ends  # noqa: E402
from pianokit.scorer import DEFAULT_MODEL, Scorer  # noqa: E402

BELOW_PEAK_DB = (40, 30, 20, 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=Path, default=Path("data/percepiano_musescore/audio"))
    parser.add_argument("--augmented", type=Path, default=Path("data/percepiano_musescore_aug0c"))
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    wp_sd = label_wp_sd()
    scorer = Scorer(DEFAULT_MODEL, "cpu")
    sr = scorer.config.sample_rate

    def rate(y: np.ndarray) -> np.ndarray:
        return np.array(list(scorer.score_audio(y).ratings.values()))

    def rate_as_read(y: np.ndarray) -> np.ndarray:
        """Ratings of ``y`` exactly as given: trimmed and scored without taking its mean away."""
        kept, _ = trim_ends(y, sr)
        return np.array(list(scorer._score_segments(list(scorer.segments(kept)), "<array>").ratings.values()))

    def shift(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean() / wp_sd)

    files = picked_recordings(args.renders, args.count, args.seed)
    shifts = {level: {db: {"removed": [], "kept": []} for db in BELOW_PEAK_DB} for level in ("own", "-6 dBFS")}
    for path in files:
        y = load_audio(path, sr)
        for level, z in (("own", y), ("-6 dBFS", y * np.float32(10 ** (-6 / 20) / np.abs(y).max()))):
            plain = rate(z)
            for db in BELOW_PEAK_DB:
                offset = z + np.float32(np.abs(z).max() * 10 ** (-db / 20))
                shifts[level][db]["removed"].append(shift(rate(offset), plain))
                shifts[level][db]["kept"].append(shift(rate_as_read(offset), plain))
    augmented = []
    table = pd.read_csv(args.augmented / "manifest.csv")
    for audio in table["audio"]:
        raw, rate_hz = sf.read(audio, dtype="float64")
        below = -20 * np.log10(abs(raw.mean()) / np.abs(raw).max())
        if below < 45:
            y = load_audio(audio, sr)  # the mean taken away
            back = y + np.float32(raw.mean())  # as extraction read it before
            augmented.append({"audio": Path(audio).name, "mean_below_peak_db": float(below),
                              "shift": shift(rate(y), rate_as_read(back))})
    summary = {level: {db: {k: float(np.mean(v)) for k, v in d.items()} for db, d in by.items()}
               for level, by in shifts.items()}
    lines = [f"Mean |rating shift| in within-passage label SDs ({wp_sd:.3f}), shipped model, the bundled example and "
             f"{args.count} MuseScore renders (seed {args.seed}); `python bench/dc_offset.py {' '.join(sys.argv[1:])}`.",
             "", "| recording level | offset under the peak | offset taken away (now) | offset kept (before) |",
             "|---|---|---|---|"]
    lines += [f"| {level} | {db} dB | {v['removed']:.3f} | {v['kept']:.3f} |"
              for level, by in summary.items() for db, v in by.items()]
    lines += ["", f"Augmented renders of {args.augmented} whose mean lies within 45 dB of their peak: "
              f"{len(augmented)} of {len(table)}; taking the mean away moves their ratings by "
              f"{np.mean([a['shift'] for a in augmented]):.3f} on average, at most "
              f"{max(a['shift'] for a in augmented):.3f}.", "", f"wall {time.perf_counter() - start:.0f} s"]
    write_table(args.out, "dc_offset", lines, {"summary": summary, "augmented": augmented})


if __name__ == "__main__":
    main()
