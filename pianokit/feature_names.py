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

# Performance features of a note list (pianokit.symbolic reads them from MIDI; pianokit.transcribe
# from audio through a transcription model, without the pedal ones, which audio notes do not carry).
PEDAL_FEATURES: tuple[str, ...] = (
    "pedal_down_fraction", "pedal_changes_rate", "pedal_mean", "pedal_press_mean_s", "soft_pedal_fraction",
)
SYMBOLIC_FEATURES: tuple[str, ...] = (
    "duration_s", "note_count", "note_density", "chord_rate", "polyphony_mean",
    "ioi_mean", "ioi_median", "ioi_std", "ioi_cv", "log_ioi_std", "ioi_ratio_std", "ioi_ratio_abs_mean",
    "tempo_slope", "onset_spread_mean",
    "velocity_mean", "velocity_std", "velocity_p10", "velocity_p90", "velocity_range", "velocity_slope",
    "velocity_step_abs_mean", "velocity_pitch_corr", "velocity_top_minus_rest", "velocity_chord_std",
    "duration_mean", "duration_median", "log_duration_std", "articulation_mean", "articulation_std",
    "legato_fraction", "overlap_mean",
    *PEDAL_FEATURES,
    "pitch_mean", "pitch_std", "pitch_range",
)
TRANSCRIBED_NOTE_FEATURES: tuple[str, ...] = tuple(f for f in SYMBOLIC_FEATURES if f not in PEDAL_FEATURES)
TRANSCRIPTION_FEATURES: tuple[str, ...] = (
    *(f"tr_{f}" for f in TRANSCRIBED_NOTE_FEATURES), "tr_active_keys_mean", "tr_onset_peak_mean",
)
ALL_FEATURES: tuple[str, ...] = EXTENDED_FEATURES + TRANSCRIPTION_FEATURES
FEATURE_SETS: dict[str, tuple[str, ...]] = {"extended": EXTENDED_FEATURES, "all": ALL_FEATURES}


def resolve_features(spec: str) -> tuple[str, ...]:
    """The feature names ``spec`` selects, in ALL_FEATURES order: a set name (FEATURE_SETS), or a
    comma-separated list of set names, feature names and shell patterns (``mfcc*_mean``), each
    adding its features, or removing them when it starts with ``-``. ValueError names a bad item."""
    from fnmatch import fnmatchcase

    chosen: set[str] = set()
    for item in (part.strip() for part in spec.split(",")):
        remove = item.startswith("-")
        pattern = item[1:] if remove else item
        names = set(FEATURE_SETS.get(pattern, ())) or {f for f in ALL_FEATURES if fnmatchcase(f, pattern)}
        if not names:
            raise ValueError(f"--features: {item!r} is neither a feature set ({', '.join(FEATURE_SETS)}) nor "
                             "matches a feature name")
        chosen = chosen - names if remove else chosen | names
    if not chosen:
        raise ValueError(f"--features {spec!r} selects no feature")
    return tuple(f for f in ALL_FEATURES if f in chosen)
