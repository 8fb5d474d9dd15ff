"""Performance features read directly from MIDI: what a perfect transcription would give.

They feed the symbolic reference baseline (ridge on these features), an anchor for what audio
features could reach. Timing: onsets, inter-onset intervals (IOIs) of chord onsets, local tempo
changes. Dynamics: key velocities. Articulation: note durations and overlaps. Pedal: CC64.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pianokit.errors import InputError
from pianokit.feature_names import SYMBOLIC_FEATURES as FEATURES

SYMBOLIC_VERSION = 1
CHORD_SECONDS = 0.035
SUSTAIN, SOFT = 64, 67



def read_notes(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[int, list[tuple[float, int]]]]:
    """Notes (onset, offset, pitch, velocity in seconds) and controller curves {cc: [(time, value)]}."""
    import mido

    try:
        midi = mido.MidiFile(path)
        messages = list(midi)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise InputError(f"{path}: not a readable MIDI file ({exc})") from None
    time, sounding, notes = 0.0, {}, []
    controls: dict[int, list[tuple[float, int]]] = {}
    for msg in messages:
        time += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault((msg.channel, msg.note), []).append((time, msg.velocity))
        elif msg.type in ("note_off", "note_on"):
            started = sounding.get((msg.channel, msg.note))
            if started:
                onset, velocity = started.pop(0)
                notes.append((onset, time, msg.note, velocity))
        elif msg.type == "control_change":
            controls.setdefault(msg.control, []).append((time, msg.value))
    for (_, pitch), started in sounding.items():
        notes += [(onset, time, pitch, velocity) for onset, velocity in started]
    if not notes:
        raise InputError(f"{path}: MIDI file has no notes")
    frame = pd.DataFrame(notes, columns=["onset", "offset", "pitch", "velocity"]).sort_values(["onset", "pitch"])
    return frame.reset_index(drop=True), controls


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


def features(path: str | os.PathLike) -> np.ndarray:
    """The FEATURES vector of one performance MIDI file."""
    values = note_features(*read_notes(path))
    vector = np.array([values[name] for name in FEATURES], dtype=np.float64)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


def note_features(notes: pd.DataFrame, controls: dict[int, list[tuple[float, int]]]) -> dict[str, float]:
    """FEATURES of a note list (onset, offset, pitch, velocity; seconds) and controller curves. Used
    on MIDI notes here and on transcribed notes by pianokit.transcribe."""
    onset, offset = notes["onset"].to_numpy(), notes["offset"].to_numpy()
    pitch, velocity = notes["pitch"].to_numpy(float), notes["velocity"].to_numpy(float)
    start, end = onset.min(), max(offset.max(), onset.max() + 1e-3)
    length = end - start
    dur = np.clip(offset - onset, 1e-3, None)

    chord_id = np.concatenate([[0], np.cumsum(np.diff(onset) > CHORD_SECONDS)])
    chords = notes.assign(chord=chord_id).groupby("chord")
    chord_onset = chords["onset"].min().to_numpy()
    spread = (chords["onset"].max() - chords["onset"].min()).to_numpy()
    ioi = np.diff(chord_onset) if len(chord_onset) > 1 else np.array([length])
    ratios = np.log2(ioi[1:] / ioi[:-1]) if len(ioi) > 1 else np.zeros(1)
    top = chords["pitch"].transform("max").to_numpy() == pitch
    chord_vel_std = chords["velocity"].std().fillna(0).to_numpy()

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
        "duration_s": length, "note_count": len(notes), "note_density": len(notes) / length,
        "chord_rate": len(chord_onset) / length, "polyphony_mean": polyphony.mean(),
        "ioi_mean": ioi.mean(), "ioi_median": np.median(ioi), "ioi_std": ioi.std(),
        "ioi_cv": ioi.std() / max(ioi.mean(), 1e-6), "log_ioi_std": np.log(np.clip(ioi, 1e-3, None)).std(),
        "ioi_ratio_std": ratios.std(), "ioi_ratio_abs_mean": np.abs(ratios).mean(),
        "tempo_slope": _slope(chord_onset[1:] - start, np.log(np.clip(ioi, 1e-3, None))) if len(ioi) > 2 else 0.0,
        "onset_spread_mean": spread.mean(),
        "velocity_mean": velocity.mean(), "velocity_std": velocity.std(),
        "velocity_p10": np.percentile(velocity, 10), "velocity_p90": np.percentile(velocity, 90),
        "velocity_range": np.ptp(velocity), "velocity_slope": _slope(onset - start, velocity),
        "velocity_step_abs_mean": np.abs(np.diff(chords["velocity"].mean().to_numpy())).mean() if len(ioi) > 1 else 0.0,
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


def feature_table(paths: dict[str, str], cache: Path | None = None) -> pd.DataFrame:
    """FEATURES for {id: midi path}, one row per id that could be read (index: id).

    With ``cache`` (a CSV), rows already computed for the same path and feature version are reused
    and new ones are added atomically.
    """
    from pianokit.atomic import write_text

    cached = pd.DataFrame()
    if cache is not None and cache.is_file():
        try:
            cached = pd.read_csv(cache, dtype={"id": str}).set_index("id")
            if list(cached.columns) != ["midi", "version", *FEATURES]:
                cached = pd.DataFrame()
        except (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError, UnicodeDecodeError):
            cached = pd.DataFrame()
    rows = {}
    for item, midi in paths.items():
        if item in cached.index and cached.at[item, "midi"] == midi and cached.at[item, "version"] == SYMBOLIC_VERSION:
            rows[item] = cached.loc[item]
            continue
        try:
            rows[item] = pd.Series({"midi": midi, "version": SYMBOLIC_VERSION, **dict(zip(FEATURES, features(midi)))})
        except InputError:
            continue
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["midi", "version", *FEATURES])
    table.index.name = "id"
    if cache is not None and len(table) and not table.equals(cached.reindex(table.index)):
        write_text(cache, table.to_csv())
    return table[list(FEATURES)].astype(float)
