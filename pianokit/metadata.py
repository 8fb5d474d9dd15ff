"""The exported model's metadata: written by export, read and checked by the scorer (no TF here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pianokit.errors import InputError

FORMAT = "pianokit-model"
FORMAT_VERSION = 1
ONNX_METADATA_KEY = "pianokit"
REQUIRED_KEYS = ("format", "format_version", "architecture", "inputs", "feature_config", "window", "dimensions")


def model_paths(name: str | os.PathLike) -> tuple[Path, Path]:
    """(NAME.onnx, NAME.json) for NAME given with or without a suffix."""
    path = Path(name)
    base = path.with_suffix("") if path.suffix in (".onnx", ".json") else path
    return base.with_name(base.name + ".onnx"), base.with_name(base.name + ".json")


def validate(meta: object, source: str | os.PathLike) -> dict:
    """Check the format and version; return the metadata or raise one clear InputError."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputError(f"{source}: not pianokit model metadata")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{source}: model metadata format version {meta.get('format_version')!r} is not supported "
            f"(this pianokit reads version {FORMAT_VERSION}); re-export the model"
        )
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise InputError(f"{source}: model metadata lacks {', '.join(missing)}")
    if not isinstance(meta["inputs"], list) or not all(isinstance(i, dict) and "name" in i for i in meta["inputs"]):
        raise InputError(f"{source}: model metadata has malformed inputs")
    if not isinstance(meta["dimensions"], list) or not meta["dimensions"]:
        raise InputError(f"{source}: model metadata has no dimensions")
    window = meta["window"]
    if not isinstance(window, dict) or not all(isinstance(window.get(k), int) and window[k] > 0
                                               for k in ("frames", "hop_frames")):
        raise InputError(f"{source}: model metadata has a malformed window")
    return meta


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        return validate(json.loads(path.read_text()), path)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{path}: model metadata is not valid JSON") from None


def parse_embedded(text: str, source: str | os.PathLike) -> dict:
    try:
        return validate(json.loads(text), source)
    except (json.JSONDecodeError, TypeError):
        raise InputError(f"{source}: embedded model metadata is not valid JSON") from None
