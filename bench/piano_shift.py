"""Which features say more about the piano than about the player? Per feature, how far it moves
when the same performance is rendered on another piano, in units of how far it moves between
players of one passage.

Usage:
  python bench/piano_shift.py [--store data/stores/multi_piano_aug0x3] [--manifest data/multi_piano_aug0x3.csv]
                              [--reference musescore] [--pianos timgm] [--max-shift 1.0]
                              [--out bench/results/piano_shift]

For each segment rendered on the reference piano and on piano P, |feature(P) - feature(reference)|;
its median over segments, divided by the feature's within-passage SD among players on the
reference piano, is the feature's shift. Features whose shift stays under --max-shift for every
piano in --pianos are written as a `pianokit fit --features` list (the .txt), so bench/pianos.py can
test whether dropping piano-bound features helps a piano the model never heard. Choose --pianos
among the training pianos only: a held-out piano used here is no longer held out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit.manifest import read_manifest  # noqa: E402
from pianokit.store import FeatureStore  # noqa: E402


def shifts(store: Path, manifest: Path, reference: str, pianos: list[str]) -> pd.DataFrame:
    """Per feature (rows) and piano (columns): median |shift| / within-passage SD on the reference."""
    opened = FeatureStore.open(store)
    features = list(opened.config.features)
    values = opened.table.set_index("id")[features]
    table = read_manifest(manifest, labelled=True)
    ref = table[table["source"] == reference].set_index("source_id")
    ref_values = values.loc[ref["segment_id"]].set_axis(ref.index)
    spread = ref_values.groupby(ref["passage"].to_numpy()).transform(lambda c: c - c.mean()).std()
    out = {}
    for piano in pianos:
        other = table[table["source"] == piano].set_index("source_id")
        common = ref.index.intersection(other.index)
        moved = (values.loc[other.loc[common, "segment_id"]].to_numpy() - ref_values.loc[common].to_numpy())
        out[piano] = pd.DataFrame(moved, columns=features).abs().median() / spread.replace(0, float("nan"))
    return pd.DataFrame(out).fillna(0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3"))
    parser.add_argument("--manifest", type=Path, default=Path("data/multi_piano_aug0x3.csv"))
    parser.add_argument("--reference", default="musescore")
    parser.add_argument("--pianos", nargs="+", default=["timgm"])
    parser.add_argument("--max-shift", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    table = shifts(args.store, args.manifest, args.reference, args.pianos)
    kept = [f for f in table.index if (table.loc[f] < args.max_shift).all()]
    ordered = table.assign(worst=table.max(axis=1)).sort_values("worst", ascending=False)
    lines = [f"Median |feature shift| from {args.reference} to each piano, same segment, in within-passage "
             f"player SDs on {args.reference}. {len(kept)} of {len(table)} features stay under "
             f"{args.max_shift} on every piano.", "", "| feature | " + " | ".join(args.pianos) + " |",
             "|---|" + "---|" * len(args.pianos)]
    lines += [f"| {f} | " + " | ".join(f"{ordered.loc[f, p]:.2f}" for p in args.pianos) + " |" for f in ordered.index]
    out = write_table(args.out, "piano_shift", lines, {
        "reference": args.reference, "pianos": args.pianos, "max_shift": args.max_shift,
        "shift": {f: {p: round(float(table.loc[f, p]), 3) for p in args.pianos} for f in table.index},
        "kept": kept})
    out.with_suffix(".txt").write_text(",".join(kept) + "\n")
    print(f"-> {out}.txt ({len(kept)} features)")


if __name__ == "__main__":
    main()
