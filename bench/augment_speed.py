"""Time `dataset augment`'s recording conditions per variant, with pianokit.late_reverb's stand-ins for
pyroomacoustics' reverberant-tail loops and with the library's own, on a seeded sample of renders.

Usage: python bench/augment_speed.py [--manifest data/percepiano_musescore/manifest.csv] [--sample 200]
                                     [--compress-share 0.3] [--out bench/results/augment_speed.json]
One process, one core: the variants of `dataset augment --copies 1 --seed 0` for the sampled segments,
each drawn, applied and written as FLAC, once per mode; checks that both modes write the same audio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=Path("data/percepiano_musescore/manifest.csv"))
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--compress-share", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=RESULTS / "augment_speed.json")
    args = parser.parse_args()

    import pandas as pd
    import soundfile as sf
    from threadpoolctl import threadpool_limits

    from pianokit import late_reverb
    from pianokit.variants import _augment_one

    table = pd.read_csv(args.manifest)
    rows = table.sample(min(args.sample, len(table)), random_state=0)
    jobs = [(r.segment_id, str(args.manifest.parent / r.audio), 0) for r in rows.itertuples()]
    faster = late_reverb.faster
    modes = {"pianokit.late_reverb": faster, "pyroomacoustics' own loops": contextlib.nullcontext}
    seconds, written = {}, {}
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        _augment_one(jobs[0], Path(tmp), 0, args.compress_share)  # imports and first calls, not timed
        for name, context in modes.items():
            folder = Path(tmp) / str(len(seconds))
            folder.mkdir()
            late_reverb.faster = context
            start = time.perf_counter()
            recipes = [json.loads(_augment_one(job, folder, 0, args.compress_share)["augmentation"]) for job in jobs]
            seconds[name] = (time.perf_counter() - start) / len(jobs)
            written[name] = {p.name: sf.read(p)[0] for p in folder.iterdir()}
    late_reverb.faster = faster
    first, second = written.values()
    same = first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)
    result = {
        "command": "python bench/augment_speed.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "variants": len(jobs), "with_a_room": sum(r["rt60"] is not None for r in recipes),
        "seconds_per_variant": {k: round(v, 4) for k, v in seconds.items()},
        "same_audio": bool(same),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(jobs)} variants of {args.manifest} ({result['with_a_room']} in a room), one core; the same audio "
          f"in both modes: {same}")
    print("| reverberant tail | s per variant |")
    print("|---|---|")
    for name, value in seconds.items():
        print(f"| {name} | {value:.3f} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
