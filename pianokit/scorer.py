"""Rate recordings with an exported ONNX model. Imports numpy, librosa/soundfile and onnxruntime only."""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pianokit.audio import equal_segments, read_segments
from pianokit.errors import InputError
from pianokit.features import FEATURE_VERSION, FeatureConfig, extract, log_mel
from pianokit.metadata import ONNX_METADATA_KEY, model_paths, parse_embedded, read_json
from pianokit.recording_checks import RecordingStats
from pianokit.windows import window_starts, windows

def _default_model() -> Path:
    """The shipped model: inside the installed package (a wheel), else beside it (a checkout or an
    editable install), else ./exported_models."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "exported_models" / "default", package.parent / "exported_models" / "default"):
        if candidate.with_suffix(".onnx").is_file():
            return candidate
    return Path("exported_models") / "default"


DEFAULT_MODEL = _default_model()
DEVICES = ("auto", "cpu", "cuda")
SEGMENT_SECONDS = 30.0


@dataclass
class Rating:
    """One recording's ratings (mean over windows, clipped to [0, 1]), the per-window timeline, and
    warnings about what the model cannot vouch for (pianokit.recording_checks)."""

    path: str
    duration_s: float
    ratings: dict[str, float]
    window_starts_s: list[float]
    window_ratings: np.ndarray
    warnings: list[str] = dataclasses.field(default_factory=list)


def _gpu_present() -> bool:
    """An NVIDIA driver is loaded (Linux device node, or nvidia-smi on other systems)."""
    return os.path.exists("/dev/nvidiactl") or shutil.which("nvidia-smi") is not None


def _session(onnx_path: Path, device: str) -> ort.InferenceSession:
    """CUDA first when asked or when it really works, else CPU; CUDA start-up failures stay quiet."""
    ort.set_default_logger_severity(4)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    available = ort.get_available_providers()
    wanted = device == "cuda" or (device == "auto" and _gpu_present())
    if wanted and "CUDAExecutionProvider" in available:
        try:
            session = ort.InferenceSession(str(onnx_path), options,
                                           providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
            if session.get_providers()[0] == "CUDAExecutionProvider":
                return session
        except Exception:  # onnxruntime raises its own types when CUDA libraries are missing
            if device == "cuda":
                raise InputError("--device cuda: the CUDA provider failed to start; use --device cpu") from None
    if device == "cuda":
        raise InputError("--device cuda: CUDA is not available here (needs onnxruntime-gpu, an NVIDIA GPU and its CUDA libraries)")
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


class Scorer:
    """Load NAME.onnx (+ its metadata) once, then rate any number of recordings."""

    def __init__(self, model: str | os.PathLike = DEFAULT_MODEL, device: str = "auto"):
        if device not in DEVICES:
            raise InputError(f"unknown device {device!r}; choose {', '.join(DEVICES)}")
        onnx_path, json_path = model_paths(model)
        if not onnx_path.is_file():
            raise InputError(f"{onnx_path}: model file not found")
        try:
            self.session = _session(onnx_path, device)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{onnx_path}: not an ONNX model ({str(exc).splitlines()[0][:160]})") from None
        embedded = self.session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
        if embedded is not None:
            self.meta = parse_embedded(embedded, onnx_path)
        elif json_path.is_file():
            self.meta = read_json(json_path)
        else:
            raise InputError(f"{onnx_path}: has no pianokit metadata (embedded or {json_path.name}); export it "
                             "with 'pianokit export'")
        try:
            self.config = FeatureConfig.from_dict(self.meta["feature_config"])
        except (TypeError, ValueError) as exc:
            raise InputError(f"{onnx_path}: bad feature_config in metadata ({exc})") from None
        if self.config.version != FEATURE_VERSION:
            raise InputError(f"{onnx_path}: model uses feature code version {self.config.version}, this pianokit "
                             f"computes version {FEATURE_VERSION}; re-extract, retrain and re-export it")
        self._check_inputs(onnx_path)
        self.dimensions = list(self.meta["dimensions"])
        self.frames = self.meta["window"]["frames"]
        self.hop = self.meta["window"]["hop_frames"]
        self.provider = self.session.get_providers()[0]

    def _check_inputs(self, onnx_path: Path) -> None:
        actual = {i.name: i.shape for i in self.session.get_inputs()}
        declared = {i["name"] for i in self.meta["inputs"]}
        if set(actual) != declared or not declared <= {"mel", "features"}:
            raise InputError(f"{onnx_path}: model inputs {sorted(actual)} do not match its metadata {sorted(declared)}")
        if "mel" in actual and actual["mel"][-1] != self.config.n_mels:
            raise InputError(f"{onnx_path}: mel input has {actual['mel'][-1]} bins but metadata says {self.config.n_mels}")
        if "features" in actual:
            names = self.meta.get("feature_names") or []
            if actual["features"][-1] != len(names) or not set(names) <= set(self.config.features):
                raise InputError(f"{onnx_path}: features input does not match the metadata's feature list")
        out = self.session.get_outputs()[0].shape[-1]
        if out != len(self.meta["dimensions"]):
            raise InputError(f"{onnx_path}: model gives {out} outputs but metadata names {len(self.meta['dimensions'])}")

    @property
    def segment_seconds(self) -> float:
        """Longest stretch scored as one piece (PercePiano's segments are 5-90 s, typically 18 s)."""
        return float(self.meta["window"].get("segment_seconds", SEGMENT_SECONDS))

    def segments(self, y: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """(start seconds, audio) of the equal segments a recording is cut into."""
        limit = int(self.segment_seconds * self.config.sample_rate)
        return [(a / self.config.sample_rate, y[a:b]) for a, b in equal_segments(len(y), limit)]

    def inputs_for(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Model inputs for every window of one segment, computed exactly as in training: features
        over the whole segment, log-mel cut into half-overlapping windows."""
        names = {i.name for i in self.session.get_inputs()}
        if "features" in names:
            wanted = tuple(self.meta["feature_names"])
            vector, mel = extract(y, dataclasses.replace(self.config, features=wanted))  # only what the model reads
            features = vector.astype(np.float32)
        else:
            mel = log_mel(y, self.config)
        inputs = {}
        n = 1
        if "mel" in names:
            inputs["mel"] = windows(mel.T, self.frames, self.hop, self.config.mel_floor_db).astype(np.float32)
            n = len(inputs["mel"])
        if "features" in names:
            inputs["features"] = np.repeat(features[None], n, axis=0)
        return inputs

    def score_audio(self, y: np.ndarray, path: str = "<array>") -> Rating:
        """Ratings of a recording already in memory."""
        return self._score_segments(self.segments(y), path)

    def score_file(self, path: str | os.PathLike) -> Rating:
        """Ratings of a file, read one segment at a time (bounded memory for long recordings)."""
        segments = read_segments(path, self.config.sample_rate, self.segment_seconds, self.config.min_duration)
        return self._score_segments(segments, str(path))

    def _score_segments(self, segments, path: str) -> Rating:
        """The mean over all windows of all segments, and the per-window timeline."""
        sr, hop = self.config.sample_rate, self.config.hop_length
        preds, starts, samples = [], [], 0
        checks = RecordingStats()
        for offset, segment in segments:
            checks.add(segment)
            inputs = self.inputs_for(segment)
            preds.append(self.session.run(None, inputs)[0])
            frames = window_starts(1 + len(segment) // hop, self.frames, self.hop) if "mel" in inputs else [0]
            starts += [round(offset + f * hop / sr, 3) for f in frames]
            samples += len(segment)
        per_window = np.concatenate(preds)
        if not np.isfinite(per_window).all():
            raise InputError(f"{path}: the model gave non-finite ratings (NaN or infinity); the model file is broken")
        mean = np.clip(per_window.mean(axis=0), 0.0, 1.0)
        return Rating(path, samples / sr, dict(zip(self.dimensions, mean.tolist())), starts,
                      np.clip(per_window, 0.0, 1.0), checks.warnings())

    def cv_accuracy(self) -> dict[str, dict]:
        """Per-dimension cross-validated R² and r from the metadata (empty when unknown)."""
        cv = self.meta.get("cv_metrics") or {}
        return cv.get("per_dimension", {})


_WORKER_SCORERS: dict[tuple[str, str], Scorer] = {}


def score_in_worker(path: str | os.PathLike, model: str | os.PathLike, device: str) -> Rating:
    """Score one file in a worker process, loading the model once per process."""
    key = (str(model), device)
    if key not in _WORKER_SCORERS:
        _WORKER_SCORERS[key] = Scorer(model, device)
    return _WORKER_SCORERS[key].score_file(path)
