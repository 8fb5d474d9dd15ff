"""Whether cutting room tone at a recording's ends (pianokit.audio, TONE_*) ever cuts music.

Usage:
  python bench/room_tone.py [--renders data/percepiano_musescore/audio] [--pad 8] [--limit N]
                            [--augmented DIR ...] [--out bench/results/room_tone]

Every clean render is trimmed as `pianokit score` trims it (pianokit.audio.trim_ends), then again
with room tone (white, pink or room-like noise SNR dB under the render's mean power) under the music
and PAD s of it before and after. Reported per condition: the share of recordings whose tone was cut,
how much later the kept audio starts / earlier it ends than the clean render's (s), and, over the
whole frames that the rule cuts from the music (the kept span without the rule, less the one with
it, within the render), the loudest frame of the clean music above TONE_BANDS_HZ[0] in dB over the
tone there: only music hidden in the tone may be cut. Also: clean renders whose kept span the rule
changes (it should leave them). --augmented: how many training recordings made under random
conditions (`pianokit dataset augment`, noise 15-40 dB under the music) the rule shortens, and by
how much at each end: their features change when a store is extracted again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402

from pianokit import audio, conditions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = [(colour, snr) for colour in conditions.NOISE_COLOURS for snr in (40, 30)]


def high_levels(y: np.ndarray, sr: int, frame: int) -> np.ndarray:
    """dB levels of ``frame``-sample frames of ``y`` above TONE_BANDS_HZ[0]."""
    high, _ = audio.highpassed(y[:, None].astype(np.float64), audio.tone_filters(sr)[0])
    return 20 * np.log10(np.maximum(audio._frame_rms(high[:, 0], frame), 1e-10))


def cut_music_db(clean_db: np.ndarray, tone_db: float, frame: int, start: int, stop: int) -> float:
    """The loudest whole clean frame within samples [start, stop) over the tone's level (dB); -inf
    where no whole frame lies there."""
    part = clean_db[-(-max(start, 0) // frame): max(stop, 0) // frame]
    return float(part.max() - tone_db) if part.size else -np.inf


def without_tone_rule(y: np.ndarray, sr: int) -> tuple[int, int]:
    """trim_ends' [start, stop) of ``y`` with the room-tone rule switched off."""
    saved, audio.TONE_BELOW_DB = audio.TONE_BELOW_DB, np.inf
    try:
        kept, first = audio.trim_ends(y, sr)
    finally:
        audio.TONE_BELOW_DB = saved
    return first, first + len(kept)


def check(y: np.ndarray, sr: int, pad_s: float, seed: int) -> dict:
    frame = int(round(audio.END_FRAME_S * sr))
    old = without_tone_rule(y, sr)
    kept, first = audio.trim_ends(y, sr)
    clean = (first, first + len(kept))
    clean_db = high_levels(y, sr, frame)
    out = {"clean_changed": clean != old}
    pad = int(pad_s * sr)
    for k, (colour, snr) in enumerate(CONDITIONS):
        tone = conditions.noise(len(y) + 2 * pad, sr, colour, np.random.default_rng([seed, k]))
        tone *= np.sqrt(np.mean(y ** 2) / np.mean(tone ** 2)) / 10 ** (snr / 20)
        noisy = tone.astype(np.float32)
        noisy[pad:pad + len(y)] += y
        kept, first = audio.trim_ends(noisy, sr)
        start, stop = first - pad, first + len(kept) - pad
        before, after = (v - pad for v in without_tone_rule(noisy, sr))
        tone_db = float(np.median(high_levels(tone.astype(np.float32), sr, frame)))
        late, early = (start - clean[0]) / sr, (clean[1] - stop) / sr
        cut = max(cut_music_db(clean_db, tone_db, frame, before, start),
                  cut_music_db(clean_db, tone_db, frame, stop, min(after, len(y))))
        out[f"{colour} {snr} dB"] = {"tone_cut": start > -pad + 1 or stop < len(y) + pad - 1,
                                     "late_s": late, "early_s": early, "cut_music_db": cut}
    return out


