"""Time `pianokit extract` (features + log-mels) on the PercePiano renders with 1 and 2 jobs.

Usage: python bench/extract_speed.py [--audio data/percepiano/audio] [--jobs 1 2]
Prints a table and writes bench/results/extract.json. Each run starts from an empty store.
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

RESULTS = Path(__file__).parent / "results" / "extract.json"


def timed_extract(files: list[Path], jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "in"
        listing.mkdir()
        for f in files:
            os.symlink(f.resolve(), listing / f.name)
        cmd = [sys.executable, "-m", "pianokit", "extract", str(listing), "--out", str(Path(tmp) / "store"),
               "--jobs", str(jobs), "--no-progress"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=Path("data/percepiano/audio"))
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    files = sorted(args.audio.glob("*.wav"))
    if not files:
        sys.exit(f"no WAV files in {args.audio}: run 'pianokit dataset percepiano' first")
    import soundfile as sf

    rows = []
    for subset in (files[:100], files):
        audio_s = sum(sf.info(f).duration for f in subset)
        for jobs in args.jobs:
            wall = timed_extract(subset, jobs)
            rows.append({"files": len(subset), "audio_s": round(audio_s, 1), "jobs": jobs,
                         "wall_s": round(wall, 2), "files_per_s": round(len(subset) / wall, 2),
                         "x_realtime": round(audio_s / wall, 1)})
            print(f"{len(subset):>5} files  {jobs} job(s)  {wall:7.1f} s  {len(subset) / wall:6.1f} files/s  "
                  f"{audio_s / wall:6.0f}x real time", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "python bench/extract_speed.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "target": "all 1202 files, features + mels, < 60 s on 2 cores",
        "runs": rows,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
