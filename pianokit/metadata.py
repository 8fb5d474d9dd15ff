"""The exported model's metadata: written by export, read and checked by the scorer (no TF here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pianokit.errors import InputError
from pianokit.safety import printable

FORMAT = "pianokit-model"
FORMAT_VERSION = 1
ONNX_METADATA_KEY = "pianokit"
REQUIRED_KEYS = ("format", "format_version", "architecture", "inputs", "feature_config", "window", "dimensions")


def model_paths(name: str | os.PathLike) -> tuple[Path, Path]:
    """(NAME.onnx, NAME.json) for NAME given with or without a suffix."""
    path = Path(name)
    base = path.with_suffix("") if path.suffix in (".onnx", ".json") else path
    return base.with_name(base.name + ".onnx"), base.with_name(base.name + ".json")


MAX_METADATA_BYTES = 2_000_000
MAX_DEPTH = 12
MAX_DIMENSIONS = 64
INPUT_NAMES = ("mel", "features")


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


def validate(meta: object, source: str | os.PathLike) -> dict:
    """Check format, version, types and bounds of every field the scorer uses; return the metadata or
    raise one clear InputError. Nothing in it is used before it passes."""
    from pianokit.features import FeatureConfig

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
    dims = meta["dimensions"]
    if (not isinstance(dims, list) or not 1 <= len(dims) <= MAX_DIMENSIONS
            or not all(_text(d, 80) for d in dims) or len(set(dims)) != len(dims)):
        raise bad(f"malformed dimensions (1-{MAX_DIMENSIONS} distinct printable names)")
    names = meta.get("feature_names", [])
    if not isinstance(names, list) or not all(_text(n, 80) for n in names):
        raise bad("malformed feature_names")
    window = meta["window"]
    if not isinstance(window, dict) or not all(isinstance(window.get(k), int) and not isinstance(window[k], bool)
                                               and 1 <= window[k] <= 100_000 for k in ("frames", "hop_frames")):
        raise bad("a malformed window (frames and hop_frames: integers in 1..100000)")
    if window["hop_frames"] > window["frames"]:
        raise bad("a malformed window (hop_frames larger than frames)")
    if "segment_seconds" in window and not _number(window["segment_seconds"], 1, 600):
        raise bad("a malformed window (segment_seconds: a number in 1..600)")
    try:
        FeatureConfig.from_dict(meta["feature_config"])
    except (TypeError, ValueError) as exc:
        raise bad(f"a bad feature_config ({printable(exc, 160)})") from None
    cv = meta.get("cv_metrics")
    if cv is not None and not isinstance(cv, dict):
        raise bad("malformed cv_metrics")
    per_dim = (cv or {}).get("per_dimension", {})
    if not isinstance(per_dim, dict) or not all(
            isinstance(v, dict) and all(_number(x, -1e6, 1e6) for x in v.values()) for v in per_dim.values()):
        raise bad("malformed cv_metrics.per_dimension (finite numbers)")
    return meta


def _loads(text: str, source: str | os.PathLike, what: str) -> dict:
    if len(text) > MAX_METADATA_BYTES:
        raise InputError(f"{source}: {what} is larger than {MAX_METADATA_BYTES // 1_000_000} MB")
    try:
        return validate(json.loads(text), source)
    except (UnicodeDecodeError, RecursionError, TypeError, ValueError):
        raise InputError(f"{source}: {what} is not valid JSON") from None


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read model metadata ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: model metadata is not valid JSON") from None
    return _loads(text, path, "model metadata")


def parse_embedded(text: str, source: str | os.PathLike) -> dict:
    return _loads(text, source, "embedded model metadata")
