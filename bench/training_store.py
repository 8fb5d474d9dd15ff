"""Build the multi-piano, augmented training store and time every step.

Usage:
  python bench/training_store.py [--source ../shared/percepiano] [--data data] [--copies 1] [--seed 0]
                                 [--jobs 2] [--heldout-piano] [--noise-floor DB] [--compress-share P]
                                 [--phone-share P]
                                 [--out bench/results/training_store.json]

Steps, each a `pianokit` command (all resumable, so a rerun only does what is missing):
  1. render PercePiano with every training piano below (pianokit dataset percepiano --soundfont ...);
  2. record each training piano again under random conditions (pianokit dataset augment);
  3. combine them into one manifest: ids <segment>@<name>;
  4. extract features of every row into one store (pianokit extract --manifest).
--heldout-piano also renders and extracts the csound piano, never trained on (rows with train=0,
eval=0): the training store does not need it; bench/pianos.py adds it to a store when it runs.
The manifest and store are named multi_piano_aug<seed>, plus x<copies> when copies > 1; with
--noise-floor DB the store (not the manifest) gets _floor<DB> and is extracted over that noise floor.
--compress-share P passes P to `dataset augment` (that share of the variants also goes through a
phone's compression); the augmented folders, the manifest and the store then end in _comp<P>, so
variants made without it are never mixed in (augment keeps files it finds). --phone-share P passes P
to `dataset augment` (that share of the variants goes through a phone call; 0.1 unless given), and
a share other than 0.1 adds _phone<P> to the same names.
A step whose outputs already existed is reported with the time it took now (near zero), so the
JSON says which steps ran: the full build time is the sum over a run where every step ran.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from pianokit.conditions import PHONE_SHARE

RESULTS = Path(__file__).parent / "results"

# name -> SoundFont; the first three train the shipped model, the last is the held-out piano.
PIANOS = {
    "musescore": "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "timgm": "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "csound": "/usr/share/sounds/sf2/sf_GMbank.sf2",
}
TRAIN_PIANOS = ("musescore", "fluidr3", "timgm")
RENDER_DIRS = {"musescore": "percepiano_musescore", "fluidr3": "percepiano", "timgm": "percepiano_timgm",
               "csound": "percepiano_csound"}


def variant_suffix(compress_share: float, phone_share: float) -> str:
    """What the augmented folders, the manifest and the store add to their names for these shares."""
    return (f"_comp{compress_share:g}" if compress_share else "") + \
        (f"_phone{phone_share:g}" if phone_share != PHONE_SHARE else "")


def augmented_folder(data: Path, piano: str, seed: int, suffix: str) -> Path:
    return data / f"{RENDER_DIRS[piano]}_aug{seed}{suffix}"


def store_folder(data: Path, seed: int, copies: int, suffix: str, noise_floor: float | None) -> tuple[str, Path]:
    """(the combined manifest's name, the store's folder)."""
    name = f"multi_piano_aug{seed}" + (f"x{copies}" if copies > 1 else "") + suffix
    return name, data / "stores" / (name + ("" if noise_floor is None else f"_floor{noise_floor:g}"))


def step(name: str, cmd: list[str], log: list[dict]) -> None:
    print(f"== {name}: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    log.append({"step": name, "command": " ".join(cmd), "wall_s": round(time.perf_counter() - start, 1)})
    print(f"   {log[-1]['wall_s']} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="../shared/percepiano")
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--heldout-piano", action="store_true",
                        help="also render and extract the never-trained csound piano (as bench/pianos.py needs)")
    parser.add_argument("--noise-floor", type=float, default=None,
                        help="extract over a common pink-noise floor DB below each recording (pianokit extract)")
    parser.add_argument("--compress-share", type=float, default=0.0,
                        help="share of augmented variants that also go through a phone's compression (dataset augment)")
    parser.add_argument("--phone-share", type=float, default=PHONE_SHARE,
                        help="share of augmented variants recorded through a phone call (dataset augment)")
    parser.add_argument("--out", type=Path, default=None,
                        help="result JSON (default: a new file bench/results/training_store-<time>.json)")
    args = parser.parse_args()
    pk = [sys.executable, "-m", "pianokit"]
    jobs = ["--jobs", str(args.jobs), "--no-progress"]
    log: list[dict] = []
    named = {}
    for name, font in PIANOS.items():
        if name not in TRAIN_PIANOS and not args.heldout_piano:
            continue
        folder = args.data / RENDER_DIRS[name]
        step(f"render {name}", [*pk, "dataset", "percepiano", "--source", args.source, "--out", str(folder),
                                "--soundfont", font, *jobs], log)
        named[name] = folder / "manifest.csv"
    suffix = variant_suffix(args.compress_share, args.phone_share)
    for name in TRAIN_PIANOS:
        folder = augmented_folder(args.data, name, args.seed, suffix)
        step(f"augment {name}", [*pk, "dataset", "augment", "--manifest", str(named[name]), "--out", str(folder),
                                 "--copies", str(args.copies), "--seed", str(args.seed),
                                 "--compress-share", f"{args.compress_share:g}",
                                 "--phone-share", f"{args.phone_share:g}", *jobs], log)
        named[f"{name}_aug"] = folder / "manifest.csv"
    name, store = store_folder(args.data, args.seed, args.copies, suffix, args.noise_floor)
    combined = args.data / f"{name}.csv"
    if not combined.exists():
        train = [n for n in named if n.split("_")[0] in TRAIN_PIANOS]
        step("combine", [*pk, "dataset", "combine", *(f"{n}={m}" for n, m in named.items()), "--out", str(combined),
                         *(a for n in train for a in ("--train", n)), "--eval", "musescore"], log)
    floor = [] if args.noise_floor is None else ["--noise-floor", f"{args.noise_floor:g}"]
    step("extract", [*pk, "extract", "--manifest", str(combined), "--out", str(store), *floor, *jobs], log)
    total = sum(s["wall_s"] for s in log)
    print(f"total {total:.0f} s")
    out = args.out or RESULTS / f"training_store-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": "python bench/training_store.py " + " ".join(sys.argv[1:]),
                               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                                           "cores": args.jobs},
                               "heldout_piano": args.heldout_piano, "total_wall_s": round(total, 1),
                               "steps": log}, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
