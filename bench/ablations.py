"""One-change-at-a-time ablations on the rendered PercePiano, under the leak-free protocol (docs/training.md).

The SoundFont ablation needs a second render and store, the transcription entries a store with the
transcription features (any store extracted by this pianokit has them; `--features extended` reads
only the 79 librosa features from it, so the stores are interchangeable for the other entries):
  pianokit dataset percepiano --source ../shared/percepiano --out data/percepiano_musescore \
      --soundfont /usr/share/sounds/sf3/MuseScore_General_Lite.sf3
  pianokit extract --manifest data/percepiano_musescore/manifest.csv --out data/stores/percepiano_musescore
  pianokit extract --manifest data/percepiano_musescore/manifest.csv --out data/stores/percepiano_musescore_tr

Usage: python bench/ablations.py [--store data/stores/percepiano] [--only NAME ...]
Each entry is one `pianokit fit` run (finished runs in runs/ are reused). Prints a table and writes
bench/results/ablations.json and .md: mean R² and r, plain and within-passage, beside the in-house
baselines of the same run and the label-reliability ceiling. One entry re-runs the shipped recipe on
the superseded leaky folds (fold_passage_v1), to show old and new side by side; never quote it alone.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from result_files import RESULTS, fit_once, write_json  # noqa: E402

MT = ["--arch", "multitask", "--epochs", "200", "--patience", "15"]
TR = ["--arch", "transformer", "--epochs", "40", "--patience", "8", "--crop-seconds", "6"]
MUSESCORE = "data/stores/percepiano_musescore"
MUSESCORE_TR = "data/stores/percepiano_musescore_tr"  # extracted with transcription features
OLD_FOLDS = "runs/ablations/manifest_fold_passage_v1.csv"

# name: (question it answers, run folder, fit arguments[, feature store if not --store])
ABLATIONS = {
    "multitask": ("reference: one multitask MLP on the 79 features", "runs/bench/passage/multitask", MT),
    "multitask_ens5": ("seed ensemble of 5 multitask MLPs", "runs/ablations/multitask_ens5",
                       MT + ["--ensemble", "5"]),
    "multitask_performer": ("performer split instead of passage split", "runs/ablations/multitask_performer",
                            MT + ["--split", "performer"]),
    "hybrid_stats": ("features + per-mel-bin mean/std branch instead of features alone",
                     "runs/ablations/hybrid_stats", ["--arch", "hybrid", "--branch", "stats", "--epochs", "200",
                                                     "--patience", "15"]),
    "multitask_musescore": ("audio rendered with MuseScore_General_Lite.sf3 instead of FluidR3_GM.sf2",
                            "runs/ablations/multitask_musescore", MT, MUSESCORE),
    "multitask_musescore_ens5": ("both: MuseScore rendering and a 5-member ensemble (the shipped model)",
                                 "runs/default_musescore_ens5", MT + ["--ensemble", "5", "--final"], MUSESCORE),
    "multitask_musescore_ens5_performer": ("the shipped recipe on the performer split (players never heard)",
                                           "runs/ablations/multitask_musescore_ens5_performer",
                                           MT + ["--ensemble", "5", "--split", "performer"], MUSESCORE),
    "multitask_musescore_ens5_oldfolds": ("the shipped recipe on the OLD leaky folds (fold_passage_v1, "
                                          "early stopping by passage): for comparison only",
                                          "runs/ablations/multitask_musescore_ens5_oldfolds",
                                          MT + ["--ensemble", "5", "--manifest", OLD_FOLDS], MUSESCORE),
    "multitask_musescore_tr_ens5": ("the shipped recipe + 36 transcription features (basic-pitch notes; "
                                    "--features all), with a final model", "runs/multitask_musescore_tr_ens5",
                                    MT + ["--ensemble", "5", "--features", "all", "--final"], MUSESCORE_TR),
    "multitask_musescore_tr_ens5_performer": ("the same on the performer split (players never heard)",
                                              "runs/ablations/multitask_musescore_tr_ens5_performer",
                                              MT + ["--ensemble", "5", "--features", "all", "--split", "performer"],
                                              MUSESCORE_TR),
    "transformer": ("reference: transformer on 6 s log-mel crops", "runs/bench/passage/transformer", TR),
    "transformer_pitch": ("+ pitch-shift augmentation (+-2 semitones)", "runs/ablations/transformer_pitch",
                          TR + ["--augment", "pitch"]),
    "transformer_pitch_stretch": ("+ pitch shift and time stretch (0.9-1.1)",
                                  "runs/ablations/transformer_pitch_stretch", TR + ["--augment", "pitch,stretch"]),
}


def write_old_folds_manifest(store: Path, source: Path) -> None:
    """The store's manifest with the superseded fold_passage_v1 and one group per passage (the old protocol)."""
    import pandas as pd

    manifest = pd.read_csv(store / "manifest.csv")
    old = pd.read_csv(source / "folds.csv").set_index("segment_id")["fold_passage_v1"]
    manifest["fold_passage"] = manifest["segment_id"].map(old).astype(int)
    manifest["passage_group"] = manifest["passage"]
    Path(OLD_FOLDS).parent.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(OLD_FOLDS, index=False)


def main() -> None:
    from pianokit.results_table import markdown_means

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/percepiano"))
    parser.add_argument("--source", type=Path, default=Path("../shared/percepiano"),
                        help="PercePiano folder (its folds.csv gives the old folds for the comparison entry)")
    parser.add_argument("--only", nargs="+", choices=list(ABLATIONS))
    args = parser.parse_args()
    rows = []
    for name in args.only or ABLATIONS:
        question, folder, fit_args, *store = ABLATIONS[name]
        folder = Path(folder)
        store = store[0] if store else str(args.store)
        if OLD_FOLDS in fit_args:
            write_old_folds_manifest(Path(store), args.source)
        cmd = ["pianokit", "fit", *fit_args, "--store", store, "--out", str(folder)]
        wall = fit_once([*fit_args, "--store", store], folder)
        m = json.loads((folder / "metrics.json").read_text())
        wall = None if math.isnan(wall) else wall
        rows.append({"name": name, "question": question, "command": " ".join(cmd), "wall_s": wall, **m})
        wp = m["model"].get("within_passage", {}).get("mean", {})
        print(f"{name:36} {m['split']:9} R2 {m['model']['mean']['r2']:6.3f}  r {m['model']['mean']['r']:6.3f}  "
              f"wp R2 {wp.get('r2', float('nan')):6.3f}  wp r {wp.get('r', float('nan')):6.3f}  "
              + "  ".join(f"{b} {v['mean']['r2']:6.3f}" for b, v in m["baselines"].items()), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "ablations.json", "ablations.py", {"runs": rows})
    reliability = RESULTS / "label_reliability.json"
    rel = json.loads(reliability.read_text())["mean"] if reliability.is_file() else None
    what = ["| ablation | what changes | wall (min) |", "|---|---|---|"]
    what += [f"| {r['name']} | {r['question']} | {r['wall_s'] / 60:.1f} |" if r["wall_s"] else
             f"| {r['name']} | {r['question']} | - |" for r in rows]
    text = ("Leak-free folds unless the name says oldfolds. `(wp)` = within-passage R²; baselines fitted on "
            "the same folds by the same code.\n\n" + markdown_means([(r["name"], r) for r in rows], rel)
            + "\n\n" + "\n".join(what) + "\n")
    (RESULTS / "ablations.md").write_text(text)
    print(f"wrote {RESULTS}/ablations.json and .md")


if __name__ == "__main__":
    main()
