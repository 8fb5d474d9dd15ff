"""Run the DESIGN.md benchmark protocol for each architecture on the rendered PercePiano.

Usage:
  python bench/accuracy.py --store data/stores/percepiano [--archs mlp multitask cnn ...]
                           [--split passage] [--epochs 40] [--crop-seconds 6] [--extra ARGS]

Each architecture is trained with `pianokit fit` (4-fold CV, early stopping on an inner split of the
training folds) into runs/bench/<split>/<arch>; finished runs are reused. Prints a table and writes
bench/results/accuracy[_<split>].json and .md (mean R² and r over the 19 dimensions, per-dimension
R², the training-mean baseline, wall time).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

# Per-architecture arguments; everything else is the shared protocol.
ARCH_ARGS = {
    "mlp": ["--epochs", "200", "--patience", "20"],
    "multitask": ["--epochs", "200", "--patience", "15"],
    "efficientnet": ["--epochs", "12", "--patience", "4"],  # CPU budget: 5 frozen + 7 fine-tuning epochs at most
}


def run_arch(arch: str, args, out: Path) -> dict:
    cmd = [sys.executable, "-m", "pianokit", "fit", "--arch", arch, "--store", str(args.store), "--out", str(out),
           "--split", args.split, "--seed", str(args.seed), "--no-progress"]
    if arch not in ("mlp", "multitask"):
        cmd += ["--epochs", str(args.epochs), "--patience", str(args.patience), "--crop-seconds", str(args.crop_seconds)]
    cmd += ARCH_ARGS.get(arch, [])  # later options win
    cmd += shlex.split(args.extra)
    start = time.perf_counter()
    if not (out / "metrics.json").is_file():
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    metrics = json.loads((out / "metrics.json").read_text())
    timing_file = out / "wall_time.json"
    if wall > 5 or not timing_file.is_file():
        timing_file.write_text(json.dumps({"wall_s": round(wall, 1)}))
    return {"arch": arch, "command": " ".join(["pianokit", *cmd[3:]]),
            "wall_s": json.loads(timing_file.read_text())["wall_s"], **metrics}


def markdown(rows: list[dict], split: str) -> str:
    dims = list(rows[0]["model"]["per_dimension"])
    lines = [f"Split: {split}. Mean over 19 dimensions of the mean over folds (held-out fold / test set).", "",
             "| arch | mean R² | mean r | mean MAE | baseline R² | wall (min) |", "|---|---|---|---|---|---|"]
    for r in rows:
        m, b = r["model"]["mean"], r["baseline"]["mean"]
        lines.append(f"| {r['arch']} | {m['r2']:.3f} | {m['r']:.3f} | {m['mae']:.3f} | {b['r2']:.3f} | "
                     f"{r['wall_s'] / 60:.1f} |")
    lines += ["", "Per-dimension R²:", "", "| dimension | " + " | ".join(r["arch"] for r in rows) + " |",
              "|---|" + "---|" * len(rows)]
    for d in dims:
        cells = []
        for r in rows:
            pd_ = r["model"]["per_dimension"]
            cells.append(f"{pd_[d]['r2']:.3f}" if d in pd_ else "-")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/percepiano"))
    parser.add_argument("--archs", nargs="+", default=["mlp", "multitask", "cnn", "transformer", "hybrid", "efficientnet"])
    parser.add_argument("--split", choices=["passage", "performer"], default="passage")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--crop-seconds", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench"))
    parser.add_argument("--tag", default="", help="suffix for the run folders and result files")
    parser.add_argument("--extra", default="", help="more 'pianokit fit' arguments for every architecture")
    args = parser.parse_args()
    rows = []
    for arch in args.archs:
        out = args.runs / args.split / (arch + (f"_{args.tag}" if args.tag else ""))
        row = run_arch(arch, args, out)
        rows.append(row)
        m = row["model"]["mean"]
        print(f"{arch:14} R2 {m['r2']:7.3f}  r {m['r']:6.3f}  baseline R2 {row['baseline']['mean']['r2']:7.3f}  "
              f"{row['wall_s'] / 60:5.1f} min", flush=True)
    name = "accuracy" + ("" if args.split == "passage" else f"_{args.split}") + (f"_{args.tag}" if args.tag else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({
        "command": "python bench/accuracy.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "protocol": "DESIGN.md: folds.csv fold_passage (4 folds) or performer split; early stopping on an inner "
                    "split of the training folds; R² (sklearn) and Pearson r per dimension, mean over folds, "
                    "then mean over dimensions",
        "runs": rows,
    }, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(rows, args.split))
    print(f"wrote {RESULTS / name}.json and .md")


if __name__ == "__main__":
    main()
