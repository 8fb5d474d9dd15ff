"""Carry a feature store of version 4 over to version 5 without a full re-extraction, and time it.

Usage:
  python bench/refloor_store.py --old data/stores/multi_piano_aug0x3 --new data/stores/multi_piano_v5
                                [--reuse runs/mel_floor/features_-80.csv] [--jobs 2] [--out bench/results/refloor_store]

Version 5 changed one thing: the librosa features read the log-mel floored at ``feature_floor_db``
(-80 dB) instead of ``mel_floor_db`` (-100 dB). The log-mels, the transcription features, the
frozen-backbone embeddings (made from the log-mels) and the store's manifest and symbolic table do not
depend on it, so they are hard-linked or copied; the 79 librosa features of every row are computed
again from its audio. ``--reuse`` takes rows already computed with exactly these settings (a
bench/mel_floor.py cache), after checking a sample of them against a fresh computation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from mel_floor import compute_features  # noqa: E402
from result_files import write_table  # noqa: E402

from pianokit.atomic import atomic_path, write_text  # noqa: E402
from pianokit.contract import FEATURE_VERSION, FeatureConfig  # noqa: E402

CHECKED = 20  # reused rows recomputed to prove the reuse file was made with these settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--reuse", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    old_config = json.loads((args.old / "config.json").read_text())
    if old_config.get("version") != 4 or FEATURE_VERSION != 5:
        raise SystemExit(f"{args.old}: carries version 4 stores to version 5 only")
    if args.new.exists():
        raise SystemExit(f"{args.new}: exists; give a new folder")
    old = FeatureConfig.from_dict(old_config)
    new = dataclasses.replace(old, feature_floor_db=FeatureConfig.feature_floor_db, version=FEATURE_VERSION)
    librosa_names = [n for n in new.features if not n.startswith("tr_")]
    lib_config = dataclasses.replace(new, features=tuple(librosa_names))
    table = pd.read_csv(args.old / "features.csv", dtype={"id": str})
    audio_of = table.set_index("id")["audio"].astype(str)
    values = pd.DataFrame(np.nan, index=table["id"], columns=librosa_names)
    reused = 0
    if args.reuse:
        cache = pd.read_csv(args.reuse, dtype={"id": str}).set_index("id")[librosa_names]
        cache = cache[cache.index.isin(values.index)]
        sample = cache.sample(min(CHECKED, len(cache)), random_state=0)
        fresh = compute_features(audio_of[sample.index].tolist(), lib_config, args.jobs, "check")
        if not np.allclose(fresh, sample.to_numpy(float), rtol=1e-4, atol=1e-5):
            raise SystemExit(f"{args.reuse}: its rows differ from features computed now; not reused")
        values.loc[cache.index] = cache.to_numpy(float)
        reused = len(cache)
    todo = values.index[values.isna().any(axis=1)]
    if len(todo):
        values.loc[todo] = compute_features(audio_of[todo].tolist(), lib_config, args.jobs, "features")
    computing_s = time.perf_counter() - start

    staging = args.new.with_name(args.new.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(args.old, staging, copy_function=os.link)
    for name in ("features.csv", "config.json"):
        (staging / name).unlink()
    table[librosa_names] = values.loc[table["id"], librosa_names].to_numpy(np.float32)
    with atomic_path(staging / "features.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_text(staging / "config.json", json.dumps(new.to_dict(), indent=2))
    for info_path in (staging / "embeddings").glob("*/info.json"):
        info = json.loads(info_path.read_text())
        if FeatureConfig.from_dict(info["feature_config"]) != old:
            raise SystemExit(f"{info_path}: embeddings made with settings other than the store's")
        info["feature_config"] = new.to_dict()
        info_path.unlink()
        write_text(info_path, json.dumps(info, indent=2))
    staging.rename(args.new)
    wall = time.perf_counter() - start
    lines = [f"`{args.old}` (version 4) -> `{args.new}` (version {FEATURE_VERSION}), {len(table)} rows, "
             f"{args.jobs} jobs.", "",
             "| rows | reused (checked) | computed | wall (min) |", "|---|---|---|---|",
             f"| {len(table)} | {reused} ({min(CHECKED, reused)}) | {len(todo)} | {wall / 60:.1f} |"]
    write_table(args.out, "refloor_store", lines,
                {"old": str(args.old), "new": str(args.new), "rows": len(table), "reused": reused,
                 "computed": int(len(todo)), "computing_s": computing_s, "wall_s": wall})


if __name__ == "__main__":
    main()
