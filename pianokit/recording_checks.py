"""What the scorer cannot vouch for: recordings unlike the ones the model learned from.

The shipped model learned from unclipped SoundFont piano renders, clean and through simulated
rooms, microphones, noise, phones and codecs (docs/results.md). Three cheap checks flag a recording
that is far from that, so a user knows which ratings to doubt:
- clipping: more than 0.05 % of samples at full scale;
- level: a peak below -50 dBFS (features are level-normalised, so the level itself does not matter,
  but so quiet a recording is mostly hiss and quantisation noise once amplified);
- noise: the loudest half of the frames has a noise-like spectrum (median spectral flatness above
  0.005; the training renders stay below 0.0015, piano with white noise at 20 dB SNR reaches about
  0.006), as with strong background noise or a sound that is not a piano.
The limits were measured on the PercePiano renders (FluidR3 and MuseScore, 202 files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP_LEVEL = 0.999
CLIP_SHARE = 0.0005
QUIET_PEAK_DBFS = -50.0  # the clean training renders peak at -28 to -9 dBFS, the augmented ones at -30 to -1
FLATNESS_LIMIT = 0.005
FRAME, HOP = 2048, 512


@dataclass
class RecordingStats:
    """Running statistics over the segments of one recording."""

    samples: int = 0
    clipped: int = 0
    peak: float = 0.0
    flatness: float = 0.0

    def add(self, y: np.ndarray) -> None:
        import librosa

        y = np.asarray(y, dtype=np.float32)
        self.samples += len(y)
        self.clipped += int(np.count_nonzero(np.abs(y) >= CLIP_LEVEL))
        self.peak = max(self.peak, float(np.max(np.abs(y))) if len(y) else 0.0)
        if len(y) >= FRAME:
            rms = librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP)[0]
            flat = librosa.feature.spectral_flatness(y=y, n_fft=FRAME, hop_length=HOP)[0]
            n = min(len(rms), len(flat))
            loud = rms[:n] >= np.median(rms[:n])
            self.flatness = max(self.flatness, float(np.median(flat[:n][loud])))

    def warnings(self) -> list[str]:
        out = []
        if self.samples and self.clipped > max(20, CLIP_SHARE * self.samples):
            out.append(f"clipped: {100 * self.clipped / self.samples:.2f} % of samples at full scale; "
                       "loudness and timbre ratings are unreliable")
        peak_db = 20 * np.log10(max(self.peak, 1e-10))
        if self.samples and peak_db < QUIET_PEAK_DBFS:
            out.append(f"recording level very low (peak {peak_db:.0f} dBFS, below {QUIET_PEAK_DBFS:.0f}); "
                       "hiss and quantisation noise can colour the ratings")
        if self.flatness > FLATNESS_LIMIT:
            out.append(f"noisy or not piano: the loudest frames have a noise-like spectrum (flatness "
                       f"{self.flatness:.3f}); all ratings are doubtful")
        return out