def augmented_cuts(folder: Path, limit: int | None) -> dict:
    """How the rule shortens the recordings in ``folder``: seconds cut at the start and at the end."""
    cuts = []
    for path in tqdm(sorted(folder.glob("*.flac"))[:limit], desc=folder.parent.name):
        y, sr = sf.read(path, dtype="float32")
        y = y - y.mean()
        kept, first = audio.trim_ends(y, sr)
        before, after = without_tone_rule(y, sr)
        cuts.append(((first - before) / sr, (after - first - len(kept)) / sr))
    cut = np.array(cuts)
    changed = cut.sum(axis=1) > 0
    return {"recordings": len(cut), "shortened": int(changed.sum()),
            "start_cut_s_mean": float(cut[changed, 0].mean()) if changed.any() else 0.0,
            "start_cut_s_max": float(cut[:, 0].max()),
            "end_cut_s_mean": float(cut[changed, 1].mean()) if changed.any() else 0.0,
            "end_cut_s_max": float(cut[:, 1].max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=Path, default=ROOT / "data" / "percepiano_musescore" / "audio")
    parser.add_argument("--pad", type=float, default=8.0, help="seconds of room tone before and after the music")
    parser.add_argument("--limit", type=int, default=None, help="only the first N renders (a quick look)")
    parser.add_argument("--augmented", type=Path, nargs="*", default=[],
                        help="folders of augmented training recordings (FLAC) to count the rule's cuts in")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    paths = sorted(args.renders.glob("*.wav"))[: args.limit]
    rows = {}
    for path in tqdm(paths, desc="room tone"):
        y, sr = sf.read(path, dtype="float32")
        rows[path.stem] = check(y - y.mean(), sr, args.pad, args.seed)
    changed = sum(r["clean_changed"] for r in rows.values())
    lines = [f"Room tone at the ends of {len(rows)} clean renders ({args.renders.name}), {args.pad:g} s before "
             f"and after the music and under it; the kept span against the clean render's.", "",
             f"Clean renders whose kept span the room-tone rule changes: {changed}.", "",
             "| room tone | tone cut | starts later: median / max s | ends earlier: median / max s "
             "| cut music over the tone: max dB | recordings with music > 6 dB over the tone cut |",
             "|---|---|---|---|---|---|"]
    summary = {}
    for colour, snr in CONDITIONS:
        name = f"{colour} {snr} dB"
        got = [r[name] for r in rows.values()]
        late, early = np.array([g["late_s"] for g in got]), np.array([g["early_s"] for g in got])
        cut = np.array([g["cut_music_db"] for g in got])
        worst = max(rows, key=lambda stem: rows[stem][name]["cut_music_db"])
        summary[name] = {"tone_cut_share": float(np.mean([g["tone_cut"] for g in got])),
                         "late_s_median": float(np.median(late)), "late_s_max": float(late.max()),
                         "early_s_median": float(np.median(early)), "early_s_max": float(early.max()),
                         "cut_music_db_max": float(cut.max()), "worst": worst,
                         "music_over_6db_cut": int(np.sum(cut > 6))}
        s = summary[name]
        lines.append(f"| {colour}, {snr} dB under the music | {s['tone_cut_share']:.1%} | {s['late_s_median']:.2f} / "
                     f"{s['late_s_max']:.2f} | {s['early_s_median']:.2f} / {s['early_s_max']:.2f} | "
                     f"{s['cut_music_db_max']:.1f} ({worst}) | {s['music_over_6db_cut']} |")
    augmented = {str(folder): augmented_cuts(folder, args.limit) for folder in args.augmented}
    if augmented:
        lines += ["", "Augmented training recordings the rule shortens (cut where it finds room tone, against the "
                  "same recording read without the rule):", "",
                  "| folder | shortened | cut at the start: mean / max s | cut at the end: mean / max s |",
                  "|---|---|---|---|"]
        lines += [f"| {folder} | {a['shortened']} of {a['recordings']} | {a['start_cut_s_mean']:.2f} / "
                  f"{a['start_cut_s_max']:.2f} | {a['end_cut_s_mean']:.2f} / {a['end_cut_s_max']:.2f} |"
                  for folder, a in augmented.items()]
    wall = time.perf_counter() - started
    lines += ["", f"wall {wall:.0f} s"]
    write_table(args.out, "room_tone", lines, {"renders": str(args.renders), "pad_s": args.pad,
                                               "clean_changed": changed, "conditions": summary,
                                               "augmented": augmented, "wall_s": wall})


if __name__ == "__main__":
    main()
