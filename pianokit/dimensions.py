"""The 19 PercePiano perceptual dimensions, in the dataset's label order."""

from __future__ import annotations

DIMENSIONS: tuple[str, ...] = (
    "timing_stable_unstable",
    "articulation_short_long",
    "articulation_soft_hard",
    "pedal_sparse_saturated",
    "pedal_clean_blurred",
    "timbre_even_colorful",
    "timbre_shallow_rich",
    "timbre_bright_dark",
    "timbre_soft_loud",
    "dynamic_mellow_raw",
    "dynamic_range_little_large",
    "music_making_fast_slow",
    "music_making_flat_spacious",
    "music_making_disproportioned_balanced",
    "music_making_pure_dramatic",
    "emotion_pleasant_dark",
    "emotion_low_high_energy",
    "emotion_honest_imaginative",
    "interpretation_unsatisfactory_convincing",
)

FULL_NAMES: dict[str, str] = {
    "timing_stable_unstable": "Timing: stable - unstable",
    "articulation_short_long": "Articulation: short - long",
    "articulation_soft_hard": "Articulation: soft/cushioned - hard/solid",
    "pedal_sparse_saturated": "Pedal: sparse/dry - saturated/wet",
    "pedal_clean_blurred": "Pedal: clean - blurred",
    "timbre_even_colorful": "Timbre: even - colorful",
    "timbre_shallow_rich": "Timbre: shallow - rich",
    "timbre_bright_dark": "Timbre: bright - dark",
    "timbre_soft_loud": "Timbre: soft - loud",
    "dynamic_mellow_raw": "Dynamics: sophisticated/mellow - raw/crude",
    "dynamic_range_little_large": "Dynamics: little - large dynamic range",
    "music_making_fast_slow": "Music making: fast-paced - slow-paced",
    "music_making_flat_spacious": "Music making: flat - spacious",
    "music_making_disproportioned_balanced": "Music making: disproportioned - balanced",
    "music_making_pure_dramatic": "Music making: pure - dramatic/expressive",
    "emotion_pleasant_dark": "Emotion & mood: optimistic/pleasant - dark",
    "emotion_low_high_energy": "Emotion & mood: low - high energy",
    "emotion_honest_imaginative": "Emotion & mood: honest - imaginative",
    "interpretation_unsatisfactory_convincing": "Interpretation: unsatisfactory/doubtful - convincing",
}

GROUPS: dict[str, tuple[str, ...]] = {
    "timing": DIMENSIONS[0:1],
    "articulation": DIMENSIONS[1:3],
    "pedal": DIMENSIONS[3:5],
    "timbre": DIMENSIONS[5:9],
    "dynamics": DIMENSIONS[9:11],
    "music_making": DIMENSIONS[11:15],
    "emotion": DIMENSIONS[15:18],
    "interpretation": DIMENSIONS[18:19],
}

# Dimensions whose target depends on tempo: time-stretch augmentation must not reuse their labels.
TEMPO_DIMENSIONS: tuple[str, ...] = ("music_making_fast_slow",)
AUGMENTATIONS: tuple[str, ...] = ("pitch", "stretch")  # mel-domain augmentations; stretch masks TEMPO_DIMENSIONS


def unknown_augmentation(names) -> str | None:
    """The message for the first name that is not an augmentation, or None."""
    bad = [a for a in names if a not in AUGMENTATIONS]
    return f"unknown augmentation {bad[0]!r}; choose from {', '.join(AUGMENTATIONS)}" if bad else None


def to_rater_scale(value: float) -> float:
    """Map a rating back to the raters' 1-7 Likert scale (PercePiano labels are mean rating / 7)."""
    return 7.0 * value


def poles(dimension: str) -> tuple[str, str, str]:
    """(aspect, low pole, high pole) of a dimension: a rating of 1 means the low pole, 7 the high one,
    e.g. ("Timing", "stable", "unstable")."""
    full = FULL_NAMES.get(dimension)
    if full is None:
        return dimension, "low", "high"
    aspect, _, span = full.partition(": ")
    low, _, high = span.partition(" - ")
    return aspect, low, high


GROUP_TITLES: dict[str, str] = {"timing": "Timing", "articulation": "Articulation", "pedal": "Pedal",
                                "timbre": "Timbre", "dynamics": "Dynamics", "music_making": "Music making",
                                "emotion": "Emotion & mood", "interpretation": "Interpretation"}


def group_of(dimension: str) -> str:
    return next((g for g, dims in GROUPS.items() if dimension in dims), "other")
