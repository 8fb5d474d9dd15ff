"""Names of the hand-crafted features (no heavy imports, so the CLI and registry load instantly)."""

from __future__ import annotations

MFCC_COUNT = 13
CONTRAST_BANDS = 7
PITCH_CLASSES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")


def _feature_names() -> tuple[str, ...]:
    names = ["tempo", "pulse_clarity", "onset_rate", "ioi_mean", "ioi_std", "ioi_cv"]
    names += [f"mfcc{i}_mean" for i in range(MFCC_COUNT)] + [f"mfcc{i}_std" for i in range(MFCC_COUNT)]
    names += [f"contrast{i}_mean" for i in range(CONTRAST_BANDS)]
    for stat in ("centroid", "bandwidth", "rolloff", "flatness", "zcr"):
        names += [f"spectral_{stat}_mean", f"spectral_{stat}_std"]
    names += [f"chroma_{p}" for p in PITCH_CLASSES] + [f"tonnetz{i}" for i in range(6)] + ["key_strength"]
    names += ["harmonic_ratio", "onset_strength_mean", "onset_strength_std", "onset_strength_max"]
    names += ["attack_time", "decay_rate", "rms_mean", "rms_std", "rms_db_mean", "rms_db_std", "rms_db_range"]
    return tuple(names)


EXTENDED_FEATURES: tuple[str, ...] = _feature_names()

# The seed's ten scalars: tempo, note density, loudness level and spread, and timbre summaries.
BASIC_FEATURES: tuple[str, ...] = (
    "tempo",
    "onset_rate",
    "rms_mean",
    "rms_std",
    "rms_db_range",
    "spectral_centroid_mean",
    "spectral_bandwidth_mean",
    "spectral_rolloff_mean",
    "spectral_flatness_mean",
    "spectral_zcr_mean",
)
