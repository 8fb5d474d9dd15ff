"""What each pretrained front-end adds, on the leak-free folds: features alone, + transcription
features, EfficientNet-Lite0 (ImageNet) embeddings, the hybrid of all, ensembles.

Usage:
  python bench/frontends.py [--store data/stores/multi_piano_aug0] [--piano musescore]
                            [--only NAME ...] [--out bench/results/frontends]

All runs read the clean renders of one piano (default MuseScore, the shipped model's training piano)
from the multi-piano store built by bench/training_store.py, through a manifest of that piano only
(`pianokit dataset combine musescore=...`), so no variant or other piano takes part. Each entry is one
`pianokit fit` (finished runs in runs/frontends/ are reused). The Lite0 entries train a head on frozen
backbone embeddings cached in the store; the first of them computes the cache, timed separately.
Prints a table and writes PREFIX.json and .md (mean R², r, within-passage R² and r, baselines of
the same folds, wall time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from result_files import fit_entry, prefix, write_entries  # noqa: E402
from training_store import RENDER_DIRS  # noqa: E402

COMMON = ["--epochs", "200", "--patience", "15"]
MT = ["--arch", "multitask", *COMMON]
LITE0 = ["--param", "frozen=true", "--backbone-weights", "imagenet"]
HYBRID = ["--arch", "hybrid", "--branch", "efficientnet", *LITE0, *COMMON, "--features", "all"]

# name: (what it answers, fit arguments)
ENTRIES = {
    "features79": ("79 librosa features alone (multitask MLP)", MT + ["--features", "extended"]),
    "features115": ("+ 36 transcription features (basic-pitch notes)", MT + ["--features", "all"]),
    "lite0": ("EfficientNet-Lite0 ImageNet embeddings alone (frozen, cached), linear head",
              ["--arch", "efficientnet", *LITE0, *COMMON]),
    "hybrid_lite0": ("115 features + Lite0 embeddings (hybrid, frozen backbone)", HYBRID),
    "features115_ens5": ("115 features, 5-member ensemble", MT + ["--features", "all", "--ensemble", "5"]),
    "hybrid_lite0_ens5": ("hybrid of all, 5-member ensemble", HYBRID + ["--ensemble", "5"]),
    "features115_performer": ("115 features on the performer split (new players)",
                              MT + ["--features", "all", "--split", "performer"]),
    "hybrid_lite0_performer": ("hybrid of all on the performer split (new players)", HYBRID + ["--split", "performer"]),
}


def piano_manifest(data: Path, piano: str, out: Path) -> Path:
    from pianokit.variants import combine_manifests

    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        combine_manifests({piano: data / RENDER_DIRS[piano] / "manifest.csv"}).to_csv(out, index=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--piano", default="musescore", choices=list(RENDER_DIRS))
    parser.add_argument("--runs", type=Path, default=Path("runs/frontends"))
    parser.add_argument("--only", nargs="+", choices=list(ENTRIES))
    parser.add_argument("--out", type=Path, default=None,
                        help="result prefix (default: a new bench/results/frontends-<time>)")
    args = parser.parse_args()
    manifest = piano_manifest(args.data, args.piano, args.runs / f"{args.piano}.csv")
    import pandas as pd

    missing = set(pd.read_csv(manifest)["segment_id"]) - set(pd.read_csv(args.store / "features.csv")["id"])
    if missing:
        sys.exit(f"{args.store}: {len(missing)} segments of {manifest} are not extracted yet")
    rows = []
    for name in args.only or ENTRIES:
        question, fit_args = ENTRIES[name]
        fit_args = [*fit_args, "--store", str(args.store), "--manifest", str(manifest)]
        rows.append(fit_entry(name, question, fit_args, args.runs / name))
    write_entries(prefix(args.out, "frontends"), "frontends.py", rows,
                  f"Clean {args.piano} renders, leak-free folds; `(wp)` = within-passage R²; baselines fitted on the "
                  "same folds by the same code. The first Lite0 entry's wall time includes computing the "
                  "embedding cache.", "what it answers")


if __name__ == "__main__":
    main()
