"""Windowed inference, one rule for training evaluation and the scorer (numpy only).

A recording is cut into the fewest equal segments of at most ``Window.segment_seconds``
(``audio.equal_segments``); each segment gets one feature vector, and its log-mel is cut into
``Window.frames``-frame windows every ``Window.hop_frames`` (the last window ends at the segment's
end; short segments are padded with silence). The model rates every window; a recording's rating
is the mean over all its windows, clipped to [0, 1]. Spectrograms are used at the precision the
feature store keeps them (float16), on both sides.
"""

from __future__ import annotations

import numpy as np

from pianokit.contract import Window
from pianokit.windows import window_starts, windows


def as_stored(mel: np.ndarray) -> np.ndarray:
    """A log-mel at the precision the feature store keeps it (float16), as float32."""
    return np.asarray(mel, dtype=np.float16).astype(np.float32)


def segment_inputs(window: Window, mel_floor_db: float, mel: np.ndarray | None = None,
                   features: np.ndarray | None = None, embeddings: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Model inputs for every window of one segment: ``mel`` (frames, n_mels) is cut into windows
    (or ``embeddings`` holds one row per window already); ``features`` (one vector) is repeated."""
    inputs: dict[str, np.ndarray] = {}
    if mel is not None:
        inputs["mel"] = windows(as_stored(mel), window.frames, window.hop_frames, mel_floor_db)
    if embeddings is not None:
        inputs["embedding"] = np.asarray(embeddings, dtype=np.float32)
    count = len(next(iter(inputs.values()))) if inputs else 1
    if features is not None:
        inputs["features"] = np.repeat(np.asarray(features, dtype=np.float32)[None], count, axis=0)
    return inputs


def window_offsets(n_frames: int, window: Window) -> list[int]:
    """Start frame of every window of a segment of ``n_frames`` spectrogram frames."""
    return window_starts(max(n_frames, 1), window.frames, window.hop_frames)


def concat(parts: list[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The inputs of several segments (or recordings) stacked, and the owner index of every window."""
    counts = [len(next(iter(p.values()))) for p in parts]
    owner = np.repeat(np.arange(len(parts)), counts)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, owner


def mean_by_owner(window_preds: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
    """Per owner (recording), the mean of its windows' predictions."""
    sums = np.zeros((count, *window_preds.shape[1:]), dtype=np.float64)
    np.add.at(sums, owner, window_preds)
    return (sums / np.bincount(owner, minlength=count).reshape(-1, *([1] * (window_preds.ndim - 1)))).astype(np.float32)


def recording_ratings(window_preds: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
    """Per recording, the mean of its windows' ratings clipped to PercePiano's [0, 1] scale: what the
    scorer reports and what cross-validation scores."""
    return np.clip(mean_by_owner(window_preds, owner, count), 0.0, 1.0)
