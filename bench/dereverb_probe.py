"""Would dereverberating every recording (WPE) before feature extraction make ratings steady in rooms?
A probe with ridge, before any model is trained that way.

Usage:
  pip install nara_wpe   # MIT; not a pianokit dependency
  python bench/dereverb_probe.py --store STORE [--taps 10] [--out bench/results/dereverb_probe]

The segments and rooms are drawn as bench/nuisance_projection.py draws them (same seed: its first
two conditions are the rooms). Each clean render and its two rooms (RT60 0.8 and 2 s) go through
single-channel WPE (nara_wpe: 1024-point STFT, hop 256, --taps, delay 3, 3 iterations) and then
the store's feature extraction. Ridge, trained per passage fold on the store's clean and augmented
rows (no WPE), rates each. Reported per room: within-passage R² and the mean |rating shift| in
within-passage label SDs, without WPE (room against clean) and with it (WPE(room) against
WPE(clean)), and the shift WPE itself causes on a clean render. A model trained on WPE audio could
do better than this ridge trained without it; a shift that WPE does not cut here suggests the rooms'
effect on the features is not one WPE removes. The in-house baselines on these folds are in
bench/nuisance_projection.py's table.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from nuisance_projection import (CONDITIONS, SR, ProbeData, condition_audio, in_workers, probe_parser,  # noqa: E402
                                 ridge_each)
from result_files import write_table  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import aggregate, evaluate  # noqa: E402

ROOMS = tuple(c for c in CONDITIONS if c.startswith("reverb_"))


def dereverberate(y: np.ndarray, taps: int) -> np.ndarray:
    from nara_wpe.utils import istft, stft
    from nara_wpe.wpe import wpe

    spec = stft(y[None], size=1024, shift=256)
    out = wpe(spec.transpose(2, 0, 1), taps=taps, delay=3, iterations=3).transpose(1, 2, 0)
    return istft(out, size=1024, shift=256)[0][: len(y)].astype(np.float32)


def probe_features(job: tuple[str, dict, int]) -> np.ndarray:
    """Features of WPE(clean), WPE(room) for each room, then each room without WPE (the rooms drawn
    as bench/nuisance_projection.py draws them)."""
    from pianokit.audio import load_audio
    from pianokit.contract import FeatureConfig
    from pianokit.features import extract

    path, config, seed = job
    taps = config["wpe_taps"]
    config = FeatureConfig.from_dict({k: v for k, v in config.items() if k != "wpe_taps"})
    y = load_audio(path, SR)
    rng = np.random.default_rng(seed)
    rooms = [np.clip(condition_audio(y, name, rng), -1, 1).astype(np.float32) for name in ROOMS]
    return np.stack([extract(dereverberate(a, taps), config)[0] for a in (y, *rooms)]
                    + [extract(a, config)[0] for a in rooms])


def main() -> None:
    parser = probe_parser(__doc__)
    parser.add_argument("--taps", type=int, default=10)
    args = parser.parse_args()
    start = time.perf_counter()
    d = ProbeData.load(args.store, args.groups_per_fold, args.seed)
    x, y, groups, passages, eval_rows, folds, sampled, wp_sd = (d.x, d.y, d.groups, d.passages, d.eval_rows,
                                                                 d.folds, d.sampled, d.wp_sd)
    wpe = in_workers(probe_features, {**d.config, "wpe_taps": args.taps}, d.sampled_audio(), d.seeds(), args.jobs)
    derev = {int(r): wpe[i] for i, r in enumerate(sampled)}
    evals: dict[str, list] = {}
    shifts: dict[str, list] = {}
    for fold in folds:
        train = np.flatnonzero(~np.isin(groups, list(set(groups[eval_rows[fold.test]]))))
        rows = np.array([r for r in fold.test if r in derev])
        truth, where = y[eval_rows[rows]], passages[eval_rows[rows]]
        probes = np.stack([derev[int(r)] for r in rows], axis=1)  # (WPE clean, WPE rooms, rooms) x rows x features
        clean, *probed = ridge_each(x[train], y[train], groups[train], x[eval_rows[rows]], *probes)
        clean_wpe = probed[0]
        rated = {"clean": clean, "WPE(clean)": clean_wpe}
        shifts.setdefault("WPE(clean) vs clean", []).append(np.abs(clean_wpe - clean).mean() / wp_sd)
        for j, room in enumerate(ROOMS):
            moved, moved_wpe = probed[1 + len(ROOMS) + j], probed[1 + j]
            rated[room], rated[f"WPE({room})"] = moved, moved_wpe
            shifts.setdefault(f"{room} vs clean", []).append(np.abs(moved - clean).mean() / wp_sd)
            shifts.setdefault(f"WPE({room}) vs WPE(clean)", []).append(np.abs(moved_wpe - clean_wpe).mean() / wp_sd)
        for name, pred in rated.items():
            evals.setdefault(name, []).append(evaluate(truth, pred, DIMENSIONS, where))
    scores = {name: aggregate(e, DIMENSIONS)["within_passage"]["mean"]["r2"] for name, e in evals.items()}
    shift = {name: float(np.mean(s)) for name, s in shifts.items()}
    lines = [f"Ridge trained on `{args.store}` (no WPE), {len(sampled)} clean renders in {args.groups_per_fold} "
             f"whole test passage groups per fold and their rooms (drawn as in bench/nuisance_projection.py); WPE "
             f"with {args.taps} taps. Shift in within-passage label SDs ({wp_sd:.3f}).", "",
             "| input | within-passage R² |", "|---|---|"]
    lines += [f"| {name} | {r2:.3f} |" for name, r2 in scores.items()]
    lines += ["", "| rating shift | mean shift |", "|---|---|"]
    lines += [f"| {name} | {s:.2f} |" for name, s in shift.items()]
    wall = time.perf_counter() - start
    lines += ["", f"Wall time {wall:.0f} s."]
    write_table(args.out, "dereverb_probe", lines, {"store": str(args.store), "sampled": len(sampled),
                                                    "taps": args.taps, "wp_label_sd": wp_sd,
                                                    "within_passage_r2": scores, "shift": shift,
                                                    "wall_s": round(wall, 1)})


if __name__ == "__main__":
    main()
