"""Cut a (frames, n_mels) spectrogram into fixed-length windows; shared by evaluation and the scorer."""

from __future__ import annotations

import numpy as np


def pad_to(mel: np.ndarray, frames: int, floor: float) -> np.ndarray:
    """Pad a (T, n_mels) spectrogram at the end with ``floor`` (silence) up to ``frames``."""
    if len(mel) >= frames:
        return mel
    return np.pad(mel, ((0, frames - len(mel)), (0, 0)), constant_values=floor)


def window_starts(length: int, frames: int, hop: int) -> list[int]:
    """Start frames of windows covering ``length`` frames; the last window ends at the end."""
    if length <= frames:
        return [0]
    starts = list(range(0, length - frames + 1, hop))
    if starts[-1] != length - frames:
        starts.append(length - frames)
    return starts


def windows(mel: np.ndarray, frames: int, hop: int, floor: float) -> np.ndarray:
    """(n_windows, frames, n_mels) overlapping windows of a (T, n_mels) spectrogram."""
    mel = pad_to(mel, frames, floor)
    return np.stack([mel[s : s + frames] for s in window_starts(len(mel), frames, hop)])
