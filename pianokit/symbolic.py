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
from pianokit.performance import note_features

SYMBOLIC_VERSION = 1


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


def features(path: str | os.PathLike) -> np.ndarray:
    """The FEATURES vector of one performance MIDI file."""
    frame, controls = read_notes(path)
    values = note_features({k: frame[k].to_numpy() for k in ("onset", "offset", "pitch", "velocity")}, controls)
    vector = np.array([values[name] for name in FEATURES], dtype=np.float64)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)


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
