"""Hand-crafted librosa features and the log-mel spectrogram, all governed by one FeatureConfig."""

from __future__ import annotations

import librosa
import numpy as np

from pianokit.conditions import noise_floor
from pianokit.contract import EXACT_LENGTH_FLOOR_VERSION, FEATURE_VERSION, FeatureConfig
from pianokit.feature_names import (
    ALL_FEATURES,
    BASIC_FEATURES,
    CONTRAST_BANDS,
    EXTENDED_FEATURES,
    MFCC_COUNT,
    TRANSCRIPTION_FEATURES,
)

__all__ = ["ALL_FEATURES", "BASIC_FEATURES", "EXTENDED_FEATURES", "FEATURE_VERSION", "FeatureConfig", "extract", "log_mel"]

HPSS_KERNEL = 15  # median-filter length; librosa's default 31 costs twice the time for the same ratio

# Krumhansl-Kessler key profiles, used for the key-strength feature.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


LEVEL_PERCENTILE = 95  # the level of a recording: this percentile of its frame RMS (its loud passages)


def normalise_level(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``y`` scaled so the 95th percentile of its frame RMS sits at ``config.level_dbfs``.

    Recording level says more about the microphone than about the player, so every feature and
    spectrogram is computed on level-normalised audio: a gain change leaves them unchanged, while
    dynamics within the recording (how much softer the soft passages are) are kept.
    """
    rms = librosa.feature.rms(y=y, frame_length=config.n_fft, hop_length=config.hop_length)[0]
    level = float(np.percentile(rms, LEVEL_PERCENTILE)) if rms.size else 0.0
    if level <= 1e-8:
        return y
    return (y * (10 ** (config.level_dbfs / 20) / level)).astype(y.dtype, copy=False)


def prepare(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """The audio every feature and spectrogram is computed from: level-normalised
    (``normalise_level``), then with the config's common noise floor (``config.noise_floor_db``,
    pianokit.conditions.noise_floor) when it asks for one, drawn as the config's feature version drew it."""
    y = normalise_level(y, config)
    if config.noise_floor_db is None:
        return y
    return noise_floor(y, config.sample_rate, config.noise_floor_db,
                       exact_length=config.version <= EXACT_LENGTH_FLOOR_VERSION)


def log_mel(y: np.ndarray, config: FeatureConfig, power_spec: np.ndarray | None = None) -> np.ndarray:
    """Log-mel spectrogram in dB relative to full scale of the prepared audio (``y`` is
    prepared here unless the power spectrogram of prepared audio is given), floored at
    ``config.mel_floor_db``."""
    return np.maximum(_log_mel_unfloored(y, config, power_spec), config.mel_floor_db)


def _log_mel_unfloored(y: np.ndarray, config: FeatureConfig, power_spec: np.ndarray | None) -> np.ndarray:
    if power_spec is None:
        y = prepare(y, config)
        power_spec = np.abs(librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length)) ** 2
    mel = librosa.feature.melspectrogram(
        S=power_spec, sr=config.sample_rate, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax
    )
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    return db.astype(np.float32)


def _mean_std(x: np.ndarray) -> list[float]:
    return [float(np.mean(x)), float(np.std(x))]


def _key_strength(chroma_mean: np.ndarray) -> float:
    if np.allclose(chroma_mean, chroma_mean[0]):
        return 0.0
    scores = [
        np.corrcoef(chroma_mean, np.roll(profile, shift))[0, 1]
        for profile in (_MAJOR, _MINOR)
        for shift in range(12)
    ]
    return float(np.nanmax(scores))


def _tempo(onset_env: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """Global tempo (BPM) and pulse clarity from the onset envelope's autocorrelation.

    The lag is chosen as in librosa.feature.tempo (log-normal prior around 120 BPM, one octave wide)
    and refined by parabolic interpolation, so it is not quantised to whole frames; pulse clarity is
    the normalised autocorrelation at that lag. (librosa.beat is avoided: importing it compiles
    numba kernels for ~1.5 s in every new process, which the scorer's cold start cannot afford.)
    """
    env = onset_env - onset_env.mean()
    ac = librosa.autocorrelate(env)
    if ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]
    lags = np.arange(len(ac))
    valid = (lags >= frame_rate * 60 / 300) & (lags <= frame_rate * 60 / 30)
    if not valid.any():
        return 0.0, 0.0
    bpm = 60.0 * frame_rate / np.maximum(lags, 1)
    prior = np.exp(-0.5 * (np.log2(bpm) - np.log2(120.0)) ** 2)
    lag = int(np.argmax(np.where(valid, ac * prior, -np.inf)))
    refined = float(lag)
    if 0 < lag < len(ac) - 1:
        a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
        if a - 2 * b + c < 0:
            refined = lag + 0.5 * (a - c) / (a - 2 * b + c)
    return 60.0 * frame_rate / refined, float(ac[lag])


