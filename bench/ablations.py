"""One-change-at-a-time ablations on the rendered PercePiano, under the DESIGN.md protocol.

The SoundFont ablation needs a second render and store:
  pianokit dataset percepiano --source ../shared/percepiano --out data/percepiano_musescore \
      --soundfont /usr/share/sounds/sf3/MuseScore_General_Lite.sf3
  pianokit extract --manifest data/percepiano_musescore/manifest.csv --out data/stores/percepiano_musescore

Usage: python bench/ablations.py [--store data/stores/percepiano] [--only NAME ...]
Each entry is one `pianokit fit` run (finished runs in runs/ are reused). Prints a table and writes
bench/results/ablations.json and .md with mean R², mean r and per-dimension R².
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
MT = ["--arch", "multitask", "--epochs", "200", "--patience", "15"]
TR = ["--arch", "transformer", "--epochs", "40", "--patience", "8", "--crop-seconds", "6"]

# name: (question it answers, run folder, fit arguments[, feature store if not --store])
ABLATIONS = {
    "multitask": ("reference: one multitask MLP on the 79 features", "runs/bench/passage/multitask", MT),
    "multitask_ens5": ("seed ensemble of 5 multitask MLPs", "runs/default_ens5",
                       MT + ["--ensemble", "5"]),
    "multitask_performer": ("performer split instead of passage split", "runs/ablations/multitask_performer",
                            MT + ["--split", "performer"]),
    "hybrid_stats": ("features + per-mel-bin mean/std branch instead of features alone",
                     "runs/ablations/hybrid_stats", ["--arch", "hybrid", "--branch", "stats", "--epochs", "200",
                                                     "--patience", "15"]),
    "multitask_musescore": ("audio rendered with MuseScore_General_Lite.sf3 instead of FluidR3_GM.sf2",
                            "runs/ablations/multitask_musescore", MT, "data/stores/percepiano_musescore"),
    "multitask_musescore_ens5": ("both: MuseScore rendering and a 5-member ensemble (the shipped model)",
                                 "runs/default_musescore_ens5", MT + ["--ensemble", "5", "--final"],
                                 "data/stores/percepiano_musescore"),
    "transformer": ("reference: transformer on 6 s log-mel crops", "runs/bench/passage/transformer", TR),
    "transformer_pitch": ("+ pitch-shift augmentation (+-2 semitones)", "runs/ablations/transformer_pitch",
                          TR + ["--augment", "pitch"]),
    "transformer_pitch_stretch": ("+ pitch shift and time stretch (0.9-1.1)",
                                  "runs/ablations/transformer_pitch_stretch", TR + ["--augment", "pitch,stretch"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/percepiano"))
    parser.add_argument("--only", nargs="+", choices=list(ABLATIONS))
    args = parser.parse_args()
    rows = []
    for name in args.only or ABLATIONS:
        question, folder, fit_args, *store = ABLATIONS[name]
        folder = Path(folder)
        cmd = ["pianokit", "fit", *fit_args, "--store", store[0] if store else str(args.store), "--out", str(folder)]
        start = time.perf_counter()
        if not (folder / "metrics.json").is_file():
            subprocess.run([sys.executable, "-m", *cmd, "--no-progress"], check=True, stdout=subprocess.DEVNULL)
            (folder / "wall_time.json").write_text(json.dumps({"wall_s": round(time.perf_counter() - start, 1)}))
        m = json.loads((folder / "metrics.json").read_text())
        wall = json.loads((folder / "wall_time.json").read_text())["wall_s"] if (folder / "wall_time.json").is_file() else None
        rows.append({"name": name, "question": question, "command": " ".join(cmd), "split": m["split"],
                     "mean": m["model"]["mean"], "baseline_mean": m["baseline"]["mean"],
                     "per_dimension_r2": {d: v["r2"] for d, v in m["model"]["per_dimension"].items()},
                     "wall_s": wall})
        print(f"{name:28} {m['split']:9} R2 {m['model']['mean']['r2']:6.3f}  r {m['model']['mean']['r']:6.3f}  "
              f"baseline R2 {m['baseline']['mean']['r2']:6.3f}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ablations.json").write_text(json.dumps({
        "command": "python bench/ablations.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "runs": rows}, indent=2) + "\n")
    lines = ["| ablation | what changes | split | mean R² | mean r | baseline R² | wall (min) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        wall = f"{r['wall_s'] / 60:.1f}" if r["wall_s"] else "-"
        lines.append(f"| {r['name']} | {r['question']} | {r['split']} | {r['mean']['r2']:.3f} | {r['mean']['r']:.3f} "
                     f"| {r['baseline_mean']['r2']:.3f} | {wall} |")
    (RESULTS / "ablations.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}/ablations.json and .md")


if __name__ == "__main__":
    main()
