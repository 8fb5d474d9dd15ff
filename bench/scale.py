"""Throughput of `pianokit extract` and `pianokit score` on the local process pool vs a local Dask
cluster (same machine, same number of worker processes), and a paper estimate of the hours needed
to score 10,000 hours of audio on N workers from the measured cost per audio second.

Usage: python bench/scale.py [--audio data/percepiano_musescore/audio] [--files 60] [--jobs 2]
                             [--out bench/results/scale]
Without the audio folder (a fresh clone), the bundled example is copied --files times. Writes
OUT.json and OUT.md (default: a new bench/results/scale-<time>.*).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from result_files import prefix, timed, write_json  # noqa: E402

from pianokit.cluster import connect, run_on_cluster  # noqa: E402
from pianokit.extract import run_extract  # noqa: E402
from pianokit.parallel import run_parallel  # noqa: E402
from pianokit.scorer import DEFAULT_MODEL, score_in_worker  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"
WORKER_COUNTS = (1, 8, 32, 128)
ARCHIVE_HOURS = 10_000


def inputs(audio: Path, count: int, tmp: Path) -> list[Path]:
    if audio.is_dir():
        return sorted(audio.glob("*.wav"))[:count]
    return [Path(shutil.copy(EXAMPLE, tmp / f"example{k}.wav")) for k in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=Path("data/percepiano_musescore/audio"))
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = prefix(args.out, "scale")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = inputs(args.audio, args.files, tmp)
        audio_s = sum(sf.info(f).duration for f in files)
        items = [(f.stem, f) for f in files]
        rows = {}
        extract_local, _ = timed(lambda: run_extract(items, tmp / "local", jobs=args.jobs, progress=False))
        extract_cluster, _ = timed(lambda: run_extract(items, tmp / "cluster", jobs=args.jobs, progress=False,
                                                       cluster="local"))
        work = functools.partial(score_in_worker, model=str(DEFAULT_MODEL), device="cpu")
        score_local, _ = timed(lambda: list(run_parallel(work, files, args.jobs, "score", progress=False)))
        start = time.perf_counter()
        with connect("local", args.jobs) as client:
            startup = time.perf_counter() - start
            score_cluster_all, _ = timed(lambda: list(run_on_cluster(work, files, client, "score", False)))
            score_cluster_warm, _ = timed(lambda: list(run_on_cluster(work, files, client, "score", False)))
        rows["extract"] = {"local_s": extract_local, "cluster_s": extract_cluster}
        rows["score"] = {"local_s": score_local, "cluster_s": score_cluster_all + startup,
                         "cluster_warm_s": score_cluster_warm, "cluster_startup_s": startup}
    for name, row in rows.items():
        row["local_x_realtime"] = audio_s / row["local_s"]
        row["cluster_x_realtime"] = audio_s / row["cluster_s"]
        row["cluster_over_local"] = row["local_s"] / row["cluster_s"]
    # CPU-seconds per audio second of one worker, from the warm cluster run (model loaded, cluster up)
    cost = score_cluster_warm * args.jobs / audio_s
    estimate = {n: ARCHIVE_HOURS * cost / n for n in WORKER_COUNTS}
    payload = {"files": len(files), "audio_s": round(audio_s, 1), "jobs": args.jobs, "results": rows,
               "score_cpu_s_per_audio_s": cost,
               "estimate": {"archive_hours": ARCHIVE_HOURS, "hours_on_n_workers": estimate,
                            "assumes": "one single-threaded worker per core like this machine's, files read from "
                                       "shared storage at no extra cost, linear scaling (measured here only up "
                                       "to the local core count), no GPU"}}
    lines = [f"{len(files)} files, {audio_s / 60:.1f} min of audio, {args.jobs} workers on this machine\n",
             "| task | local pool (s) | local Dask cluster (s) | local x real time | cluster x real time | cluster / local |",
             "|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {row['local_s']:.1f} | {row['cluster_s']:.1f} | {row['local_x_realtime']:.0f} | "
                     f"{row['cluster_x_realtime']:.0f} | {row['cluster_over_local']:.2f} |")
    lines += ["", f"Score cost: {cost * 1000:.1f} ms of one core per second of audio (warm cluster, cluster "
                  f"start-up {rows['score']['cluster_startup_s']:.1f} s not included).",
              "", f"| workers | hours to score {ARCHIVE_HOURS:,} h of audio (paper estimate) |", "|---|---|"]
    lines += [f"| {n} | {h:.1f} |" for n, h in estimate.items()]
    table = "\n".join(lines)
    print(table)
    write_json(out.with_suffix(".json"), "scale.py", payload)
    out.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
