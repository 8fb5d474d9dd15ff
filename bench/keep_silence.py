"""How much silence to keep at a recording's ends (pianokit.audio.KEEP_START_S / KEEP_END_S): the
training renders' own silence, held-out accuracy, and how far padding with silence moves the ratings.

For each setting START,END (seconds kept before the first sounding frame and after the last):
- the share of training renders (each folder of --renders) whose rated span the setting shortens;
- held-out accuracy of --run's fold models (each on its own held-out passages, leak-free): the rows
  whose span changes are rated through the scorer under the setting, every other row keeps the
  run's own held-out prediction (the same under every setting); R² and within-passage R², mean
  over the 19 dimensions of the mean over folds;
- mean |rating shift| of the shipped model when the bundled example and COUNT MuseScore renders are
  padded with silence or room noise (bench/silence_ends.py's recordings, paddings and unit), against
  the unpadded recording under the same setting.

Usage: python bench/keep_silence.py [--settings 3.5,4.5 1.0,0.5] [--run runs/kernel_blend/hybrid]
                                    [--renders DIR ...] [--count 12] [--out bench/results/keep_silence]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402
from robustness import evaluated_rows, fold_models  # noqa: E402
from silence_ends import label_wp_sd, padding_shifts, picked_recordings  # noqa: E402

from pianokit import audio  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import aggregate, evaluate, headline  # noqa: E402


@contextlib.contextmanager
def keeping(setting: tuple[float, float]):
    """pianokit.audio keeps ``setting`` (start, end) seconds of silence inside the block."""
    saved = audio.KEEP_START_S, audio.KEEP_END_S
    audio.KEEP_START_S, audio.KEEP_END_S = setting
    try:
        yield
    finally:
        audio.KEEP_START_S, audio.KEEP_END_S = saved


def span(y: np.ndarray, sr: int, setting: tuple[float, float]) -> tuple[int, int]:
    with keeping(setting):
        kept, first = audio.trim_ends(y, sr)
    return first, first + len(kept)


def main() -> None:
    import soundfile as sf

    from pianokit.scorer import DEFAULT_MODEL, Scorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=["3.5,4.5", "1.0,0.5"])
    parser.add_argument("--run", type=Path, default=Path("runs/kernel_blend/hybrid"))
    parser.add_argument("--renders", type=Path, nargs="+",
                        default=[Path("data/percepiano_musescore/audio"), Path("data/percepiano_musescore_aug0/audio")])
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = [tuple(float(v) for v in s.split(",")) for s in args.settings]
    start = time.perf_counter()
    payload = {"settings": args.settings}

    shortened = {}
    for folder in args.renders:
        cut = []
        for f in sorted(folder.glob("*")):
            y, sr = sf.read(f, dtype="float32")
            cut.append([span(y, sr, s) != (0, len(y)) for s in settings])
        shortened[str(folder)] = np.mean(cut, axis=0).tolist()
    payload["shortened"] = shortened
    print("spans measured", f"{time.perf_counter() - start:.0f} s", flush=True)

    table, _ = evaluated_rows(args.run)
    models = fold_models(args.run)
    predictions = pd.concat([pd.read_csv(args.run / f"fold{k}" / "predictions.csv") for k in models])
    predictions = predictions.set_index("segment_id").loc[table["segment_id"]]
    pred_cols = [f"pred_{d}" for d in DIMENSIONS]
    changed = {}
    for row in table.itertuples():
        y, sr = sf.read(row.audio, dtype="float32")
        spans = {span(y, sr, s) for s in settings}
        if len(spans) > 1:
            changed[row.segment_id] = row
    scorers = {k: Scorer(path, "cpu") for k, path in models.items()}
    accuracy = {}
    for setting, name in zip(settings, args.settings):
        pred = predictions[pred_cols].copy()
        with keeping(setting):
            for segment_id, row in changed.items():
                rating = scorers[int(row.fold_passage)].score_file(row.audio).ratings
                pred.loc[segment_id] = [rating[d] for d in DIMENSIONS]
        folds = table["fold_passage"].to_numpy()
        evals = [evaluate(table[list(DIMENSIONS)].to_numpy()[folds == k], pred.to_numpy()[folds == k], DIMENSIONS,
                          table["passage"].to_numpy()[folds == k]) for k in models]
        scores = headline(aggregate(evals, DIMENSIONS))
        accuracy[name] = {"r2": scores["r2"], "wp_r2": scores["within_passage_r2"]}
        print(name, accuracy[name], f"{time.perf_counter() - start:.0f} s", flush=True)
    payload["accuracy"] = {"run": str(args.run), "rows": len(table), "changed_rows": len(changed), **accuracy}

    scorer = Scorer(DEFAULT_MODEL, "cpu")
    recordings = [audio.load_audio(f, scorer.config.sample_rate)
                  for f in picked_recordings(args.renders[0], args.count, args.seed)]
    shifts = {}
    for setting, name in zip(settings, args.settings):
        with keeping(setting):
            moved = padding_shifts(scorer, recordings, args.seed, label_wp_sd())
        shifts[name] = {pad: float(np.mean(v["trimmed"])) for pad, v in moved.items()}
    payload["padding_shifts"] = shifts

    lines = [f"`python bench/keep_silence.py {' '.join(sys.argv[1:])}`; a setting START,END keeps at most START s "
             "of silence before the first sounding frame (within 50 dB of the loudest) and END s after the last.", "",
             "| | " + " | ".join(args.settings) + " |", "|---|" + "---|" * len(settings)]
    lines += [f"| training renders shortened: {folder} | " + " | ".join(f"{100 * v:.1f} %" for v in shares) + " |"
              for folder, shares in shortened.items()]
    lines += [f"| held-out R² ({args.run}, {len(table)} rows, {len(changed)} change) | "
              + " | ".join(f"{accuracy[n]['r2']:.4f}" for n in args.settings) + " |",
              "| held-out within-passage R² | " + " | ".join(f"{accuracy[n]['wp_r2']:.4f}" for n in args.settings) + " |"]
    for pad in shifts[args.settings[0]]:
        lines.append(f"| shipped model, padded with {pad}: shift (wp SD) | "
                     + " | ".join(f"{shifts[n][pad]:.3f}" for n in args.settings) + " |")
    lines += ["", f"wall {time.perf_counter() - start:.0f} s"]
    write_table(args.out, "keep_silence", lines, payload)


if __name__ == "__main__":
    main()
