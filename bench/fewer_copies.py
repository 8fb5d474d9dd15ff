"""A training store with fewer augmented recordings per segment, cut from one built with more, and
the build time it would take, estimated from the measured steps of the bigger build.

Usage:
  python bench/fewer_copies.py --store data/stores/multi_piano_aug0x3_comp0.3_floor35 --copies 2
                               --new data/stores/multi_piano_aug0x2_comp0.3_floor35
                               [--build bench/results/training_store_fresh_x3_floor35_comp0.3.json]
                               [--out bench/results/fewer_copies_x2]

`pianokit dataset augment` draws each variant from (seed, copy, segment), so the variants 1..K of a
store built with more copies are exactly those a build with --copies K makes: the smaller store is the
bigger one less the rows of copies above K. Its mels and cached embeddings are hard-linked, its tables
filtered. The build-time estimate scales each measured step by the share of its work left (renders
and combining unchanged, augmentation by copies, extraction by rows); it is an estimate, not a
measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit.atomic import atomic_path  # noqa: E402

COPY = re.compile(r"@aug(\d+)@")


def copy_of(item_id: str) -> int:
    """The augmented copy an id names (0 for a clean render)."""
    found = COPY.search(item_id)
    return int(found.group(1)) if found else 0


def cut(store: Path, new: Path, copies: int) -> tuple[int, int, int]:
    """Write ``new``: ``store`` without copies above ``copies``; returns (rows before, rows kept, most copies seen)."""
    table = pd.read_csv(store / "features.csv", dtype={"id": str})
    manifest = pd.read_csv(store / "manifest.csv", dtype={"segment_id": str})
    most = int(table["id"].map(copy_of).max())
    if copies >= most:
        raise SystemExit(f"{store}: holds {most} copies per segment; ask for fewer")
    keep = table[table["id"].map(copy_of) <= copies]
    staging = new.with_name(new.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "mels").mkdir(parents=True)
    for item_id in keep["id"]:
        os.link(store / "mels" / f"{item_id}.npy", staging / "mels" / f"{item_id}.npy")
    for folder in (store / "embeddings").glob("*"):
        (staging / "embeddings" / folder.name).mkdir(parents=True)
        shutil.copy2(folder / "info.json", staging / "embeddings" / folder.name / "info.json")
        for item_id in keep["id"]:
            source = folder / f"{item_id}.npy"
            if source.is_file():
                os.link(source, staging / "embeddings" / folder.name / source.name)
    for name in ("config.json", "failures.csv"):
        if (store / name).is_file():
            shutil.copy2(store / name, staging / name)
    with atomic_path(staging / "features.csv") as tmp:
        keep.to_csv(tmp, index=False)
    with atomic_path(staging / "manifest.csv") as tmp:
        manifest[manifest["segment_id"].map(copy_of) <= copies].to_csv(tmp, index=False)
    staging.rename(new)
    return len(table), len(keep), most


def estimate(build: dict, copies: int, most: int, rows: int, kept: int) -> list[dict]:
    """The measured steps of ``build`` scaled to ``copies`` augmented recordings per segment."""
    steps = []
    for s in build["steps"]:
        share = copies / most if s["step"].startswith("augment") else kept / rows if s["step"] == "extract" else 1.0
        steps.append({"step": s["step"], "measured_s": s["wall_s"], "estimated_s": round(s["wall_s"] * share, 1)})
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--copies", type=int, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--build", type=Path, default=Path("bench/results/training_store_fresh_x3_floor35_comp0.3.json"),
                        help="bench/training_store.py result of the bigger store's build")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.new.exists():
        raise SystemExit(f"{args.new}: exists; give a new folder")
    rows, kept, most = cut(args.store, args.new, args.copies)
    steps = estimate(json.loads(args.build.read_text()), args.copies, most, rows, kept)
    measured, estimated = (sum(s[k] for s in steps) for k in ("measured_s", "estimated_s"))
    lines = [f"`{args.store}` ({most} augmented recordings per segment and piano, {rows} rows) -> `{args.new}` "
             f"({args.copies}, {kept} rows). Build time of the smaller store estimated from the measured steps of "
             f"`{args.build}` (augmentation scaled by copies, extraction by rows; not measured).", "",
             "| step | measured (s) | estimated (s) |", "|---|---|---|",
             *(f"| {s['step']} | {s['measured_s']:.0f} | {s['estimated_s']:.0f} |" for s in steps),
             f"| total | {measured:.0f} ({measured / 60:.0f} min) | {estimated:.0f} ({estimated / 60:.0f} min) |"]
    write_table(args.out, "fewer_copies", lines,
                {"store": str(args.store), "new": str(args.new), "copies": args.copies, "copies_before": most,
                 "rows_before": rows, "rows": kept, "build": str(args.build), "steps": steps,
                 "measured_total_s": measured, "estimated_total_s": estimated})


if __name__ == "__main__":
    main()
