"""A stereo recording made with two spaced microphones, as many home and concert recordings are: does
the loader's plain average of the channels (pianokit.audio.downmix) colour the sound, through the
comb filter of the delay between the microphones, more than moving one microphone does?

Each recording (MuseScore renders of PercePiano, the shipped model's training piano, so shifts only)
is played from one point in a simulated 8 x 6 x 3 m room (pyroomacoustics, RT60 0.6 s) and picked up
by two microphones 2 m away and SPACING apart. Rated (shipped model): microphone 1 alone, microphone
2 alone, the stereo file through the real loader (the average), and the average after the second
channel is shifted onto the first by the delay GCC-PHAT finds (within 10 ms), the alignment a loader
could add. Also a pure delay without a room (the second channel a copy of the first, DELAY later)
against the one-channel original. Shifts: mean |rating change| in within-passage label SDs (bench/robustness.py's).

Usage: python bench/stereo_pair.py [--recordings 8] [--spacings 0.3 1.0] [--delays-ms 0.5 1.5 3 6]
                                   [--out bench/results/stereo_pair]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from result_files import write_table  # noqa: E402
from silence_ends import label_wp_sd  # noqa: E402


def pair_responses(spacing: float, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Impulse responses from one source to two microphones ``spacing`` m apart, 2 m away."""
    import pyroomacoustics as pra

    pra.random.seed(int(rng.integers(2**31)))
    dims = np.array([8.0, 6.0, 3.0])
    absorption, _ = pra.inverse_sabine(0.6, dims)
    room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(absorption), max_order=3, ray_tracing=True,
                       air_absorption=True)
    room.set_ray_tracing(receiver_radius=0.5, n_rays=4000, energy_thres=1e-5)
    source = np.array([2.5, 3.0 + rng.uniform(-0.5, 0.5), 1.0])
    room.add_source(source)
    centre = source + [2.0, rng.uniform(-0.5, 0.5), 0.4]
    room.add_microphone_array(np.stack([centre - [0, spacing / 2, 0], centre + [0, spacing / 2, 0]], axis=1))
    room.compute_rir()
    n = max(len(room.rir[0][0]), len(room.rir[1][0]))
    return tuple(np.pad(room.rir[m][0], (0, n - len(room.rir[m][0]))) for m in (0, 1))


def gcc_phat_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """The lag (samples) by which ``b`` must move to line up with ``a``."""
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    cross = np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n))
    cc = np.fft.irfft(cross / (np.abs(cross) + 1e-12), n)
    return int(np.argmax(np.concatenate([cc[-max_lag:], cc[: max_lag + 1]]))) - max_lag


def main() -> None:
    from scipy.signal import fftconvolve

    from pianokit.scorer import DEFAULT_MODEL, Scorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=Path("data/percepiano_musescore/audio"))
    parser.add_argument("--recordings", type=int, default=8)
    parser.add_argument("--spacings", type=float, nargs="+", default=[0.3, 1.0])
    parser.add_argument("--delays-ms", type=float, nargs="+", default=[0.5, 1.5, 3.0, 6.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    scorer = Scorer(DEFAULT_MODEL, "cpu")
    sr, wp_sd = scorer.config.sample_rate, label_wp_sd()
    files = sorted(args.audio.glob("*.wav"))
    files = [files[i] for i in np.random.default_rng(args.seed).choice(len(files), args.recordings, replace=False)]
    rng, start = np.random.default_rng(args.seed), time.perf_counter()

    def ratings(y: np.ndarray) -> np.ndarray:
        return np.array(list(scorer.score_audio(y.astype(np.float32)).ratings.values()))

    def shift(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean() / wp_sd)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            y, rate = sf.read(path, dtype="float64")
            assert rate == sr, f"{path}: rendered at {rate} Hz, the model reads {sr} Hz"
            original = ratings(y)
            for delay in args.delays_ms:
                d = int(round(delay / 1000 * sr))
                late = np.concatenate([np.zeros(d), y[:-d]])
                rows.append({"recording": path.stem, "condition": f"pure delay {delay:g} ms",
                             "average vs one channel": shift(ratings((y + late) / 2), original)})
            for spacing in args.spacings:
                h1, h2 = pair_responses(spacing, sr, rng)
                one, two = fftconvolve(y, h1)[: len(y)], fftconvolve(y, h2)[: len(y)]
                stereo = Path(tmp) / "pair.wav"
                sf.write(stereo, np.stack([one, two], axis=1) / (2 * np.abs([one, two]).max()), sr, subtype="FLOAT")
                lag = gcc_phat_lag(one, two, int(0.01 * sr))
                r1, r2 = ratings(one), ratings(two)
                average = np.array(list(scorer.score_file(stereo).ratings.values()))
                aligned = ratings((one + np.roll(two, lag)) / 2)
                rows.append({"recording": path.stem, "condition": f"pair {spacing:g} m apart", "lag": lag,
                             "microphone 2 vs 1": shift(r2, r1), "average vs microphone 1": shift(average, r1),
                             "aligned average vs microphone 1": shift(aligned, r1),
                             "average vs mean of the two": shift(average, (r1 + r2) / 2),
                             "aligned average vs mean of the two": shift(aligned, (r1 + r2) / 2)})
            print(path.stem, f"{time.perf_counter() - start:.0f} s", flush=True)
    columns = ["microphone 2 vs 1", "average vs microphone 1", "aligned average vs microphone 1",
               "average vs mean of the two", "aligned average vs mean of the two"]
    lines = [f"Mean |rating shift| in within-passage label SDs ({wp_sd:.3f}), shipped model, {len(files)} MuseScore "
             f"renders (seed {args.seed}); `python bench/stereo_pair.py {' '.join(sys.argv[1:])}`.", "",
             "| two spaced microphones in a room | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    summary = {}
    for condition in dict.fromkeys(r["condition"] for r in rows):
        picked = [r for r in rows if r["condition"] == condition]
        summary[condition] = {c: float(np.mean([r[c] for r in picked])) for c in picked[0] if c not in ("recording", "condition", "lag")}
        if condition.startswith("pair"):
            lines.append(f"| {condition} | " + " | ".join(f"{summary[condition][c]:.3f}" for c in columns) + " |")
    lines += ["", "| no room: second channel a delayed copy | average vs one channel |", "|---|---|"]
    lines += [f"| {c} | {v['average vs one channel']:.3f} |" for c, v in summary.items() if c.startswith("pure")]
    lines += ["", f"wall {time.perf_counter() - start:.0f} s"]
    write_table(args.out, "stereo_pair", lines, {"summary": summary, "rows": rows})


if __name__ == "__main__":
    main()
