"""What drawing the noise floor at a fast FFT length (feature version 6) saves, against version 5.

Usage:
  python bench/floor_speed.py [--manifest data/percepiano_musescore/manifest.csv] [--sample 150]
                              [--seed 0] [--noise-floor 35] [--rows 14268] [--out bench/results/floor_speed]

For a seeded sample of a manifest's recordings, on one core as a pool worker runs (one thread for
BLAS and onnxruntime): the extraction of each recording (features, transcription, log-mel) with a
version-5 and a version-6 FeatureConfig over the same floor, in alternating order, and the noise
alone (the floor's pink noise, and the pink and room-like noise of augmentation, both lengths).
Scales the per-recording saving to a store of --rows recordings on 2 workers. Also reports how far
the two floors' features lie apart (mean |difference| in across-recording SDs): two draws of the
same noise, which is all the versions differ in.
Prints a table and writes PREFIX.json / PREFIX.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pianokit.parallel import THREAD_ENV, WORKER_ENV  # noqa: E402

os.environ[WORKER_ENV] = "1"  # onnxruntime on one thread, as in a pool worker
for _name in THREAD_ENV:
    os.environ[_name] = "1"

import numpy as np  # noqa: E402

from result_files import timed, write_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=Path("data/percepiano_musescore/manifest.csv"))
    parser.add_argument("--sample", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-floor", type=float, default=35.0)
    parser.add_argument("--rows", type=int, default=14268, help="recordings in the store the saving is scaled to")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from pianokit import conditions
    from pianokit.audio import load_audio
    from pianokit.contract import FeatureConfig
    from pianokit.features import extract
    from pianokit.manifest import absolute_paths, read_manifest

    v5 = FeatureConfig(noise_floor_db=args.noise_floor, version=5)
    v6 = FeatureConfig(noise_floor_db=args.noise_floor)
    table = absolute_paths(read_manifest(args.manifest, labelled=False))
    picked = table.sample(n=min(args.sample, len(table)), random_state=args.seed)
    extract(load_audio(picked["audio"].iloc[0], v6.sample_rate), v6)  # imports and the ONNX session
    times = {k: [] for k in ("extract_v5", "extract_v6", "floor_exact", "floor_fast", "augment_exact", "augment_fast")}
    features = {5: [], 6: []}
    audio_s = 0.0
    for i, path in enumerate(picked["audio"]):
        y = load_audio(path, v6.sample_rate)
        audio_s += len(y) / v6.sample_rate
        order = (v5, v6) if i % 2 == 0 else (v6, v5)
        for config in order:
            took, (vector, _) = timed(lambda: extract(y, config))
            times[f"extract_v{config.version}"].append(took)
            features[config.version].append(vector)
        for exact, key in ((True, "exact"), (False, "fast")):
            times[f"floor_{key}"].append(timed(lambda: conditions.noise_floor(y, v6.sample_rate, args.noise_floor, exact))[0])
            rng = np.random.default_rng(i)
            times[f"augment_{key}"].append(sum(
                timed(lambda: conditions.add_noise(y, v6.sample_rate, 25.0, colour, rng, exact))[0]
                for colour in ("pink", "room")) / 2)
        print(f"{i + 1}/{len(picked)}  v5 {times['extract_v5'][-1]:.2f} s  v6 {times['extract_v6'][-1]:.2f} s",
              flush=True)

    mean = {k: float(np.mean(v)) for k, v in times.items()}
    saved_row = mean["extract_v5"] - mean["extract_v6"]
    a, b = np.array(features[5]), np.array(features[6])
    spread = a.std(axis=0)
    moved = np.abs(a - b)[:, spread > 0] / spread[spread > 0]
    payload = {"manifest": str(args.manifest), "sample": len(picked), "audio_s": round(audio_s, 1),
               "noise_floor_db": args.noise_floor, "mean_s": {k: round(v, 4) for k, v in mean.items()},
               "saved_s_per_row": round(saved_row, 4),
               "store_rows": args.rows, "store_saving_min_on_2_workers": round(saved_row * args.rows / 2 / 60, 1),
               "feature_difference_sd": {"mean": round(float(moved.mean()), 4),
                                         "p99": round(float(np.percentile(moved, 99)), 4)}}
    lines = [f"Noise floor {args.noise_floor:g} dB: feature version 5 (shaped at the recording's length) against 6 "
             f"(next fast FFT length), {len(picked)} recordings of `{args.manifest}` ({audio_s / 60:.0f} min of "
             "audio), one core, seconds per recording:", "",
             "| step | version 5 | version 6 | saved |", "|---|---|---|---|",
             f"| extraction (features, transcription, log-mel) | {mean['extract_v5']:.3f} | {mean['extract_v6']:.3f} "
             f"| {saved_row:.3f} ({saved_row / mean['extract_v5']:.0%}) |",
             f"| the floor's pink noise alone | {mean['floor_exact']:.3f} | {mean['floor_fast']:.3f} | "
             f"{mean['floor_exact'] - mean['floor_fast']:.3f} |",
             f"| augmentation noise (pink, room-like; `dataset augment`) | {mean['augment_exact']:.3f} | "
             f"{mean['augment_fast']:.3f} | {mean['augment_exact'] - mean['augment_fast']:.3f} |", "",
             f"Scaled to a store of {args.rows} recordings on 2 workers, extraction saves "
             f"{payload['store_saving_min_on_2_workers']} min. The two versions' features differ by "
             f"{moved.mean():.3f} across-recording SDs on average (99th percentile {np.percentile(moved, 99):.3f}): "
             "two draws of the same noise."]
    write_table(args.out, "floor_speed", lines, payload)


if __name__ == "__main__":
    main()
