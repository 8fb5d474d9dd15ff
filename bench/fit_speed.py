"""Wall time of `pianokit fit` with this checkout's code against the code of another commit.

Usage:
  python bench/fit_speed.py --store data/stores/ms_aug0_floor35 [--before d36d421] [--repeats 2]
                            [--out bench/results/fit_speed] [-- FIT ARGS...]

Runs the same `pianokit fit` (default: multitask, 2 folds, a 2-member ensemble, 60 epochs without
early stopping) --repeats times with the working tree's pianokit and with --before's (a temporary
git worktree, run from its root so that its pianokit is imported), alternating, each in a fresh
process; reports every wall time and each version's mean R2 and within-passage R2, so a speed
change that also changed the results shows.
Prints a table and writes PREFIX.json / PREFIX.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from result_files import fit_once, write_table  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FIT = ["--arch", "multitask", "--folds", "2", "--ensemble", "2", "--epochs", "60", "--patience", "60"]


def run_fit(source: Path, store: Path, out: Path, fit_args: list[str]) -> tuple[float, dict]:
    """Wall seconds and the model metrics of one fit run from the source tree SOURCE."""
    wall = fit_once(["--store", str(store), *fit_args], out, cwd=source)
    return wall, json.loads((out / "metrics.json").read_text())["model"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--before", default="d36d421", help="the commit to compare with")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("fit_args", nargs="*", help="fit options after --")
    args = parser.parse_args()
    fit_args = args.fit_args or DEFAULT_FIT
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "pianokit"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.strip()
    label = head + (" + uncommitted" if dirty else "")
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", str(before), args.before], cwd=REPO, check=True,
                       capture_output=True)
        try:
            runs: dict[str, list] = {args.before: [], label: []}
            for k in range(args.repeats):
                for i, (name, source) in enumerate(((args.before, before), (label, REPO))):
                    wall, model = run_fit(source, args.store.resolve(), Path(tmp) / f"run{i}_{k}", fit_args)
                    runs[name].append({"wall_s": round(wall, 1), "r2": model["mean"]["r2"],
                                       "within_r2": model["within_passage"]["mean"]["r2"]})
                    print(f"{name:24} {wall:7.1f} s  R2 {model['mean']['r2']:.4f}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=REPO, check=False,
                           capture_output=True)
    lines = [f"`pianokit fit --store {args.store} {' '.join(fit_args)}`, {args.repeats} runs each, alternating",
             "", "| code | wall s (each run) | mean wall s | mean R2 | within-passage R2 |", "|---|---|---|---|---|"]
    for name, rows in runs.items():
        walls = [r["wall_s"] for r in rows]
        lines.append(f"| {name} | {', '.join(f'{w:.1f}' for w in walls)} | {sum(walls) / len(walls):.1f} | "
                     f"{rows[0]['r2']:.4f} | {rows[0]['within_r2']:.4f} |")
    write_table(args.out, "fit_speed", lines, {"store": str(args.store), "fit_args": fit_args, "runs": runs})


if __name__ == "__main__":
    main()
