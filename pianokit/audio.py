"""Load a recording as mono float32 at a target rate, rejecting input that cannot be rated."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from pianokit.errors import InputError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
MIN_RATE = 8000
MAX_RATE = 96000
SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter throughout is treated as silence


def find_audio(folder: Path) -> list[Path]:
    """Audio files (by suffix) anywhere under ``folder``, sorted; InputError when there are none."""
    found = sorted(f for f in folder.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
    if not found:
        raise InputError(f"{folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
    return found


def load_audio(path: str | os.PathLike, sample_rate: int, min_duration: float = 1.0) -> np.ndarray:
    """Read any file soundfile understands, downmix to mono and resample to ``sample_rate`` with soxr.

    Raises InputError (one line naming the file) for a missing, unreadable, corrupt, empty,
    too-short or all-silent file, or a rate outside 8-96 kHz.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an audio file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        detail = str(exc).splitlines()[-1] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable audio file ({detail})") from None
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"{path}: sample rate {rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if data.shape[0] == 0:
        raise InputError(f"{path}: contains no audio samples")
    duration = data.shape[0] / rate
    if duration < min_duration:
        raise InputError(f"{path}: {duration:.2f} s is shorter than the {min_duration:g} s minimum")
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise InputError(f"{path}: audio contains NaN or infinite samples")
    if float(np.max(np.abs(mono))) < SILENCE_PEAK:
        raise InputError(f"{path}: audio is silent (peak below -80 dBFS)")
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)
