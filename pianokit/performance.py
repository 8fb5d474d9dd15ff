"""Note events -> performance features (timing, tempo, velocity, articulation, pedal), numpy only.

Shared by the symbolic reference (notes read from MIDI, pianokit.symbolic) and the transcription
front-end (notes found in audio, pianokit.transcribe), which the pandas- and TensorFlow-free scorer
runs.
"""

from __future__ import annotations

import numpy as np

CHORD_SECONDS = 0.035
SUSTAIN, SOFT = 64, 67


def _group(reduce: np.ufunc, values: np.ndarray, group: np.ndarray, n: int, initial: float) -> np.ndarray:
    """Per-group np.minimum / np.maximum of ``values`` by integer ``group`` ids 0..n-1."""
    out = np.full(n, initial)
    reduce.at(out, group, values)
    return out


def _time_fraction(curve: list[tuple[float, int]], end: float, threshold: int = 64) -> tuple[float, float, float]:
    """(fraction of [0, end] with value >= threshold, time-weighted mean value / 127, mean press length)."""
    if not curve or end <= 0:
        return 0.0, 0.0, 0.0
    times = np.array([t for t, _ in curve] + [end])
    values = np.array([v for _, v in curve])
    spans = np.clip(np.diff(times), 0, None)
    down = values >= threshold
    presses = np.diff(np.concatenate([[0], down.astype(int)])) == 1
    press_count = max(int(presses.sum()), 1)
    return float(spans[down].sum() / end), float((spans * values).sum() / (127 * end)), float(spans[down].sum() / press_count)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0]) if len(x) > 2 and np.ptp(x) > 0 else 0.0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 0 and b.std() > 0 else 0.0


def note_features(notes: dict[str, np.ndarray], controls: dict[int, list[tuple[float, int]]]) -> dict[str, float]:
    """Features of a note list (arrays onset, offset, pitch, velocity; seconds; sorted by onset, then
    pitch) and controller curves {cc: [(time, value)]}."""
    onset, offset = np.asarray(notes["onset"], float), np.asarray(notes["offset"], float)
    pitch, velocity = np.asarray(notes["pitch"], float), np.asarray(notes["velocity"], float)
    start, end = onset.min(), max(offset.max(), onset.max() + 1e-3)
    length = end - start
    dur = np.clip(offset - onset, 1e-3, None)

    chord_id = np.concatenate([[0], np.cumsum(np.diff(onset) > CHORD_SECONDS)])
    n_chords = int(chord_id.max()) + 1
    chord_onset = _group(np.minimum, onset, chord_id, n_chords, np.inf)
    spread = _group(np.maximum, onset, chord_id, n_chords, -np.inf) - chord_onset
    ioi = np.diff(chord_onset) if len(chord_onset) > 1 else np.array([length])
    ratios = np.log2(ioi[1:] / ioi[:-1]) if len(ioi) > 1 else np.zeros(1)
    top = _group(np.maximum, pitch, chord_id, n_chords, -np.inf)[chord_id] == pitch
    counts = np.bincount(chord_id, minlength=n_chords)
    chord_vel_mean = np.bincount(chord_id, velocity, n_chords) / counts
    squares = np.bincount(chord_id, (velocity - chord_vel_mean[chord_id]) ** 2, n_chords)
    chord_vel_std = np.where(counts > 1, np.sqrt(squares / np.maximum(counts - 1, 1)), 0.0)  # sample std; 0 alone

    next_onset = np.interp(chord_id + 1, np.arange(len(chord_onset) + 1),
                           np.concatenate([chord_onset, [end]]))
    gap = np.clip(next_onset - onset, 1e-3, None)
    followed = chord_id < chord_id.max()  # the last chord has no next onset to measure against
    if not followed.any():
        followed = np.ones_like(followed)
    articulation = (dur / gap)[followed]
    grid = np.linspace(start, end, 200)
    polyphony = ((onset[None] <= grid[:, None]) & (offset[None] > grid[:, None])).sum(axis=1)

    sustain = _time_fraction([(t - start, v) for t, v in controls.get(SUSTAIN, [])], length)
    soft = _time_fraction([(t - start, v) for t, v in controls.get(SOFT, [])], length)
    sustain_values = np.array([v for _, v in controls.get(SUSTAIN, [])])
    changes = int(np.abs(np.diff((sustain_values >= 64).astype(int))).sum()) if len(sustain_values) else 0

    values = {
        "duration_s": length, "note_count": len(onset), "note_density": len(onset) / length,
        "chord_rate": len(chord_onset) / length, "polyphony_mean": polyphony.mean(),
        "ioi_mean": ioi.mean(), "ioi_median": np.median(ioi), "ioi_std": ioi.std(),
        "ioi_cv": ioi.std() / max(ioi.mean(), 1e-6), "log_ioi_std": np.log(np.clip(ioi, 1e-3, None)).std(),
        "ioi_ratio_std": ratios.std(), "ioi_ratio_abs_mean": np.abs(ratios).mean(),
        "tempo_slope": _slope(chord_onset[1:] - start, np.log(np.clip(ioi, 1e-3, None))) if len(ioi) > 2 else 0.0,
        "onset_spread_mean": spread.mean(),
        "velocity_mean": velocity.mean(), "velocity_std": velocity.std(),
        "velocity_p10": np.percentile(velocity, 10), "velocity_p90": np.percentile(velocity, 90),
        "velocity_range": np.ptp(velocity), "velocity_slope": _slope(onset - start, velocity),
        "velocity_step_abs_mean": np.abs(np.diff(chord_vel_mean)).mean() if len(ioi) > 1 else 0.0,
        "velocity_pitch_corr": _corr(pitch, velocity),
        "velocity_top_minus_rest": velocity[top].mean() - (velocity[~top].mean() if (~top).any() else velocity[top].mean()),
        "velocity_chord_std": chord_vel_std.mean(),
        "duration_mean": dur.mean(), "duration_median": np.median(dur), "log_duration_std": np.log(dur).std(),
        "articulation_mean": np.clip(articulation, 0, 4).mean(), "articulation_std": np.clip(articulation, 0, 4).std(),
        "legato_fraction": (articulation >= 1).mean(),
        "overlap_mean": np.clip(offset - next_onset, 0, None)[followed].mean(),
        "pedal_down_fraction": sustain[0], "pedal_changes_rate": changes / length, "pedal_mean": sustain[1],
        "pedal_press_mean_s": sustain[2], "soft_pedal_fraction": soft[0],
        "pitch_mean": pitch.mean(), "pitch_std": pitch.std(), "pitch_range": np.ptp(pitch),
    }
    return {k: float(v) for k, v in values.items()}
