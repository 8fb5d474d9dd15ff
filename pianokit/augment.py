"""Pitch shift and time stretch of log-mel spectrograms as tf.data map functions.

Both act in the mel domain, on (frames, n_mels) dB spectrograms:

- pitch shift by n semitones moves energy at f to f * 2**(n/12): every output bin reads the input
  at the (fractional) mel position of its centre frequency / 2**(n/12), linearly interpolated in dB.
  A sine's peak lands within one mel bin of the exact shifted frequency (tested). Error: the
  spectral envelope (formants of the piano body, the SoundFont's sampling) moves with the pitch,
  as in resampling, and bins brought in from below fmin are silence.
- time stretch by rate r gives round(T / r) frames by linear interpolation along time (r > 1 is
  faster). Error: onsets are smeared by up to one frame and note decays stretch with the notes,
  unlike a real performance played at another tempo.

Labels: a time-stretched example says nothing reliable about `music_making_fast_slow`, so its
target is set to NaN there and the masked loss ignores it. Pitch shift keeps every label.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import tensorflow as tf

from pianokit.dimensions import DIMENSIONS, TEMPO_DIMENSIONS


_F_SP, _MIN_LOG_HZ, _LOGSTEP = 200.0 / 3, 1000.0, math.log(6.4) / 27.0


def _tf_hz_to_mel(f: tf.Tensor) -> tf.Tensor:
    """librosa.hz_to_mel (Slaney scale) in TensorFlow."""
    log = _MIN_LOG_HZ / _F_SP + tf.math.log(tf.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return tf.where(f >= _MIN_LOG_HZ, log, f / _F_SP)


class MelAugmenter:
    """Random pitch shift (semitones in [-max_semitones, max_semitones]) and time stretch (rate in
    [min_rate, max_rate]) for spectrograms made with ``n_mels, fmin, fmax``."""

    def __init__(self, n_mels: int, fmin: float, fmax: float, floor_db: float = -100.0,
                 max_semitones: float = 0.0, stretch: tuple[float, float] | None = None,
                 targets: tuple[str, ...] = DIMENSIONS):
        self.n_mels, self.floor = n_mels, floor_db
        self.max_semitones, self.stretch = max_semitones, stretch
        self.mel_min, self.mel_max = float(librosa.hz_to_mel(fmin)), float(librosa.hz_to_mel(fmax))
        self.step = (self.mel_max - self.mel_min) / (n_mels + 1)
        self.centres_hz = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)[1:-1]
        self.tempo_mask = np.array([t in TEMPO_DIMENSIONS for t in targets])

    def pitch_shift(self, mel: tf.Tensor, semitones) -> tf.Tensor:
        """Shift a (frames, n_mels) dB spectrogram by ``semitones`` (float)."""
        ratio = tf.pow(tf.constant(2.0, tf.float64), tf.cast(semitones, tf.float64) / 12.0)
        source_hz = tf.constant(self.centres_hz, tf.float64) / ratio
        position = (_tf_hz_to_mel(source_hz) - self.mel_min) / self.step - 1.0
        lo = tf.floor(position)
        frac = tf.cast(position - lo, mel.dtype)
        lo = tf.cast(lo, tf.int32)
        padded = tf.pad(mel, [[0, 0], [1, 1]], constant_values=self.floor)  # index -1 and n_mels are silence
        lo_c = tf.clip_by_value(lo + 1, 0, self.n_mels + 1)
        hi_c = tf.clip_by_value(lo + 2, 0, self.n_mels + 1)
        out = tf.gather(padded, lo_c, axis=1) * (1 - frac) + tf.gather(padded, hi_c, axis=1) * frac
        inside = (position >= -1.0) & (position <= self.n_mels)
        return tf.where(inside[None, :], out, tf.cast(self.floor, mel.dtype))

    def time_stretch(self, mel: tf.Tensor, rate) -> tf.Tensor:
        """Resample a (frames, n_mels) spectrogram to round(frames / rate) frames (rate > 1 is faster)."""
        frames = tf.shape(mel)[0]
        new = tf.maximum(1, tf.cast(tf.round(tf.cast(frames, tf.float32) / tf.cast(rate, tf.float32)), tf.int32))
        image = tf.image.resize(mel[:, :, None], tf.stack([new, self.n_mels]), method="bilinear")
        return tf.cast(image[:, :, 0], mel.dtype)

    def __call__(self, mel: tf.Tensor, labels: tf.Tensor):
        """Random augmentation of one example; tempo targets become NaN when the tempo changed."""
        if self.max_semitones:
            mel = self.pitch_shift(mel, tf.random.uniform([], -self.max_semitones, self.max_semitones))
        if self.stretch:
            rate = tf.random.uniform([], self.stretch[0], self.stretch[1])
            mel = self.time_stretch(mel, rate)
            if self.tempo_mask.any():
                nan = tf.fill(tf.shape(labels), tf.constant(float("nan"), labels.dtype))
                labels = tf.where(tf.constant(self.tempo_mask) & (tf.abs(rate - 1.0) > 1e-3), nan, labels)
        return mel, labels
