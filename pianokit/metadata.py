"""Reading an exported model's metadata (its JSON file or the copy embedded in the ONNX file) into
the typed ``contract.ModelMetadata``; bounded and checked, one clear error for anything else."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pianokit.contract import ModelMetadata, validate
from pianokit.errors import InputError, os_reason

__all__ = ["ONNX_METADATA_KEY", "missing_model", "model_paths", "parse_embedded", "read_json", "validate"]

ONNX_METADATA_KEY = "pianokit"
MAX_METADATA_BYTES = 2_000_000


def model_paths(name: str | os.PathLike) -> tuple[Path, Path]:
    """(NAME.onnx, NAME.json) for NAME given with or without a suffix."""
    path = Path(name)
    base = path.with_suffix("") if path.suffix in (".onnx", ".json") else path
    return base.with_name(base.name + ".onnx"), base.with_name(base.name + ".json")


def missing_model(name: str | os.PathLike) -> InputError:
    """The error for a model NAME whose NAME.onnx is not a file: not found, or what was given instead
    (a folder, with the models it holds; another kind of file)."""
    path, onnx_path = Path(name), model_paths(name)[0]
    hint = "give the model file (NAME.onnx, made by 'pianokit export')"
    if path.is_dir():
        held = sorted(p.name for p in path.glob("*.onnx"))
        inside = f"; it holds {', '.join(held[:3])}{' ...' if len(held) > 3 else ''}" if held else ""
        return InputError(f"{path}: is a folder, not a model; {hint}{inside}")
    if path.exists() and path.suffix not in (".onnx", ".json"):
        return InputError(f"{path}: not a pianokit model; {hint}")
    return InputError(f"{onnx_path}: model file not found")


def _loads(text: str, source: str | os.PathLike, what: str) -> ModelMetadata:
    if len(text) > MAX_METADATA_BYTES:
        raise InputError(f"{source}: {what} is larger than {MAX_METADATA_BYTES // 1_000_000} MB")
    try:
        parsed = json.loads(text)
    except (UnicodeDecodeError, RecursionError, TypeError, ValueError):
        raise InputError(f"{source}: {what} is not valid JSON") from None
    return ModelMetadata.from_dict(parsed, source)


def read_json(path: str | os.PathLike) -> ModelMetadata:
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_METADATA_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read model metadata ({os_reason(exc)})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: model metadata is not valid JSON") from None
    return _loads(text, path, "model metadata")


def parse_embedded(text: str, source: str | os.PathLike) -> ModelMetadata:
    return _loads(text, source, "embedded model metadata")
