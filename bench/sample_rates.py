"""Recordings made at 44.1 or 48 kHz, as real ones are, against the 22.05 kHz renders the model was
trained on: the same MIDI rendered natively at each rate with the training piano (MuseScore General
Lite), scored by each fold's model on its held-out passages (leak-free), through the real loader
(which resamples to 22.05 kHz). Per rate: mean R² and within-passage R² over the 19 dimensions, and
the mean |rating shift| from the 22.05 kHz render in units of the within-passage label SD.

Usage: python bench/sample_rates.py [--run runs/hybrid_lite0_multi_piano_ens5] [--segments-per-fold 15]
                                    [--rates 44100 48000] [--out bench/results/sample_rates]
The fold models and the passage-group draw are those of bench/robustness.py (same --seed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from result_files import prefix, write_json  # noqa: E402
from robustness import draw_groups, evaluated_rows, fold_models  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import evaluate  # noqa: E402


def main() -> None:
    from pianokit.render import find_soundfont, render_midi
    from pianokit.scorer import Scorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/hybrid_lite0_multi_piano_ens5"))
    parser.add_argument("--segments-per-fold", type=int, default=15)
    parser.add_argument("--rates", type=int, nargs="+", default=[44100, 48000])
    parser.add_argument("--soundfont", default="/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = prefix(args.out, "sample_rates")
    table, wp_sd = evaluated_rows(args.run)
    font = find_soundfont(args.soundfont)
    rows, start = [], time.perf_counter()
    for k, model in fold_models(args.run).items():
        scorer = Scorer(model, "cpu")
        in_fold = table[table["fold_passage"] == k]
        for _, seg in in_fold[in_fold["passage_group"].isin(draw_groups(in_fold, args, k))].iterrows():
            files = {"22050 (training)": Path(seg["audio"])}
            with tempfile.TemporaryDirectory() as tmp:
                for rate in args.rates:
                    mono = render_midi(seg["midi"], Path(tmp) / f"{rate}.wav", font, sample_rate=rate)
                    y, _ = sf.read(mono, dtype="float32")
                    files[str(rate)] = Path(tmp) / f"{rate}_stereo.wav"
                    sf.write(files[str(rate)], np.stack([y, 0.9 * y], axis=1), rate, subtype="PCM_16")
                for name, path in files.items():
                    rating = scorer.score_file(path)
                    rows.append({"segment_id": seg["segment_id"], "passage": seg["passage"], "rate": name,
                                 **{f"pred_{d}": v for d, v in rating.ratings.items()},
                                 **{f"true_{d}": seg[d] for d in DIMENSIONS}})
        print(f"fold {k} done, {time.perf_counter() - start:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    pred, true = [f"pred_{d}" for d in DIMENSIONS], [f"true_{d}" for d in DIMENSIONS]
    base = df[df["rate"] == "22050 (training)"].set_index("segment_id")
    results = {}
    for name, part in df.groupby("rate", sort=False):
        part = part.set_index("segment_id").loc[base.index]
        ev = evaluate(part[true].to_numpy(), part[pred].to_numpy(), DIMENSIONS, part["passage"])
        results[name] = {"segments": len(part), "r2": ev["mean"]["r2"],
                         "within_passage_r2": ev.get("within_passage", {}).get("mean", {}).get("r2"),
                         "mean_abs_shift_in_wp_sd": float(np.abs(part[pred].to_numpy()
                                                                 - base[pred].to_numpy()).mean() / wp_sd)}
    lines = ["| recording rate | segments | R² | within-passage R² | mean shift (wp SD) |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {r['segments']} | {r['r2']:.3f} | {r['within_passage_r2']:.3f} | "
              f"{r['mean_abs_shift_in_wp_sd']:.3f} |" for n, r in results.items()]
    table_md = "\n".join(lines)
    print(table_md)
    write_json(out.with_suffix(".json"), "sample_rates.py", {"run": str(args.run), "wp_label_sd": wp_sd,
                                                             "wall_s": round(time.perf_counter() - start, 1),
                                                             "results": results})
    out.with_suffix(".md").write_text(table_md + "\n")


if __name__ == "__main__":
    main()
