"""`pianokit extract --device cuda` against the CPU: seconds per recording, and are the features the same?

Usage: python bench/extract_gpu.py --audio DIR [--jobs 2 16] [--out bench/results/extract_gpu.json]
Each run is `pianokit extract DIR --out <empty folder> --device D --jobs N`, timed whole (start-up and
CUDA sessions included). Features are compared with the CPU run of the same job count: the largest
difference in units of each feature's spread over the recordings, and how many features differ at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from extract_speed import timed_extract  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, required=True)
    parser.add_argument("--jobs", type=int, nargs="+", default=[2, 16])
    parser.add_argument("--out", type=Path, default=RESULTS / "extract_gpu.json")
    args = parser.parse_args()

    import pandas as pd

    files = [f for f in args.audio.iterdir() if f.suffix in (".wav", ".flac")]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            tables = {}
            for device in ("cpu", "cuda"):
                folder = Path(tmp) / f"{device}{jobs}"
                wall = timed_extract([str(args.audio)], jobs, device=device, out=folder)
                tables[device] = pd.read_csv(folder / "features.csv").set_index("id").sort_index()
                runs.append({"device": device, "jobs": jobs, "wall_s": round(wall, 2),
                             "s_per_recording": round(wall / len(files), 4)})
            cpu, gpu = tables["cpu"], tables["cuda"]
            numbers = [c for c in cpu.select_dtypes("number").columns if c != "source_mtime_ns"]
            spread = cpu[numbers].std().replace(0, 1)
            diff = ((cpu[numbers] - gpu[numbers]).abs() / spread).max()
            runs[-1].update({"features_differing": int((diff > 0).sum()), "features": len(numbers),
                             "largest_difference_in_feature_sds": float(diff.max()),
                             "feature_with_largest_difference": str(diff.idxmax())})
    result = {"command": "python bench/extract_gpu.py " + " ".join(sys.argv[1:]),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
              "recordings": len(files), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(files)} recordings")
    print("| device | jobs | wall s | s per recording | features differing from the CPU's | largest difference (feature SDs) |")
    print("|---|---|---|---|---|---|")
    for r in runs:
        extra = (f"{r['features_differing']} of {r['features']} | {r['largest_difference_in_feature_sds']:.2e} "
                 f"({r['feature_with_largest_difference']})" if r["device"] == "cuda" else "- | -")
        print(f"| {r['device']} | {r['jobs']} | {r['wall_s']} | {r['s_per_recording']} | {extra} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
