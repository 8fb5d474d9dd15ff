"""Does blending the shipped recipe with a kernel ridge on its features (`fit --kernel-ridge`) rate
better, on music never heard and on players never heard?

Usage:
  python bench/kernel_blend.py [--store data/stores/ms_aug0_floor35] [--runs runs/kernel_blend]
                               [--out bench/results/kernel_blend]

Four `pianokit fit` runs (finished ones are reused): the shipped recipe (hybrid of the 115 features
and frozen EfficientNet-Lite0 embeddings, 5 members) with and without --kernel-ridge, on the passage
and the performer split. The kernel ridge's penalty, width and share of the blend are chosen on each
fold's early-stopping split, never on its test fold (pianokit.kernel_ridge); the network members are
the same in both runs (same seeds), so the difference is the blend alone. Prints a table and writes
PREFIX.json and .md: mean R², r, within-passage R² and r, the baselines of the same folds, wall time,
and each fold's chosen settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from recipes import SHIPPED  # noqa: E402
from result_files import fit_entry, prefix, write_entries  # noqa: E402

KERNEL = ["--kernel-ridge"]
PERFORMER = ["--split", "performer"]
ENTRIES = {  # name: (question, extra fit arguments)
    "hybrid": ("the shipped recipe, music never heard (passage split)", []),
    "hybrid+kernel": ("the same blended with a kernel ridge on the 115 features", KERNEL),
    "hybrid_performer": ("the shipped recipe, players never heard (performer split)", PERFORMER),
    "hybrid+kernel_performer": ("the same blended with a kernel ridge", KERNEL + PERFORMER),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="data/stores/ms_aug0_floor35")
    parser.add_argument("--runs", type=Path, default=Path("runs/kernel_blend"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for name, (question, extra) in ENTRIES.items():
        folder = args.runs / name
        row = fit_entry(name, question, [*SHIPPED, "--store", args.store, *extra], folder)
        row["kernel_ridge"] = [json.loads(f.read_text()).get("kernel_ridge")
                               for f in sorted(folder.glob("fold*/metrics.json"))]
        rows.append(row)
    chosen = [f"| {r['name']} | " + "; ".join(f"alpha {k['alpha']:g}, width {k['width']:g}, weight {k['weight']:g}"
                                              for k in r["kernel_ridge"]) + " |"
              for r in rows if any(r["kernel_ridge"])]
    intro = (f"`pianokit fit` on `{args.store}`, the shipped recipe with and without `--kernel-ridge`; "
             "clean evaluated renders of each fold's held-out passages (passage split) or players (performer "
             "split). Kernel ridge settings and blend weight chosen on each fold's early-stopping split:\n\n"
             "| run | per fold |\n|---|---|\n" + "\n".join(chosen))
    write_entries(prefix(args.out, "kernel_blend"), "kernel_blend.py", rows, intro, "question")


if __name__ == "__main__":
    main()
