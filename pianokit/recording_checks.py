"""What the scorer cannot vouch for: recordings unlike the ones the model learned from.

The shipped model learned from unclipped SoundFont and sampled piano renders, clean and through
simulated rooms, microphones, noise, phones and codecs (docs/results.md). Cheap checks flag a
recording that is far from that, so a user knows which ratings to doubt:
- clipping: more than 0.05 % of samples at full scale, or in flat tops (runs of 3 or more samples
  at the segment's own peak: clipped first and scaled down after, at the rate scored; a pure
  tone's rounded crest does not make such runs, and unclipped piano has at most a few samples at
  its peak);
- level: a peak below -50 dBFS (features are level-normalised, so the level itself does not matter,
  but so quiet a recording is mostly hiss and quantisation noise once amplified);
- noise: the loudest half of the frames has a noise-like spectrum (median spectral flatness above
  0.005; the training renders stay below 0.0015, piano with white noise at 20 dB SNR reaches about
  0.006), as with strong background noise or a sound that is not a piano;
- narrow band: in the loud frames, the band above 6 kHz lies more than 80 dB below the 0.3-3.4 kHz
  band, as through a telephone channel (GSM, 8 kHz sampling) or a heavy low-pass (judged when the
  scorer works at 20 kHz or more, as the shipped model's 22.05 kHz). The dullest
  pianos (MuseScore General Lite, the Salamander grand) stay above -67 dB, rooms, noise, a phone
  band-pass alone (gentle slopes), low MP3 and low Ogg above -76 dB; GSM falls to -78 .. -92 dB
  (bench/results/recording_checks.md). Under a GSM phone the shipped model's ratings move by about
  a quarter of the spread between players (docs/results.md, Robustness). A quiet phone recording
  stored at a wide rate in 16 bits escapes it: the quantisation noise fills the upper band (the
  bundled example through GSM, peaking at -26 dBFS: -68 dB; normalised to -1 dBFS: -87 dB);
- not piano: a struck string starts at once and dies away, so in the loud mel bands (within 35 dB of
  the recording's top) the frame-to-frame level steps are skewed: rare large rises, many small
  falls. Speech, winds, bowed strings, organs and synthesiser tones rise and fall alike, or stop
  abruptly, or hold still. Flagged when the steps' skewness is below 0.15, or more than 45 % of the
  falling level goes in steps of over 6 dB per frame, or more than half the steps hold within
  0.15 dB. Judged from 500 loud steps (a second or two of piano, whose loud bands are many), or
  from 100 over 2 s of sound for a pure tone's few loud bands; shorter sound is not judged (cut to
  2.5-5 s, bench/results/recording_checks_*s.md, no piano is flagged and every steady tone is).
  The limits were chosen on 523 piano recordings (none flagged) and other sounds, and
  checked on a fresh draw by bench/recording_checks.py (bench/results/recording_checks.md): none
  of 360 piano recordings (FluidR3, MuseScore and Salamander renders of PercePiano, clean and
  through rooms up to 3 s, noise, phones, codecs and random recipes; skewness >= 0.38) is flagged;
  every speech recording and steady tone is flagged (as not piano or noisy), 2 in 5 renders of
  sustained instruments (clarinet, choir and square lead mostly, organs and synth pads never), and
  of the plucked or struck ones only the harpsichord and some electric pianos. A pass is no
  proof of a piano.
A model may also carry condition checks fitted on its training recordings (pianokit.condition_checks):
the scorer then warns when a recording sounds like a room with more than 0.6 s of reverberation or
like a phone call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP_LEVEL = 0.999
CLIP_SHARE = 0.0005
FLAT_TOP_RUN = 3
CLIP_MIN_PEAK = 10 ** (-40 / 20)  # below this, a plateau at the peak can be quantisation, not clipping
QUIET_PEAK_DBFS = -50.0  # the clean training renders peak at -28 to -9 dBFS, the augmented ones at -30 to -1
FLATNESS_LIMIT = 0.005
FRAME, HOP = 2048, 512
SHAPE_SR = 22050  # level steps are measured at this rate: 23 ms frames
SHAPE_MELS, SHAPE_FMAX, SHAPE_RANGE_DB = 64, 8000.0, 35.0
MIN_STEPS = 500  # loud steps that judge the shape: a second or two of piano, whose loud bands are many
MIN_LOUD_SECONDS, MIN_SPARSE_STEPS = 2.0, 100  # or this long a sound with a few loud bands (a pure tone)
SKEW_LIMIT, ABRUPT_DB, ABRUPT_LIMIT, STILL_DB, STILL_LIMIT = 0.15, 6.0, 0.45, 0.15, 0.5
VOICE_BAND_HZ, HIGH_BAND_HZ, NARROW_DB = (300.0, 3400.0), (6000.0, 10000.0), -80.0


@dataclass
class RecordingStats:
    """Running statistics over the segments of one recording."""

    samples: int = 0
    clipped: int = 0
    peak: float = 0.0
    flatness: float = 0.0
    steps: int = 0
    step_moments: tuple[float, float, float] = (0.0, 0.0, 0.0)  # sums of d, d², d³ over loud level steps d (dB)
    falling_db: float = 0.0
    abrupt_falling_db: float = 0.0
    still_steps: int = 0
    loud_frames: int = 0  # frame steps with at least one loud band
    voice_band_power: float = 0.0  # summed over the loud frames
    high_band_power: float = 0.0

    def add(self, y: np.ndarray, sr: int = SHAPE_SR) -> None:
        """Take in the next segment of the recording (mono, at ``sr``)."""
        import librosa

        y = np.asarray(y, dtype=np.float32)
        self.samples += len(y)
        top = float(np.max(np.abs(y))) if len(y) else 0.0
        self.peak = max(self.peak, top)
        self.clipped += max(int(np.count_nonzero(np.abs(y) >= CLIP_LEVEL)), _flat_top_samples(y, top))
        if len(y) >= FRAME:
            magnitude = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=HOP))
            rms = librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP)[0]
            flat = librosa.feature.spectral_flatness(S=magnitude)[0]
            n = min(len(rms), len(flat))
            loud = rms[:n] >= np.median(rms[:n])
            self.flatness = max(self.flatness, float(np.median(flat[:n][loud])))
            self._add_bands(magnitude[:, :n][:, loud] ** 2, sr)
            if sr != SHAPE_SR:
                magnitude = np.abs(librosa.stft(librosa.resample(y, orig_sr=sr, target_sr=SHAPE_SR), n_fft=FRAME,
                                                hop_length=HOP))
            self._add_level_steps(magnitude ** 2)

    def _add_bands(self, power: np.ndarray, sr: int) -> None:
        if sr < 2 * HIGH_BAND_HZ[1]:  # a model working at a lower rate cannot tell: not judged
            return
        freqs = np.fft.rfftfreq(FRAME, 1 / sr)

        def band(low: float, high: float) -> float:
            return float(power[(freqs >= low) & (freqs < high)].sum())

        self.voice_band_power += band(*VOICE_BAND_HZ)
        self.high_band_power += band(*HIGH_BAND_HZ)

    def high_band_db(self) -> float | None:
        """The band above 6 kHz against the 0.3-3.4 kHz band, in dB (None for silence)."""
        if self.voice_band_power <= 0:
            return None
        return 10 * np.log10(max(self.high_band_power, 1e-30) / self.voice_band_power)

    def _add_level_steps(self, power: np.ndarray) -> None:
        """Level steps of the mel bands of one segment's power spectrogram (at SHAPE_SR)."""
        import librosa

        mel = librosa.feature.melspectrogram(S=power, sr=SHAPE_SR, n_fft=FRAME, n_mels=SHAPE_MELS, fmax=SHAPE_FMAX)
        db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        if db.shape[1] < 2:
            return
        floor = np.percentile(db, 99) - SHAPE_RANGE_DB
        loud = (db[:, 1:] > floor) & (db[:, :-1] > floor)
        d = np.diff(db, axis=1)[loud].astype(np.float64)
        self.steps += len(d)
        self.loud_frames += int(np.count_nonzero(loud.any(axis=0)))
        self.step_moments = tuple(s + float(np.sum(d ** k)) for k, s in enumerate(self.step_moments, start=1))
        falls = -d[d < 0]
        self.falling_db += float(falls.sum())
        self.abrupt_falling_db += float(falls[falls > ABRUPT_DB].sum())
        self.still_steps += int(np.count_nonzero(np.abs(d) < STILL_DB))

    def shape(self) -> dict[str, float] | None:
        """Skewness of the loud level steps, share of the falling level in abrupt steps, share of still
        steps (None when there were too few loud steps to judge: under MIN_STEPS, unless the sound
        lasted MIN_LOUD_SECONDS with at least MIN_SPARSE_STEPS)."""
        lasted = self.loud_frames * HOP / SHAPE_SR >= MIN_LOUD_SECONDS
        if self.steps < MIN_STEPS and not (lasted and self.steps >= MIN_SPARSE_STEPS):
            return None
        m1, m2, m3 = (s / self.steps for s in self.step_moments)
        var = m2 - m1 ** 2
        skew = (m3 - 3 * m1 * var - m1 ** 3) / var ** 1.5 if var > 1e-12 else 0.0
        return {"skewness": skew, "abrupt_falls": self.abrupt_falling_db / max(self.falling_db, 1e-9),
                "still_steps": self.still_steps / self.steps}

    def noisy(self) -> bool:
        """The loudest frames have a noise-like spectrum."""
        return self.flatness > FLATNESS_LIMIT

    def narrow_band(self) -> bool:
        """Almost nothing above 6 kHz against the 0.3-3.4 kHz band."""
        high = self.high_band_db()
        return high is not None and high < NARROW_DB

    def not_piano_reasons(self) -> list[str]:
        """Why the level steps do not sound like piano notes (empty when they do, or when the shape is
        unjudged or the recording is noisy)."""
        shape = self.shape()
        if shape is None or self.noisy():
            return []
        why = []
        if shape["still_steps"] > STILL_LIMIT:
            why.append(f"{100 * shape['still_steps']:.0f} % of the time the sound holds still")
        if shape["abrupt_falls"] > ABRUPT_LIMIT:
            why.append(f"sounds stop abruptly ({100 * shape['abrupt_falls']:.0f} % of the falling level "
                       f"in steps over {ABRUPT_DB:.0f} dB)")
        if shape["skewness"] < SKEW_LIMIT:
            why.append(f"notes swell and fade alike (level-step skewness {shape['skewness']:.2f})")
        return why

    def sounds_like_piano(self) -> bool:
        """Long enough to judge, not noisy, and struck notes that die away."""
        return self.shape() is not None and not self.noisy() and not self.not_piano_reasons()

    def warnings(self) -> list[str]:
        out = []
        if self.samples and self.clipped > max(20, CLIP_SHARE * self.samples):
            out.append(f"clipped: {100 * self.clipped / self.samples:.2f} % of samples at full scale or in flat "
                       "tops; loudness and timbre ratings are unreliable")
        peak_db = 20 * np.log10(max(self.peak, 1e-10))
        if self.samples and peak_db < QUIET_PEAK_DBFS:
            out.append(f"recording level very low (peak {peak_db:.0f} dBFS, below {QUIET_PEAK_DBFS:.0f}); "
                       "hiss and quantisation noise can colour the ratings")
        if self.noisy():
            out.append(f"noisy or not piano: the loudest frames have a noise-like spectrum (flatness "
                       f"{self.flatness:.3f}); all ratings are doubtful")
        if self.narrow_band():
            out.append(f"narrow band: almost nothing above 6 kHz ({self.high_band_db():.0f} dB against the 0.3-3.4 kHz "
                       "band), as through a telephone or a heavy low-pass; timbre and dynamics ratings move under "
                       "such a channel")
        why = self.not_piano_reasons()
        if why:
            out.append(f"does not sound like a piano: {'; '.join(why)}, where piano notes strike and die "
                       "away (speech, another instrument or a synthetic tone?); all ratings are doubtful")
        return out


def _flat_top_samples(y: np.ndarray, top: float) -> int:
    """Samples in runs of FLAT_TOP_RUN or more at the peak level ``top`` (either sign)."""
    if top < CLIP_MIN_PEAK:
        return 0
    at_peak = np.abs(y) >= top * (1 - 1e-6)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], at_peak.astype(np.int8), [0]))))
    runs = edges[1::2] - edges[::2]
    return int(runs[runs >= FLAT_TOP_RUN].sum())
