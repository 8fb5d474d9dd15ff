"""Would moving the ratings back by a fixed offset when the scorer's room or phone check warns make
them steadier? A probe on bench/robustness.py's per-segment ratings, scoring nothing.

Usage: python bench/condition_offset.py --run runs/hybrid_lite0_comp03_phone02_kr48_ens5
                                        [--out bench/results/condition_offset]

Reads RUN/robustness_ratings.csv (each held-out segment clean and under every condition, rated by
its fold's model, with the scorer's warnings). For each fold, the offset of a check is the mean
rating shift (condition minus clean, per dimension) of the recordings that check warned about in
the *other* folds (their passages and models; the phone check first, the room check for recordings
the phone check let pass), and it is taken off the ratings of this fold's recordings it warns
about, whatever their condition, clean included. The offsets are learnt from the bench's own
conditions, the same channels as the test rows', which a shipped model cannot do (offsets it learns
on its own early-stopping rows do worse: docs/results.md, "An offset when a check warns"). Beside
them, an oracle: each condition's own mean shift over all folds taken off its rows (test ratings
used, a bound, not a result). Per condition: R², within-passage R² and the mean |shift| in
within-passage label SDs, as scored, with the phone check's offset, with both checks' and with the
oracle.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from result_files import write_table  # noqa: E402
from robustness import evaluated_rows  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402

PRED, TRUE = [f"pred_{d}" for d in DIMENSIONS], [f"true_{d}" for d in DIMENSIONS]
CHECKS = {"phone": "phone channel", "room": "reverberant room"}


def paired(df: pd.DataFrame) -> pd.DataFrame:
    """Every row with its shift from the same segment's clean rating (columns shift_*) and the check
    that warned about it (column check: phone, else room, else empty)."""
    clean = df[df["condition"] == "clean"].set_index("segment_id")[PRED]
    out = df.copy()
    shift = df[PRED].to_numpy() - clean.loc[df["segment_id"], PRED].to_numpy()
    out[[f"shift_{d}" for d in DIMENSIONS]] = shift
    said = df["warnings"].fillna("").astype(str)
    out["check"] = np.where(said.str.contains(CHECKS["phone"]), "phone",
                            np.where(said.str.contains(CHECKS["room"]), "room", ""))
    return out


def check_offsets(df: pd.DataFrame, checks: tuple[str, ...]) -> np.ndarray:
    """Per row, the offset its check's warning takes off: learnt on the other folds' warned rows."""
    shifts = [f"shift_{d}" for d in DIMENSIONS]
    out = np.zeros((len(df), len(DIMENSIONS)))
    for fold in df["fold"].unique():
        mine, other = (df["fold"] == fold).to_numpy(), (df["fold"] != fold).to_numpy()
        for check in checks:
            learnt = other & (df["check"] == check).to_numpy() & (df["condition"] != "clean").to_numpy()
            out[mine & (df["check"] == check).to_numpy()] = df.loc[learnt, shifts].mean().to_numpy()
    return out


def summary(part: pd.DataFrame, ratings: np.ndarray, clean: pd.DataFrame, wp_sd: float) -> dict:
    ev = evaluate(part[TRUE].to_numpy(), ratings, DIMENSIONS, part["passage"])
    moved = np.abs(ratings - clean.loc[part["segment_id"], PRED].to_numpy()).mean() / wp_sd
    return {"r2": ev["mean"]["r2"], "within_passage_r2": ev["within_passage"]["mean"]["r2"], "shift": float(moved)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    df = paired(pd.read_csv(args.run / "robustness_ratings.csv"))
    wp_sd = evaluated_rows(args.run)[1]  # the unit bench/robustness.py reports shifts in
    offsets = {"phone": check_offsets(df, ("phone",)), "phone_room": check_offsets(df, ("phone", "room"))}
    clean = df[df["condition"] == "clean"].set_index("segment_id")
    results = {}
    for name, part in df.groupby("condition", sort=False):
        rows = (df["condition"] == name).to_numpy()
        plain = part[PRED].to_numpy()
        oracle = plain - part[[f"shift_{d}" for d in DIMENSIONS]].to_numpy().mean(axis=0)
        results[name] = {"segments": len(part), "phone_warned": float((part["check"] == "phone").mean()),
                         "room_warned": float((part["check"] == "room").mean()),
                         "as_scored": summary(part, plain, clean, wp_sd),
                         "phone_offset": summary(part, plain - offsets["phone"][rows], clean, wp_sd),
                         "phone_and_room_offsets": summary(part, plain - offsets["phone_room"][rows], clean, wp_sd),
                         "oracle_offset": summary(part, oracle, clean, wp_sd)}
    lines = [f"Run `{args.run}`, {len(clean)} held-out segments (bench/robustness.py's ratings); shift in "
             f"within-passage label SDs ({wp_sd:.4f}). Phone offset: the mean shift of the recordings the phone "
             "check warned about in the other folds, taken off the recordings it warns about in this fold; phone "
             "and room: the room check's the same way for the recordings the phone check let pass. Oracle: each "
             "condition's own mean shift taken off (test ratings; a bound).", "",
             "| condition | warned: phone / room | R²: as scored / phone offset / phone and room / oracle "
             "| within-passage R² | shift |", "|---|---|---|---|---|"]
    kinds = ("as_scored", "phone_offset", "phone_and_room_offsets", "oracle_offset")
    for name, r in results.items():
        cells = [" / ".join(f"{r[k][m]:.3f}" if m != "shift" else f"{r[k][m]:.2f}" for k in kinds)
                 for m in ("r2", "within_passage_r2", "shift")]
        lines.append(f"| {name} | {100 * r['phone_warned']:.0f} / {100 * r['room_warned']:.0f} % | "
                     + " | ".join(cells) + " |")
    write_table(args.out, "condition_offset", lines, {"run": str(args.run), "within_passage_label_sd": wp_sd,
                                                      "conditions": results})


if __name__ == "__main__":
    main()
