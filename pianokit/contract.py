"""The contract between training and scoring (no librosa, TensorFlow or onnxruntime here).

It holds everything both sides must agree on, in one place:

- ``FeatureConfig``: every setting that turns audio into model inputs (saved with stores, carried by
  model specs, embedded in exported models), and ``FEATURE_VERSION`` of the code that computes them;
- the feature names (``pianokit.feature_names``);
- ``Window``: how a recording is cut for a model: segments of at most ``segment_seconds`` (features are
  computed per segment) and, within a segment, spectrogram windows of ``frames`` every ``hop_frames``;
- ``ModelMetadata``: the typed, checked metadata an exported model carries.

Training (store, trainer, export) builds these; the scorer only reads them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from pianokit.errors import InputError
from pianokit.feature_names import ALL_FEATURES
from pianokit.safety import printable

FEATURE_VERSION = 6  # bump whenever extraction code changes its numbers (4: level normalisation, 5: feature_floor_db,
# 6: the noise floor shaped at a fast FFT length)
# Versions whose numbers this code still computes: 5 differs from 6 only in how the noise floor is drawn
# (features.prepare), so stores and models of version 5 stay usable.
COMPUTABLE_FEATURE_VERSIONS = (5, 6)
EXACT_LENGTH_FLOOR_VERSION = 5  # the last version that shaped the noise floor at the recording's own length

# The longest stretch whose features are computed in one piece. Longer than every PercePiano segment
# (the longest is 98 s), so a training recording is one segment in the store and in the scorer alike;
# longer recordings are cut into the fewest equal segments of at most this length.
SEGMENT_SECONDS = 120.0
NOISE_FLOOR_DB = (10, 80)  # the noise floors a config may ask for, in dB below the recording
LEGACY_SEGMENT_SECONDS = 30.0  # what models exported before the window carried it were scored with


def check_computable(version: int, made: str, remedy: str) -> None:
    """Raise InputError ('<made> feature code version N; this pianokit computes versions 5 and 6;
    <remedy>') unless this code computes feature version ``version``."""
    if version not in COMPUTABLE_FEATURE_VERSIONS:
        *first, last = map(str, COMPUTABLE_FEATURE_VERSIONS)
        versions = f"{', '.join(first)} and {last}" if first else last
        raise InputError(f"{made} feature code version {version}; this pianokit computes versions {versions}; {remedy}")


@dataclass(frozen=True)
class FeatureConfig:
    """Every setting that turns audio into model inputs; saved with stores and exported models."""

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 27.5
    fmax: float = 11025.0
    mel_floor_db: float = -100.0  # floor of the log-mel spectrogram models read
    feature_floor_db: float = -80.0  # floor of the log-mel the hand-made features (MFCC, onsets, HPSS) read
    min_duration: float = 1.0
    level_dbfs: float = -20.0
    features: tuple[str, ...] = ALL_FEATURES
    version: int = FEATURE_VERSION
    noise_floor_db: float | None = None  # seeded pink noise this many dB below the audio, added first

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["features"] = list(self.features)
        if self.noise_floor_db is None:  # absent, so configs made before the setting keep their fingerprint
            del d["noise_floor_db"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """A checked FeatureConfig from a dict read from a file; ValueError names the first bad setting."""
        if not isinstance(d, dict):
            raise ValueError("FeatureConfig must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown FeatureConfig keys: {sorted(map(str, unknown))[:5]}")
        d = dict(d)
        if "features" in d:
            if not isinstance(d["features"], list | tuple) or len(d["features"]) > len(ALL_FEATURES):
                raise ValueError("features must be a list of feature names")
            d["features"] = tuple(d["features"])
        if type(d.get("noise_floor_db")) is int:
            d["noise_floor_db"] = float(d["noise_floor_db"])
        if "feature_floor_db" not in d and isinstance(d.get("version"), int) and d["version"] < 5:
            d["feature_floor_db"] = d.get("mel_floor_db", cls.mel_floor_db)  # what older code used
        config = cls(**d)
        config.validate()
        return config

    def validate(self) -> None:
        """Every setting a number of the right type within the range pianokit can compute."""
        def number(name: str, low: float, high: float, integer: bool = False) -> None:
            value = getattr(self, name)
            kinds = (int,) if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
                raise ValueError(f"{name} = {str(value)[:40]!r} is not a{'n integer' if integer else ' number'} "
                                 f"in {low:g}..{high:g}")

        number("sample_rate", 8000, 96000, integer=True)
        number("n_fft", 64, 16384, integer=True)
        number("hop_length", 16, self.n_fft, integer=True)
        number("n_mels", 8, 512, integer=True)
        number("fmin", 0, self.sample_rate / 2)
        number("fmax", self.fmin + 1, self.sample_rate / 2)
        number("mel_floor_db", -200, 0)
        number("feature_floor_db", -200, 0)
        number("min_duration", 0.05, 60)
        number("level_dbfs", -60, 0)
        number("version", 0, 1000, integer=True)
        if self.noise_floor_db is not None:
            number("noise_floor_db", *NOISE_FLOOR_DB)
        unknown = [f for f in self.features if not isinstance(f, str) or f not in ALL_FEATURES]
        if unknown or not self.features:
            raise ValueError(f"unknown feature name {str(unknown[0])[:40]!r}" if unknown else "no features")

    def fingerprint(self) -> str:
        """Short hash that changes whenever any setting changes."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def frames(self, seconds: float) -> int:
        """Number of spectrogram frames covering ``seconds`` of audio."""
        return 1 + int(round(seconds * self.sample_rate)) // self.hop_length


@dataclass(frozen=True)
class Window:
    """How a model sees a recording: equal segments of at most ``segment_seconds`` (one feature vector
    each), and spectrogram windows of ``frames`` frames every ``hop_frames`` within each segment."""

    frames: int
    hop_frames: int
    segment_seconds: float = SEGMENT_SECONDS

    @classmethod
    def for_crop(cls, crop_frames: int) -> "Window":
        """Half-overlapping windows of ``crop_frames`` (the training crop)."""
        return cls(crop_frames, max(1, crop_frames // 2))

    def seconds(self, config: FeatureConfig) -> float:
        return round(self.frames * config.hop_length / config.sample_rate, 3)

    def to_dict(self, config: FeatureConfig) -> dict:
        return {"frames": self.frames, "hop_frames": self.hop_frames, "seconds": self.seconds(config),
                "segment_seconds": self.segment_seconds}

    @classmethod
    def from_dict(cls, d: dict) -> "Window":
        """A checked Window; ValueError says what is wrong."""
        if not isinstance(d, dict) or not all(isinstance(d.get(k), int) and not isinstance(d[k], bool)
                                              and 1 <= d[k] <= 100_000 for k in ("frames", "hop_frames")):
            raise ValueError("frames and hop_frames: integers in 1..100000")
        if d["hop_frames"] > d["frames"]:
            raise ValueError("hop_frames larger than frames")
        segment = d.get("segment_seconds", LEGACY_SEGMENT_SECONDS)
        if not _number(segment, 1, 600):
            raise ValueError("segment_seconds: a number in 1..600")
        return cls(d["frames"], d["hop_frames"], float(segment))

    def segment_samples(self, sample_rate: int) -> int:
        return int(self.segment_seconds * sample_rate)


FORMAT = "pianokit-model"
FORMAT_VERSION = 1
INPUT_NAMES = ("mel", "features")
REQUIRED_KEYS = ("format", "format_version", "architecture", "inputs", "feature_config", "window", "dimensions")
MAX_DEPTH = 12
MAX_DIMENSIONS = 64


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON, computed without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack += [(child, level + 1) for child in children if isinstance(child, dict | list)]
    return deepest


def _text(value: object, limit: int = 100) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _number(value: object, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


@dataclass
class ModelMetadata:
    """What an exported model says about itself. ``from_dict`` checks every field the scorer uses;
    ``to_dict`` is what export writes (into the ONNX file and beside it as JSON)."""

    name: str
    architecture: str
    inputs: list[dict]
    feature_config: FeatureConfig
    window: Window
    dimensions: tuple[str, ...]
    feature_names: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ("ratings",)
    cv_metrics: dict | None = None
    extra: dict = field(default_factory=dict)  # provenance: created, training, normalisation, hparams, ...

    @property
    def input_names(self) -> set[str]:
        return {i["name"] for i in self.inputs}

    def to_dict(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name,
                "architecture": self.architecture, "inputs": self.inputs,
                "feature_config": self.feature_config.to_dict(), "feature_names": list(self.feature_names),
                "window": self.window.to_dict(self.feature_config), "dimensions": list(self.dimensions),
                "outputs": list(self.outputs), **self.extra, "cv_metrics": self.cv_metrics}

    @classmethod
    def from_dict(cls, meta: object, source: object = "model metadata") -> "ModelMetadata":
        """Check format, version, types and bounds of every field the scorer uses, or raise one clear
        InputError. Nothing in it is used before it passes."""
        validate(meta, source)
        known = {"format", "format_version", "name", "architecture", "inputs", "feature_config", "feature_names",
                 "window", "dimensions", "outputs", "cv_metrics"}
        return cls(
            name=meta.get("name") or "model", architecture=meta["architecture"], inputs=meta["inputs"],
            feature_config=FeatureConfig.from_dict(meta["feature_config"]), window=Window.from_dict(meta["window"]),
            dimensions=tuple(meta["dimensions"]), feature_names=tuple(meta.get("feature_names", ())),
            outputs=tuple(meta.get("outputs", ("ratings",))), cv_metrics=meta.get("cv_metrics"),
            extra={k: v for k, v in meta.items() if k not in known},
        )


OUTPUT_NAMES = ("ratings", "members")


def validate(meta: object, source: object) -> dict:
    """``meta`` if it is well-formed model metadata; else one InputError naming what is wrong."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"{source}: not pianokit model metadata")
    if _depth(meta) > MAX_DEPTH:
        raise InputError(f"{source}: model metadata is nested deeper than {MAX_DEPTH} levels")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{source}: model metadata format version {printable(meta.get('format_version'), 20)} is not "
            f"supported (this pianokit reads version {FORMAT_VERSION}); re-export the model"
        )
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise InputError(f"{source}: model metadata lacks {', '.join(missing)}")

    def bad(what: str) -> InputError:
        return InputError(f"{source}: model metadata has {what}")

    for key in ("name", "architecture"):
        if key in meta and not _text(meta[key], 100):
            raise bad(f"a malformed {key} (printable text of 1-100 characters)")
    inputs = meta["inputs"]
    if (not isinstance(inputs, list) or not 1 <= len(inputs) <= len(INPUT_NAMES)
            or not all(isinstance(i, dict) and i.get("name") in INPUT_NAMES for i in inputs)):
        raise bad(f"malformed inputs (1-2 objects named {' or '.join(INPUT_NAMES)})")
    outputs = meta.get("outputs", ["ratings"])
    if not isinstance(outputs, list) or not outputs or outputs[0] != "ratings" or not set(outputs) <= set(OUTPUT_NAMES):
        raise bad(f"malformed outputs (a list starting with 'ratings', of {', '.join(OUTPUT_NAMES)})")
    dims = meta["dimensions"]
    if (not isinstance(dims, list) or not 1 <= len(dims) <= MAX_DIMENSIONS
            or not all(_text(d, 80) for d in dims) or len(set(dims)) != len(dims)):
        raise bad(f"malformed dimensions (1-{MAX_DIMENSIONS} distinct printable names)")
    names = meta.get("feature_names", [])
    if not isinstance(names, list) or not all(_text(n, 80) for n in names):
        raise bad("malformed feature_names")
    try:
        Window.from_dict(meta["window"])
    except ValueError as exc:
        raise bad(f"a malformed window ({exc})") from None
    try:
        FeatureConfig.from_dict(meta["feature_config"])
    except (TypeError, ValueError) as exc:
        raise bad(f"a bad feature_config ({printable(exc, 160)})") from None
    cv = meta.get("cv_metrics")
    if cv is not None and not isinstance(cv, dict):
        raise bad("malformed cv_metrics")
    for key in ("per_dimension", "residual_quantiles"):
        table = (cv or {}).get(key, {})
        if not isinstance(table, dict) or not all(
                isinstance(v, dict) and all(_number(x, -1e6, 1e6) for x in v.values()) for v in table.values()):
            raise bad(f"malformed cv_metrics.{key} (finite numbers)")
    return meta
