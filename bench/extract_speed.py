"""Time `pianokit extract` (features, transcription, log-mels), each run into an empty store.

Usage:
  python bench/extract_speed.py [--audio data/percepiano/audio] [--jobs 1 2] [--out bench/results/extract.json]
  python bench/extract_speed.py --manifest data/multi_piano_aug0x3.csv --sample 1200 [--noise-floor 35]
                                [--jobs 2] [--seed 0] [--out PATH]

The first form times the first 100 and then all WAV files of a folder. The second times a seeded
random sample of a manifest's rows (a training store's mix of pianos, rooms, noise and codecs) and
scales the time per row to the whole manifest: an estimate of that store's extraction step, for when
a full extraction cannot run on its own (bench/training_store.py measures the real one).
Prints a table and writes JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

RESULTS = Path(__file__).parent / "results" / "extract.json"


def timed_extract(inputs: list[str], jobs: int, noise_floor: float | None = None, device: str = "cpu",
                  out: Path | None = None) -> float:
    """Wall seconds of `pianokit extract INPUTS --out <empty store> --device DEVICE` (the store is
    thrown away unless ``out`` names where to keep it)."""
    with tempfile.TemporaryDirectory() as tmp:
        floor = [] if noise_floor is None else ["--noise-floor", str(noise_floor)]
        cmd = [sys.executable, "-m", "pianokit", "extract", *inputs, "--out", str(out or Path(tmp) / "store"),
               "--jobs", str(jobs), "--device", device, *floor, "--no-progress"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - start


def linked_folder(files: list[Path], tmp: Path) -> str:
    listing = tmp / "in"
    listing.mkdir()
    for f in files:
        os.symlink(f.resolve(), listing / f.name)
    return str(listing)


def folder_runs(audio: Path, jobs_list: list[int]) -> list[dict]:
    files = sorted(audio.glob("*.wav"))
    if not files:
        sys.exit(f"no WAV files in {audio}: run 'pianokit dataset percepiano' first")
    rows = []
    for subset in (files[:100], files):
        audio_s = sum(sf.info(f).duration for f in subset)
        for jobs in jobs_list:
            with tempfile.TemporaryDirectory() as tmp:
                wall = timed_extract([linked_folder(subset, Path(tmp))], jobs)
            rows.append({"files": len(subset), "audio_s": round(audio_s, 1), "jobs": jobs,
                         "wall_s": round(wall, 2), "files_per_s": round(len(subset) / wall, 2),
                         "x_realtime": round(audio_s / wall, 1)})
            print(f"{len(subset):>5} files  {jobs} job(s)  {wall:7.1f} s  {len(subset) / wall:6.1f} files/s  "
                  f"{audio_s / wall:6.0f}x real time", flush=True)
    return rows


def manifest_runs(manifest: Path, sample: int, seed: int, jobs_list: list[int], noise_floor: float | None) -> list[dict]:
    from pianokit.manifest import absolute_paths, read_manifest

    table = absolute_paths(read_manifest(manifest, labelled=False))  # the sample's CSV is written elsewhere
    picked = table.sample(n=min(sample, len(table)), random_state=seed)
    audio_s = sum(sf.info(a).duration for a in picked["audio"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "sample.csv"
        picked[["segment_id", "audio"]].to_csv(subset, index=False)
        for jobs in jobs_list:
            wall = timed_extract(["--manifest", str(subset)], jobs, noise_floor)
            per_row = wall / len(picked)
            rows.append({"rows": len(picked), "of": len(table), "audio_s": round(audio_s, 1), "jobs": jobs,
                         "noise_floor_db": noise_floor, "wall_s": round(wall, 1), "s_per_row": round(per_row, 4),
                         "estimated_full_wall_s": round(per_row * len(table), 1)})
            print(f"{len(picked):>5} of {len(table)} rows  {jobs} job(s)  {wall:7.1f} s  {per_row:.3f} s/row  "
                  f"-> {per_row * len(table) / 60:.1f} min for the whole manifest", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=Path("data/percepiano/audio"))
    parser.add_argument("--manifest", type=Path, default=None, help="time a sample of this manifest's rows instead")
    parser.add_argument("--sample", type=int, default=1200, help="rows drawn from --manifest")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --manifest sample")
    parser.add_argument("--noise-floor", type=float, default=None, help="as `pianokit extract --noise-floor`")
    parser.add_argument("--jobs", type=int, nargs="+", default=None, help="default: 1 2 (folder), 2 (manifest)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.manifest is None:
        rows = folder_runs(args.audio, args.jobs or [1, 2])
        target = "all 1202 files, features + mels, < 60 s on 2 cores"
    else:
        rows = manifest_runs(args.manifest, args.sample, args.seed, args.jobs or [2], args.noise_floor)
        target = "the full training-store build (render, augment, extract) < 60 min on 2 cores"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": "python bench/extract_speed.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "target": target,
        "runs": rows,
    }, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
