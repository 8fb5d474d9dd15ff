"""How a run's fold models rate every labelled segment played on other pianos, each segment by the
fold model that never saw its passage (leak-free), through the real scorer (ONNX, `Scorer.score_file`).

Usage:
  python bench/unheard_piano.py [--run runs/hybrid_lite0_floor35_ens5] --piano NAME=RENDER_FOLDER ...
                                [--reference musescore] [--jobs 2] [--out bench/results/unheard_pianos]

Each --piano names a folder of renders (`<segment>.wav`, as `pianokit dataset percepiano` writes
them), e.g. salamander=data/percepiano_salamander/audio. --reference names the one the run trained
and is scored on (its clean renders); shifts are measured from its ratings. Per piano: mean over the
four folds of R², within-passage R² and r (pianokit.metrics), and the mean |rating shift| from the
reference in within-passage label SDs, the unit of bench/robustness.py. Ratings are kept in
RUN/unheard_<name>.csv, so a rerun only scores what is missing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from piano_colour import scores_by_fold  # noqa: E402
from result_files import write_table  # noqa: E402
from robustness import evaluated_rows, fold_models  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.parallel import run_parallel  # noqa: E402

PRED = [f"pred_{d}" for d in DIMENSIONS]


def rate(job: tuple[str, str, str]) -> list[float]:
    from pianokit.scorer import score_in_worker

    audio, model, _ = job
    ratings = score_in_worker(audio, model, "cpu").ratings
    return [ratings[d] for d in DIMENSIONS]


def ratings_on(run: Path, name: str, folder: Path, rows: pd.DataFrame, models: dict[int, Path], jobs: int) -> pd.DataFrame:
    """RUN/unheard_<name>.csv: segment_id, fold, pred_* for every evaluated row whose render exists."""
    cache = run / f"unheard_{name}.csv"
    done = pd.read_csv(cache) if cache.is_file() else pd.DataFrame(columns=["segment_id", "fold", *PRED])
    rated = set(done["segment_id"])
    todo = [(str(folder / f"{source}.wav"), str(models[int(fold)].with_suffix(".onnx")), sid)
            for sid, source, fold in zip(rows["segment_id"], rows["source_id"], rows["fold_passage"])
            if sid not in rated and (folder / f"{source}.wav").is_file()]
    fold_of = dict(zip(rows["segment_id"], rows["fold_passage"]))
    new = []
    for (_, _, sid), result, error in run_parallel(rate, todo, jobs, f"rate {name}", progress=True):
        if error:
            raise SystemExit(f"{sid}: {error}")
        new.append({"segment_id": sid, "fold": int(fold_of[sid]), **dict(zip(PRED, result))})
    table = pd.concat([done, pd.DataFrame(new)], ignore_index=True) if new else done
    if new:
        part = cache.with_suffix(".part")
        table.to_csv(part, index=False)
        part.replace(cache)
    return table


def summary(rows: pd.DataFrame, rated: pd.DataFrame, reference: pd.DataFrame, label_sd: float) -> dict:
    ref = reference.set_index("segment_id").loc[rated["segment_id"], PRED].to_numpy(float)
    shift = np.abs(rated[PRED].to_numpy(float) - ref).mean() / label_sd
    return {"segments": int(len(rated)), **scores_by_fold(rows.set_index("segment_id", drop=False), rated),
            "mean_shift_wp_sd": float(shift)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/hybrid_lite0_floor35_ens5"))
    parser.add_argument("--piano", action="append", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--reference", default="musescore", help="the --piano the run was scored on")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    pianos = dict(item.split("=", 1) for item in args.piano)
    if args.reference not in pianos:
        parser.error(f"--reference {args.reference} is not among the --piano names")
    start = time.perf_counter()
    rows, label_sd = evaluated_rows(args.run)
    models = fold_models(args.run)
    rated = {name: ratings_on(args.run, name, Path(folder), rows, models, args.jobs) for name, folder in pianos.items()}
    results = {name: summary(rows, table, rated[args.reference], label_sd) for name, table in rated.items()}
    lines = [f"`{args.run}`'s fold models rate each labelled segment's render on each piano (each segment by the "
             "fold model that never saw its passage; real scorer, ONNX). Shift: mean |rating change| from the "
             f"{args.reference} render, in within-passage label SDs ({label_sd:.3f}).", "",
             "| piano | segments | R² | within-passage R² | within-passage r | mean shift (wp SD) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {r['segments']} | {r['r2']:.3f} | {r['within_passage_r2']:.3f} | "
              f"{r['within_passage_r']:.3f} | {r['mean_shift_wp_sd']:.2f} |" for name, r in results.items()]
    lines += ["", f"Wall time {time.perf_counter() - start:.0f} s on this machine (ratings already cached are reused)."]
    write_table(args.out, "unheard_piano", lines, {"run": str(args.run), "pianos": pianos, "reference": args.reference,
                                                   "label_wp_sd": label_sd, "results": results})


if __name__ == "__main__":
    main()
