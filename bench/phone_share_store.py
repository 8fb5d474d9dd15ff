"""Prepare a training store with another phone share from a built one, remaking only what changes.

Usage: python bench/phone_share_store.py --data /work/fresh_x4 --phone-share 0.2 [--compress-share 0.3]
       [--seed 0] [--copies 3] [--noise-floor 35] [--built-phone-share 0.1]
then:  python bench/training_store.py --data DATA --copies 3 --noise-floor 35 --compress-share 0.3
       --phone-share 0.2

`dataset augment --phone-share` makes the same draw at any share, so a variant's recipe at another
share differs only in its phone step, and only for the variants whose draw falls between the two
shares. The built store is the one made with --built-phone-share (0.1, the default share, unless
given). For each training piano this links (hard links) every variant of the built augmented folder
whose recipe stays the same into the folder bench/training_store.py names for the new share, and
copies the built store under the new store's name (its log-mels and embeddings as hard links: the
store replaces files, it never writes into them). bench/training_store.py then makes the missing
variants, and its extract step re-extracts only the rows whose audio changed (the store compares
each file's size and time); their Lite0 embeddings are recomputed by the next fit (older than their
log-mels). Nothing is changed in the built folders.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from training_store import TRAIN_PIANOS, augmented_folder, store_folder, variant_suffix  # noqa: E402

from pianokit.conditions import PHONE_SHARE  # noqa: E402
from pianokit.variants import VARIANT_SEPARATOR, variant_recipe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="bench/training_store.py's --data of the built store")
    parser.add_argument("--phone-share", type=float, required=True)
    parser.add_argument("--built-phone-share", type=float, default=PHONE_SHARE, help="the built store's phone share")
    parser.add_argument("--compress-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--noise-floor", type=float, default=None)
    args = parser.parse_args()
    built_suffix = variant_suffix(args.compress_share, args.built_phone_share)
    suffix = variant_suffix(args.compress_share, args.phone_share)
    for piano in TRAIN_PIANOS:
        built = augmented_folder(args.data, piano, args.seed, built_suffix)
        target = augmented_folder(args.data, piano, args.seed, suffix)
        if target.exists():
            print(f"{target}: exists, left as it is")
            continue
        (target / "audio").mkdir(parents=True)
        table = pd.read_csv(built / "manifest.csv")
        kept = 0
        for variant_id, made in zip(table["segment_id"], table["augmentation"]):
            segment_id, _, copy = str(variant_id).rpartition(f"{VARIANT_SEPARATOR}aug")
            if variant_recipe(args.seed, segment_id, int(copy), args.compress_share, args.phone_share).to_json() == made:
                os.link(built / "audio" / f"{variant_id}.flac", target / "audio" / f"{variant_id}.flac")
                kept += 1
        print(f"{piano}: {kept} of {len(table)} variants kept, {len(table) - kept} to make", flush=True)
    _, built_store = store_folder(args.data, args.seed, args.copies, built_suffix, args.noise_floor)
    _, store = store_folder(args.data, args.seed, args.copies, suffix, args.noise_floor)
    if store.exists():
        print(f"{store}: exists, left as it is")
        return
    store.mkdir()
    for item in built_store.iterdir():
        if item.is_dir():
            subprocess.run(["cp", "-al", str(item), str(store / item.name)], check=True)
        else:
            shutil.copy2(item, store / item.name)
    print(f"{store}: copied from {built_store}; now run bench/training_store.py with --phone-share {args.phone_share:g}")


if __name__ == "__main__":
    main()
