"""How silence before the first note and after the last moves the shipped model's ratings, with the
scorer's trimming of long silence at a recording's ends (pianokit.audio.trim_ends) and without it.

Usage:
  python bench/silence_ends.py [--renders data/percepiano_musescore/audio] [--count 12] [--seed 0]
                               [--out bench/results/silence_ends]

Takes the bundled example and COUNT renders drawn with SEED (the model's own training piano; these
segments are in the shipped model's training data, so only rating shifts are reported, no accuracy),
pads each with digital silence or with noise 65 dB below full scale (white, pink or room-like; under
the music too) at the start and the end, and rates it through the scorer twice: as `pianokit score` reads it (trimmed) and with every
sample kept. Shifts are the mean |rating - the unpadded recording's rating| over the 19 dimensions,
in within-passage label SDs (bench/results/robustness.json, the unit of bench/robustness.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit import conditions  # noqa: E402
from pianokit.audio import load_audio  # noqa: E402
from pianokit.scorer import DEFAULT_MODEL, Scorer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"
PADS = [("digital silence", 2, 1), ("digital silence", 5, 10), ("digital silence", 20, 0),
        ("digital silence", 20, 20), ("room noise -65 dBFS", 8, 8), ("pink noise -65 dBFS", 8, 8),
        ("room-like noise -65 dBFS", 8, 8)]


def padded(y: np.ndarray, sr: int, kind: str, start_s: float, end_s: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` with ``start_s`` / ``end_s`` of ``kind`` before / after it: digital silence, or noise at
    -65 dBFS (RMS) also under the music: white ("room noise", as first measured), pink, or room-like
    (rumble, mains hum and hiss, pianokit.conditions.noise)."""
    before, after = int(start_s * sr), int(end_s * sr)
    if kind == "digital silence":
        return np.concatenate([np.zeros(before, np.float32), y, np.zeros(after, np.float32)])
    colour = {"room noise": "white", "pink noise": "pink", "room-like noise": "room"}[kind.rsplit(" ", 2)[0]]
    tone = conditions.noise(before + len(y) + after, sr, colour, rng)
    tone = (tone * 10 ** (-65 / 20) / np.sqrt(np.mean(tone ** 2))).astype(np.float32)
    tone[before:before + len(y)] += y
    return tone


def label_wp_sd() -> float:
    """The within-passage SD of the labels, the unit of rating shifts (bench/robustness.py's)."""
    return json.loads((ROOT / "bench" / "results" / "robustness.json").read_text())["within_passage_label_sd"]


def picked_recordings(renders: Path, count: int, seed: int) -> list[Path]:
    """The bundled example and ``count`` of the renders in ``renders`` drawn with ``seed``."""
    found = sorted(renders.glob("*.wav"))
    return [EXAMPLE] + [found[i] for i in np.random.default_rng(seed).choice(len(found), count, replace=False)]


def padding_shifts(scorer, recordings: list[np.ndarray], seed: int, wp_sd: float) -> dict[str, dict[str, list]]:
    """For each of PADS: the mean |rating shift| of each recording (at the scorer's rate) padded so,
    in ``wp_sd`` units, as `pianokit score` rates it ("trimmed") and with every sample rated ("kept")."""
    sr = scorer.config.sample_rate
    shifts = {f"{kind}, {a:g} s before, {b:g} s after": {"trimmed": [], "kept": []} for kind, a, b in PADS}
    for k, y in enumerate(recordings):
        reference = np.array(list(scorer.score_audio(y).ratings.values()))
        rng = np.random.default_rng(seed + k)
        for (kind, a, b), name in zip(PADS, shifts):
            z = padded(y, sr, kind, a, b, rng)
            trimmed = np.array(list(scorer.score_audio(z).ratings.values()))
            kept = np.array(list(scorer._score_segments(scorer.segments(z), "<array>").ratings.values()))
            shifts[name]["trimmed"].append(float(np.abs(trimmed - reference).mean() / wp_sd))
            shifts[name]["kept"].append(float(np.abs(kept - reference).mean() / wp_sd))
    return shifts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=Path, default=ROOT / "data" / "percepiano_musescore" / "audio")
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    wp_sd = label_wp_sd()
    picked = picked_recordings(args.renders, args.count, args.seed)
    scorer = Scorer(DEFAULT_MODEL, "cpu")
    shifts = padding_shifts(scorer, [load_audio(path, scorer.config.sample_rate) for path in picked], args.seed, wp_sd)
    lines = [f"Mean |rating shift| in within-passage label SDs ({wp_sd:.3f}) over {len(picked)} recordings "
             f"(the bundled example and {args.count} MuseScore renders, seed {args.seed}); shipped model.", "",
             "| padding | every sample rated | long silence at the ends cut (pianokit score) |", "|---|---|---|"]
    lines += [f"| {name} | {np.mean(v['kept']):.3f} | {np.mean(v['trimmed']):.3f} |" for name, v in shifts.items()]
    wall = time.perf_counter() - started
    lines += ["", f"wall {wall:.0f} s"]
    payload = {"recordings": [str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in picked],
               "within_passage_label_sd": wp_sd, "shifts_in_wp_sd": shifts, "wall_s": wall}
    write_table(args.out, "silence_ends", lines, payload)


if __name__ == "__main__":
    main()
