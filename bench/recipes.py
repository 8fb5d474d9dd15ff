"""Changes to the shipped recipe, one at a time, on the multi-piano store and the leak-free folds:
the passage split (music never heard) and the performer split (players never heard).

Usage:
  python bench/recipes.py [--only NAME ...] [--out bench/results/recipes]

The reference (aug1) is the previously shipped recipe: the hybrid of 115 features and frozen
EfficientNet-Lite0 embeddings, 5 members, trained on three pianos plus one augmented recording of
each segment (bench/training_store.py), scored on the clean MuseScore renders. Entries change one
thing: the within-passage loss term (--passage-weight), more augmented recordings per segment (a
store built with `python bench/training_store.py --copies 3`), the consistency term over each
segment's recordings (--consistency-weight; its weight was chosen among 1, 3 and 10 on fold 0's
test passages, so this entry's fold 0 is not a clean held-out figure), and the shipped recipe again
on a store built from MIDI by the current code (aug3_fresh; its wall time, taken from the run's
timestamps, includes computing the Lite0 embeddings of every row, about 7 minutes), and the shipped
recipe with feature version 5 (floor80: the librosa features read the log-mel floored at -80 dB, on the
x3 store carried over by bench/refloor_store.py; the floor was chosen on test folds by
bench/mel_floor.py), and that recipe without the 19 harmonic features (chroma, tonnetz, key
strength), with one member beside its one-member reference and with five (the one-member runs were
made by the same `pianokit fit` commands before the entries existed; their wall times are taken from
the runs' timestamps), and floor80 with a fourth training piano, the Salamander grand (salamander:
its renders by pianokit.sampler and 3 augmented recordings of each, extracted into a copy of the
version-5 store whose other rows are reused; wall time includes the new rows' Lite0 embeddings), and floor80 on a
store built from MIDI with a common 35 dB noise floor under every recording (floor35, the shipped model
since 2026-12-02: `python bench/training_store.py --copies 3 --noise-floor 35`; wall time includes the
Lite0 embeddings; its CV was run first and --final added afterwards to the same run), and floor35 with
the kernel ridge blend (`fit --kernel-ridge`, bench/results/kernel_blend.md) on a store built with a
share of 0.3 of the augmented recordings through a phone's compression and read by the loader's
closer silence limits, DC offset removal and room-tone cut (comp03_kr: `python bench/training_store.py
--copies 3 --noise-floor 35 --compress-share 0.3`, extracted 2026-12-02/03; wall time includes the
Lite0 embeddings of every row; run again on 2026-12-05 on the store built again from MIDI, whose
result, bench/results/recipes_comp03_rebuilt.md, is the shipped model's), comp03_kr without the blend
(comp03), and comp03_kr on that store less its third augmented copies (comp03_kr_x2: first on a
store cut by bench/fewer_copies.py, without --final, bench/results/recipes_comp03_x2.md; then with
--final, and with its performer split, on the same rows built from MIDI by
`python bench/training_store.py --copies 2 --noise-floor 35 --compress-share 0.3` in 58 minutes,
bench/results/recipes_comp03_x2_built.md; wall time includes the Lite0 embeddings). Each entry is one
`pianokit fit` (finished runs are reused). Prints a table and writes PREFIX.json and .md
(mean R², r, within-passage R² and r, the baselines of the same folds, wall time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from result_files import fit_entry, prefix, write_entries  # noqa: E402

SHIPPED = ["--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true", "--backbone-weights", "imagenet",
           "--features", "all", "--epochs", "200", "--patience", "15", "--batch-size", "128", "--ensemble", "5"]
STORE1, STORE3 = "data/stores/multi_piano_aug0", "data/stores/multi_piano_aug0x3"
STORE5 = "data/stores/multi_piano_v5"  # bench/refloor_store.py --old data/stores/multi_piano_aug0x3
STORE5S = "data/stores/multi_piano_v5s"  # STORE5 + the Salamander grand and 3 augmented recordings of it (docs/results.md)
FRESH3 = "data/fresh_v7/stores/multi_piano_aug0x3"  # bench/training_store.py --data data/fresh_v7 --copies 3
FLOOR35 = "data/stores/multi_piano_aug0x3_floor35"  # bench/training_store.py --copies 3 --noise-floor 35
COMP03 = "data/stores/multi_piano_aug0x3_comp0.3_floor35"  # the same + --compress-share 0.3 (built again 2026-12-05)
COMP03X2 = "data/stores/multi_piano_aug0x2_comp0.3_floor35"  # COMP03 built with --copies 2
ONE = SHIPPED[:-1] + ["1"]  # the shipped recipe with one member
HARMONIC = "all,-chroma_*,-tonnetz*,-key_strength"  # the features less the 19 harmonic ones


def no_harmonic(args: list[str]) -> list[str]:
    return [HARMONIC if a == "all" and args[i - 1] == "--features" else a for i, a in enumerate(args)]


PERFORMER = ["--split", "performer"]
PW = ["--passage-weight", "2"]
CW = ["--consistency-weight", "1"]

# name: (what changes, run folder, fit arguments)
ENTRIES = {
    "aug1": ("the previously shipped recipe: 3 pianos + 1 augmented recording each",
             "runs/hybrid_lite0_multi_piano_ens5", SHIPPED + ["--final", "--store", STORE1]),
    "aug1_performer": ("the same, performer split", "runs/hybrid_lite0_multi_piano_ens5_performer",
                       SHIPPED + PERFORMER + ["--store", STORE1]),
    "pw2": ("+ within-passage loss term, weight 2", "runs/pw/hybrid_lite0_multi_piano_ens5_pw2",
            SHIPPED + PW + ["--store", STORE1]),
    "pw2_performer": ("the same, performer split", "runs/pw/hybrid_lite0_multi_piano_ens5_pw2_performer",
                      SHIPPED + PW + PERFORMER + ["--store", STORE1]),
    "aug3": ("3 augmented recordings per segment and piano instead of 1 (shipped with feature version 4)", "runs/hybrid_lite0_aug3_ens5",
             SHIPPED + ["--final", "--store", STORE3]),
    "aug3_performer": ("the same, performer split", "runs/hybrid_lite0_aug3_ens5_performer",
                       SHIPPED + PERFORMER + ["--store", STORE3]),
    "aug3_fresh": ("aug3 on the training store built again from MIDI (bench/results/training_store_fresh_x3_v7.json; "
                   "no held-out piano rows, other rooms in 12 % of rows): does the shipped result reproduce?",
                   "runs/repro/fresh_v7_ens5", SHIPPED + ["--store", FRESH3]),
    "cw1": ("aug3 + consistency term over each segment's recordings, weight 1", "runs/hybrid_lite0_aug3_cw1_ens5",
            SHIPPED + CW + ["--final", "--store", STORE3]),
    "cw1_performer": ("the same, performer split", "runs/hybrid_lite0_aug3_cw1_ens5_performer",
                      SHIPPED + CW + PERFORMER + ["--store", STORE3]),
    "floor80": ("aug3 with feature version 5: librosa features from the log-mel floored at -80 dB, not -100",
                "runs/hybrid_lite0_v5_ens5", SHIPPED + ["--final", "--store", STORE5]),
    "floor80_performer": ("the same, performer split", "runs/hybrid_lite0_v5_ens5_performer",
                          SHIPPED + PERFORMER + ["--store", STORE5]),
    "floor80_1": ("floor80 with one member (reference for the next entry)", "runs/harmonic/all_1",
                  ONE + ["--store", STORE5]),
    "floor80_1_performer": ("the same, performer split", "runs/harmonic/all_1_performer",
                            ONE + PERFORMER + ["--store", STORE5]),
    "no_harmonic_1": ("floor80_1 without the 19 harmonic features (chroma, tonnetz, key strength: they name the "
                      "music more than the playing)", "runs/harmonic/noharm_1", no_harmonic(ONE) + ["--store", STORE5]),
    "no_harmonic_1_performer": ("the same, performer split", "runs/harmonic/noharm_1_performer",
                                no_harmonic(ONE) + PERFORMER + ["--store", STORE5]),
    "no_harmonic": ("floor80 without the 19 harmonic features, 5 members", "runs/harmonic/noharm_ens5",
                    no_harmonic(SHIPPED) + ["--store", STORE5]),
    "no_harmonic_performer": ("the same, performer split", "runs/harmonic/noharm_ens5_performer",
                              no_harmonic(SHIPPED) + PERFORMER + ["--store", STORE5]),
    "salamander": ("floor80 + a fourth training piano: the Salamander grand (recorded notes, pianokit.sampler), its "
                   "clean renders and 3 augmented recordings of each", "runs/hybrid_lite0_v5s_ens5",
                   SHIPPED + ["--final", "--store", STORE5S]),
    "salamander_performer": ("the same, performer split", "runs/hybrid_lite0_v5s_ens5_performer",
                             SHIPPED + PERFORMER + ["--store", STORE5S]),
    "floor35": ("floor80 on a store built from MIDI whose every recording was extracted over a common pink noise "
                "floor 35 dB below it (FeatureConfig.noise_floor_db; the scorer adds the same floor)",
                "runs/hybrid_lite0_floor35_ens5", SHIPPED + ["--final", "--store", FLOOR35]),
    "floor35_performer": ("the same, performer split", "runs/hybrid_lite0_floor35_ens5_performer",
                          SHIPPED + PERFORMER + ["--store", FLOOR35]),
    "comp03_kr": ("floor35 + kernel ridge blend, on a store with phone compression in 30 % of the augmented "
                  "recordings and the loader's closer silence limits, DC removal and room-tone cut",
                  "runs/hybrid_lite0_comp03_kr_ens5", SHIPPED + ["--kernel-ridge", "--final", "--store", COMP03]),
    "comp03_kr_performer": ("the same, performer split", "runs/hybrid_lite0_comp03_kr_ens5_performer",
                            SHIPPED + ["--kernel-ridge"] + PERFORMER + ["--store", COMP03]),
    "comp03": ("comp03_kr without the kernel ridge blend (what the store adds, and what the blend adds beside it)",
               "runs/hybrid_lite0_comp03_ens5", SHIPPED + ["--store", COMP03]),
    "comp03_kr_x2": ("comp03_kr with 2 augmented recordings per segment and piano instead of 3 (a store that "
                     "builds in under 60 minutes)", "runs/hybrid_lite0_comp03_kr_x2_ens5",
                     SHIPPED + ["--kernel-ridge", "--final", "--store", COMP03X2]),
    "comp03_kr_x2_performer": ("the same, performer split", "runs/hybrid_lite0_comp03_kr_x2_ens5_performer",
                               SHIPPED + ["--kernel-ridge"] + PERFORMER + ["--store", COMP03X2]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(ENTRIES))
    parser.add_argument("--out", type=Path, default=None,
                        help="result prefix (default: a new bench/results/recipes-<time>)")
    args = parser.parse_args()
    rows = []
    for name in args.only or ENTRIES:
        question, folder, fit_args = ENTRIES[name]
        rows.append(fit_entry(name, question, fit_args, Path(folder)))
    write_entries(prefix(args.out, "recipes"), "recipes.py", rows,
                  "Multi-piano store, scored on clean MuseScore renders, leak-free folds; `(wp)` = within-passage R²; "
                  "baselines fitted on the same folds by the same code (ridge on the run's features, 115 unless the "
                  "entry drops some, of every training row). Wall times share the 2 cores with whatever else ran.", "what changes")


if __name__ == "__main__":
    main()