def _median_filter(x: np.ndarray, axis: int) -> np.ndarray:
    """scipy.ndimage.median_filter(x, HPSS_KERNEL along ``axis``, mode="reflect"), exactly (a median
    selects one of its inputs), four times faster: one partition over a strided window view."""
    width = [(0, 0)] * x.ndim
    width[axis] = (HPSS_KERNEL // 2, HPSS_KERNEL // 2)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, width, mode="symmetric"), HPSS_KERNEL, axis=axis)
    return np.partition(windows, HPSS_KERNEL // 2, axis=-1)[..., HPSS_KERNEL // 2]


def _centroid_bandwidth(magnitude: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """librosa.feature.spectral_centroid(S=magnitude, sr=sr) and spectral_bandwidth(S=magnitude, sr=sr)
    (p = 2), exactly: librosa's formulas on one column normalisation, which librosa computes in each."""
    p = 2
    freq = librosa.fft_frequencies(sr=sr, n_fft=2 * (magnitude.shape[-2] - 1))
    weights = librosa.util.normalize(magnitude, norm=1, axis=-2)
    centroid = np.sum(freq[:, None] * weights, axis=-2, keepdims=True)
    deviation = np.abs(np.subtract.outer(centroid[..., 0, :], freq).swapaxes(-2, -1))
    return centroid, np.sum(weights * deviation**p, axis=-2, keepdims=True) ** (1.0 / p)


def _zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int, threshold: float = 1e-10) -> np.ndarray:
    """librosa.feature.zero_crossing_rate(y, frame_length=..., hop_length=...) of finite audio, exactly
    (centred frames, edge padding, a sample within ``threshold`` of zero counts as positive, a frame's
    first sample crosses nothing), with each crossing found once and counted per frame from a running
    sum, not once for each of the frames (four) that overlap it."""
    padded = np.pad(y, frame_length // 2, mode="edge")
    negative = padded < -np.asarray(threshold, dtype=padded.dtype)
    running = np.zeros(len(padded), dtype=np.int64)
    np.cumsum(negative[1:] != negative[:-1], out=running[1:])
    starts = np.arange(1 + (len(padded) - frame_length) // hop_length) * hop_length
    return ((running[starts + frame_length - 1] - running[starts]) / frame_length)[None, :]


def _harmonic_ratio(power: np.ndarray) -> float:
    """Share of harmonic energy after median-filter HPSS (Fitzgerald 2010) with soft masks, as
    librosa.decompose.hpss computes it; done here because importing librosa.decompose loads sklearn."""
    harmonic = _median_filter(power, axis=1)
    percussive = _median_filter(power, axis=0)
    mask = librosa.util.softmask(harmonic, percussive, power=2.0)
    h = float((power * mask).sum())
    return h / (float(power.sum()) + 1e-12)


def _attack_decay(rms_db: np.ndarray, onset_frames: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """Mean seconds from onset to loudness peak, and mean dB/s fall over the 0.3 s after that peak."""
    attack_window = max(1, int(round(0.2 * frame_rate)))
    decay_window = max(1, int(round(0.3 * frame_rate)))
    attacks, decays = [], []
    for start in onset_frames:
        stop = min(len(rms_db), start + attack_window + 1)
        if stop - start < 2:
            continue
        peak = start + int(np.argmax(rms_db[start:stop]))
        attacks.append((peak - start) / frame_rate)
        end = min(len(rms_db) - 1, peak + decay_window)
        if end > peak:
            decays.append((rms_db[peak] - rms_db[end]) / ((end - peak) / frame_rate))
    return (float(np.mean(attacks)) if attacks else 0.0, float(np.mean(decays)) if decays else 0.0)


def extract(y: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Return (feature vector in ``config.features`` order, log-mel of shape (n_mels, T)).

    The audio is first prepared (``prepare``: level, noise floor). One STFT is shared by every spectral
    feature; tempo, onsets, MFCCs and HPSS use the log-mel floored at ``config.feature_floor_db``
    (higher than the model's ``mel_floor_db``, so a codec's emptied bands or a quiet noise floor
    move them less); the log-mel returned is floored at ``mel_floor_db``. Transcription features
    (``tr_*``, pianokit.transcribe) are computed only when ``config.features`` asks for them.
    """
    y = prepare(y, config)
    sr, hop = config.sample_rate, config.hop_length
    frame_rate = sr / hop
    duration = len(y) / sr
    stft_mag = np.abs(librosa.stft(y, n_fft=config.n_fft, hop_length=hop))
    power = stft_mag**2
    raw_db = _log_mel_unfloored(y, config, power)
    mel_db = np.maximum(raw_db, config.mel_floor_db)
    feature_db = np.maximum(raw_db, config.feature_floor_db)

    onset_env = librosa.onset.onset_strength(S=feature_db, sr=sr, hop_length=hop)
    tempo, pulse_clarity = _tempo(onset_env, frame_rate)
    onset_frames = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr, hop_length=hop)
    onset_times = onset_frames / frame_rate
    ioi = np.diff(onset_times)
    ioi_mean = float(np.mean(ioi)) if len(ioi) else 0.0
    ioi_std = float(np.std(ioi)) if len(ioi) else 0.0
    values = [tempo, pulse_clarity, len(onset_frames) / duration, ioi_mean, ioi_std]
    values.append(ioi_std / ioi_mean if ioi_mean > 0 else 0.0)

    mfcc = librosa.feature.mfcc(S=feature_db, n_mfcc=MFCC_COUNT)
    values += list(mfcc.mean(axis=1)) + list(mfcc.std(axis=1))
    contrast = librosa.feature.spectral_contrast(S=stft_mag, sr=sr, n_bands=CONTRAST_BANDS - 1, fmin=100.0)
    values += list(contrast.mean(axis=1))
    centroid, bandwidth = _centroid_bandwidth(stft_mag, sr)
    values += _mean_std(centroid)
    values += _mean_std(bandwidth)
    values += _mean_std(librosa.feature.spectral_rolloff(S=stft_mag, sr=sr))
    values += _mean_std(librosa.feature.spectral_flatness(S=stft_mag))
    values += _mean_std(_zero_crossing_rate(y, config.n_fft, hop))

    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0)
    chroma_mean = chroma.mean(axis=1)
    values += list(chroma_mean)
    values += list(librosa.feature.tonnetz(chroma=chroma).mean(axis=1))
    values.append(_key_strength(chroma_mean))

    values.append(_harmonic_ratio(librosa.db_to_power(feature_db)))
    values += [float(np.mean(onset_env)), float(np.std(onset_env)), float(np.max(onset_env))]

    rms = librosa.feature.rms(S=stft_mag, frame_length=config.n_fft, hop_length=hop)[0]
    rms_db = librosa.amplitude_to_db(rms, ref=1.0, amin=1e-5, top_db=None)
    values += list(_attack_decay(rms_db, onset_frames, frame_rate))
    values += [float(np.mean(rms)), float(np.std(rms)), float(np.mean(rms_db)), float(np.std(rms_db))]
    values.append(float(np.percentile(rms_db, 95) - np.percentile(rms_db, 5)))

    full = dict(zip(EXTENDED_FEATURES, values, strict=True))
    if any(name in TRANSCRIPTION_FEATURES for name in config.features):
        from pianokit import transcribe

        full.update(zip(TRANSCRIPTION_FEATURES, transcribe.features(y, sr), strict=True))
    vector = np.array([full[name] for name in config.features], dtype=np.float32)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0), mel_db


def compile_in_parent(config: FeatureConfig) -> None:
    """Extract the features of a short struck tone in this process, so that librosa's numba functions
    are compiled and written to numba's cache once before parallel workers start: workers compiling the
    same cached gufuncs at the same time can crash and leave a mismatched cache behind
    (numba/numba#10128, segfaults in peak_pick on a fresh install). Cheap once the cache exists."""
    t = np.arange(int(4.0 * config.sample_rate)) / config.sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-8 * (t % 0.5))
    extract(tone.astype(np.float32), config)
