"""Run the leak-free benchmark protocol (docs/training.md) for each architecture on the rendered PercePiano.

Usage:
  python bench/accuracy.py --store data/stores/percepiano [--archs mlp multitask cnn ...]
                           [--split passage] [--epochs 40] [--crop-seconds 6] [--extra ARGS]

Each architecture is trained with `pianokit fit` (4-fold CV on leak-free folds, early stopping on an
inner split of whole passage groups of the training folds) into runs/bench/<split>/<arch>; finished
runs are reused. Prints a table and writes bench/results/accuracy[_<split>].json and .md: mean R² and
r over the 19 dimensions, plain and within-passage, per-dimension R², the in-house baselines (training
mean, player mean, ridge, MIDI-derived symbolic reference) on the same folds, the label-reliability
ceiling (bench/label_reliability.py) and wall time.
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
    # EfficientNet-Lite0 with its ImageNet weights; CPU budget: 5 frozen + 7 fine-tuning epochs at most
    "efficientnet": ["--epochs", "12", "--patience", "4", "--backbone-weights", "imagenet"],
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
    if not timing_file.is_file():  # the first, full training run; a rerun only re-reads it
        timing_file.write_text(json.dumps({"wall_s": round(wall, 1)}))
    return {"arch": arch, "command": " ".join(["pianokit", *cmd[3:]]),
            "wall_s": json.loads(timing_file.read_text())["wall_s"], **metrics}


def load_reliability() -> dict | None:
    path = RESULTS / "label_reliability.json"
    return json.loads(path.read_text()) if path.is_file() else None


def markdown(rows: list[dict], split: str) -> str:
    from pianokit.baselines import BASELINES
    from pianokit.results_table import markdown_means

    rel = load_reliability()
    lines = [f"Split: {split}, leak-free folds (whole passage groups on one side of every split). Mean over the "
             "19 dimensions of the mean over folds (held-out fold / test set). Baselines are fitted on the same "
             "folds by the same code; `(wp)` = within-passage R². Wall time in the last column of the JSON.", "",
             markdown_means([(r["arch"], r) for r in rows], rel["mean"] if rel else None), ""]
    ref = next((r for r in rows if len(r["model"]["per_dimension"]) == 19), rows[0])
    dims = list(ref["model"]["per_dimension"])
    head = [f"{r['arch']} R² (wp)" for r in rows] + [f"{b} R² (wp)" for b in BASELINES] + ["reliability (wp)"]
    lines += ["Per-dimension R² (within-passage R² in brackets); baselines from the "
              f"`{ref['arch']}` run; reliability = split-half label reliability (bench/label_reliability.py), "
              "the ceiling:", "", "| dimension | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]

    def cell(block: dict | None, d: str) -> str:
        if not block or d not in block["per_dimension"]:
            return "-"
        wp = block.get("within_passage", {}).get("per_dimension", {}).get(d)
        return f"{block['per_dimension'][d]['r2']:.3f}" + (f" ({wp['r2']:.3f})" if wp else "")

    for d in dims:
        cells = [cell(r["model"], d) for r in rows] + [cell(ref["baselines"].get(b), d) for b in BASELINES]
        if rel:
            v = rel["per_dimension"][d]
            cells.append(f"{v['overall']:.3f} ({v['within_passage']:.3f})")
        else:
            cells.append("-")
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
        wp = row["model"].get("within_passage", {}).get("mean", {})
        base = "  ".join(f"{name} {b['mean']['r2']:6.3f}" for name, b in row["baselines"].items())
        print(f"{arch:14} R2 {m['r2']:7.3f}  r {m['r']:6.3f}  wp R2 {wp.get('r2', float('nan')):7.3f}  "
              f"wp r {wp.get('r', float('nan')):6.3f} | {base} | {row['wall_s'] / 60:5.1f} min", flush=True)
    name = "accuracy" + ("" if args.split == "passage" else f"_{args.split}") + (f"_{args.tag}" if args.tag else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({
        "command": "python bench/accuracy.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "protocol": "docs/training.md: folds.csv fold_passage (4 leak-free folds: a passage_group never "
                    "straddles a split) or the performer split; early stopping on an inner split of whole passage "
                    "groups of the training folds; R² (sklearn) and Pearson r per dimension, plain and "
                    "within-passage, mean over folds, then mean over dimensions; baselines on the same folds",
        "label_reliability": (load_reliability() or {}).get("mean"),
        "runs": rows,
    }, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(rows, args.split))
    print(f"wrote {RESULTS / name}.json and .md")


if __name__ == "__main__":
    main()
