"""Rate recordings with an exported ONNX model. Imports numpy, librosa/soundfile and onnxruntime only."""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pianokit import condition_checks, cuda, transcribe
from pianokit.audio import equal_segments, read_segments, trim_ends
from pianokit.contract import ModelMetadata, check_computable
from pianokit.errors import InputError
from pianokit.features import extract, log_mel
from pianokit.inference import recording_ratings, segment_inputs, window_offsets
from pianokit.metadata import ONNX_METADATA_KEY, missing_model, model_paths, parse_embedded, read_json
from pianokit.parallel import onnx_session_options
from pianokit.recording_checks import RecordingStats


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


@dataclass
class Rating:
    """One recording's ratings (mean over windows, clipped to [0, 1]), the per-window timeline
    (start and end of every window), the ensemble members' unclipped ratings when the model has several
    (members x dimensions), and warnings about what the model cannot vouch for."""

    path: str
    duration_s: float
    ratings: dict[str, float]
    window_starts_s: list[float]
    window_ratings: np.ndarray
    warnings: list[str] = dataclasses.field(default_factory=list)
    window_ends_s: list[float] = dataclasses.field(default_factory=list)
    member_ratings: np.ndarray | None = None

    def spread(self) -> dict[str, float] | None:
        """Per dimension, the standard deviation of the ensemble members' ratings (None for one model)."""
        if self.member_ratings is None or len(self.member_ratings) < 2:
            return None
        return dict(zip(self.ratings, np.std(self.member_ratings, axis=0, ddof=1).tolist()))


def _gpu_present() -> bool:
    """An NVIDIA driver is loaded (Linux device node, or nvidia-smi on other systems)."""
    return os.path.exists("/dev/nvidiactl") or shutil.which("nvidia-smi") is not None


def _session(onnx_path: Path, device: str) -> ort.InferenceSession:
    """CUDA first when asked or when it really works, else CPU; CUDA start-up failures stay quiet."""
    ort.set_default_logger_severity(4)
    options = onnx_session_options()
    if device == "cuda" or (device == "auto" and _gpu_present()):
        try:
            session = cuda.session(onnx_path, options)
            if session is not None:
                return session
        except Exception:  # onnxruntime raises its own types when CUDA libraries are missing
            if device == "cuda":
                raise InputError("--device cuda: the CUDA provider failed to start; use --device cpu") from None
    if device == "cuda":
        raise InputError(cuda.UNAVAILABLE)
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


class Scorer:
    """Load NAME.onnx (+ its metadata) once, then rate any number of recordings."""

    def __init__(self, model: str | os.PathLike = DEFAULT_MODEL, device: str = "auto"):
        if device not in DEVICES:
            raise InputError(f"unknown device {device!r}; choose {', '.join(DEVICES)}")
        onnx_path, json_path = model_paths(model)
        if not onnx_path.is_file():
            raise missing_model(model)
        try:
            self.session = _session(onnx_path, device)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{onnx_path}: not an ONNX model ({str(exc).splitlines()[0][:160]})") from None
        embedded = self.session.get_modelmeta().custom_metadata_map.get(ONNX_METADATA_KEY)
        if embedded is not None:
            self.metadata: ModelMetadata = parse_embedded(embedded, onnx_path)
        elif json_path.is_file():
            self.metadata = read_json(json_path)
        else:
            raise InputError(f"{onnx_path}: has no pianokit metadata (embedded or {json_path.name}); export it "
                             "with 'pianokit export'")
        self.config = self.metadata.feature_config
        check_computable(self.config.version, f"{onnx_path}: model uses", "re-extract, retrain and re-export it")
        self._check_inputs(onnx_path)
        self.dimensions = list(self.metadata.dimensions)
        self.window = self.metadata.window
        self.condition_checks = self._condition_checks(onnx_path)
        self.provider = self.session.get_providers()[0]

    @property
    def on_gpu(self) -> bool:
        """The model runs on CUDA (and so does the transcription front-end, in this process)."""
        return self.provider == cuda.PROVIDER

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The model's outputs for a batch of windows (on CUDA in runs of one fixed size: pianokit.cuda)."""
        return cuda.run_fixed(self.session, inputs) if self.on_gpu else self.session.run(None, inputs)

    def _check_inputs(self, onnx_path: Path) -> None:
        meta = self.metadata
        actual = {i.name: i.shape for i in self.session.get_inputs()}
        if set(actual) != meta.input_names:
            raise InputError(f"{onnx_path}: model inputs {sorted(actual)} do not match its metadata {sorted(meta.input_names)}")
        if "mel" in actual and actual["mel"][-1] != self.config.n_mels:
            raise InputError(f"{onnx_path}: mel input has {actual['mel'][-1]} bins but metadata says {self.config.n_mels}")
        if "features" in actual:
            names = meta.feature_names
            if actual["features"][-1] != len(names) or not set(names) <= set(self.config.features):
                raise InputError(f"{onnx_path}: features input does not match the metadata's feature list")
        outputs = self.session.get_outputs()
        if len(outputs) != len(meta.outputs):
            raise InputError(f"{onnx_path}: model has {len(outputs)} output(s) but its metadata names "
                             f"{len(meta.outputs)} ({', '.join(meta.outputs)})")
        for output in outputs:
            if output.shape[-1] != len(meta.dimensions):
                raise InputError(f"{onnx_path}: model gives {output.shape[-1]} ratings but metadata names "
                                 f"{len(meta.dimensions)} dimensions")

    def _condition_checks(self, onnx_path: Path) -> dict[str, tuple[dict, list[int]]]:
        """The metadata's condition checks (pianokit.condition_checks), each with where its features
        sit in the model's feature input; {} when the model has none."""
        checks = self.metadata.extra.get("condition_checks")
        if not checks:
            return {}
        names = list(self.metadata.feature_names)
        if "features" not in self.metadata.input_names or not condition_checks.valid(checks, names):
            raise InputError(f"{onnx_path}: the metadata's condition checks are malformed or read features the "
                             "model does not; export the model again")
        return {name: (check, [names.index(f) for f in check["features"]]) for name, check in checks.items()}

    @property
    def segment_seconds(self) -> float:
        """Longest stretch whose features are computed in one piece (contract.SEGMENT_SECONDS when exported)."""
        return self.window.segment_seconds

    def segments(self, y: np.ndarray) -> list[tuple[float, np.ndarray]]:
        """(start seconds, audio) of the equal segments a recording is cut into."""
        limit = int(self.segment_seconds * self.config.sample_rate)
        return [(a / self.config.sample_rate, y[a:b]) for a, b in equal_segments(len(y), limit)]

    def inputs_for(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Model inputs for every window of one segment (pianokit.inference, as in training evaluation):
        features over the whole segment, log-mel cut into the model's windows (both from audio prepared
        as in training: pianokit.features.prepare). The transcription front-end runs where the model does."""
        return self._inputs_and_features(y)[0]

    def _inputs_and_features(self, y: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """``inputs_for``'s inputs and the segment's feature vector (None for a spectrogram-only model)."""
        names = self.metadata.input_names
        transcribe.run_on_cuda(self.on_gpu)
        features = None
        if "features" in names:
            wanted = self.metadata.feature_names
            features, mel = extract(y, dataclasses.replace(self.config, features=wanted))  # only what the model reads
        elif "mel" in names:
            mel = log_mel(y, self.config)
        return segment_inputs(self.window, self.config.mel_floor_db, mel=mel.T if "mel" in names else None,
                              features=features), features

    def score_audio(self, y: np.ndarray, path: str = "<array>") -> Rating:
        """Ratings of a recording already in memory (at the model's sample rate), read as
        ``score_file`` reads a file: without its DC offset and the long silence at its ends
        (pianokit.audio.trim_ends)."""
        y = np.asarray(y, dtype=np.float32)
        y, first = trim_ends(y - np.float32(y.mean(dtype=np.float64)), self.config.sample_rate)
        offset = first / self.config.sample_rate
        return self._score_segments([(offset + start, part) for start, part in self.segments(y)], path)

    def score_file(self, path: str | os.PathLike) -> Rating:
        """Ratings of a file, read one segment at a time (bounded memory for long recordings)."""
        notes: list[str] = []
        segments = read_segments(path, self.config.sample_rate, self.segment_seconds, self.config.min_duration, notes)
        return self._score_segments(segments, str(path), notes)

    def _score_segments(self, segments, path: str, notes: list[str] | None = None) -> Rating:
        """The mean over all windows of all segments, the per-window timeline and, for an ensemble,
        every member's mean; ``notes`` (filled while ``segments`` is read) lead the warnings."""
        sr, hop = self.config.sample_rate, self.config.hop_length
        window_s = self.window.frames * hop / sr
        outputs, starts, samples = [], [], 0
        checks = RecordingStats()
        under = dict.fromkeys(self.condition_checks, 0.0)
        windowed = "mel" in self.metadata.input_names
        for offset, segment in segments:
            checks.add(segment, sr)
            inputs, features = self._inputs_and_features(segment)
            outputs.append(self.run(inputs))
            for name, (check, index) in self.condition_checks.items():
                under[name] += len(segment) * float(condition_checks.probability(check, features[index])[0])
            frames = window_offsets(1 + len(segment) // hop, self.window) if windowed else [0]
            starts += [round(offset + f * hop / sr, 3) for f in frames]
            samples += len(segment)
        per_window = np.concatenate([o[0] for o in outputs])
        members = np.concatenate([o[1] for o in outputs]) if len(self.metadata.outputs) > 1 else None
        if not np.isfinite(per_window).all() or (members is not None and not np.isfinite(members).all()):
            raise InputError(f"{path}: the model gave non-finite ratings (NaN or infinity); the model file is broken")
        duration = samples / sr
        mean = recording_ratings(per_window, np.zeros(len(per_window), dtype=int), 1)[0]
        ends = [round(min(s + window_s, duration), 3) if windowed else round(duration, 3) for s in starts]
        member_means = None if members is None else members.mean(axis=0)
        warnings = (notes or []) + checks.warnings()
        if checks.sounds_like_piano():
            warnings += self._condition_warnings(under, samples, checks.narrow_band())
        return Rating(path, duration, dict(zip(self.dimensions, mean.tolist())), starts,
                      np.clip(per_window, 0.0, 1.0), warnings, ends, member_means)

    def _condition_warnings(self, under: dict[str, float], samples: int, narrow_band: bool) -> list[str]:
        """The condition checks' warnings from their length-weighted probability sums (a phone that
        the narrow-band check already named is not named twice). They are asked only of a recording
        that sounds like a piano to pianokit.recording_checks, long enough to judge: the checks learnt
        rooms and phones from piano recordings, and a steady tone reads to them as a long room."""
        out = []
        for name, total in under.items():
            if samples and not (name == "phone" and narrow_band):
                found = condition_checks.warning(name, total / samples, self.condition_checks[name][0])
                out += [found] if found else []
        return out

    def cv_accuracy(self) -> dict[str, dict]:
        """Per-dimension cross-validated R² and r from the metadata (empty when unknown)."""
        return (self.metadata.cv_metrics or {}).get("per_dimension", {})


_WORKER_SCORERS: dict[tuple[str, str], Scorer] = {}


def score_in_worker(path: str | os.PathLike, model: str | os.PathLike, device: str) -> Rating:
    """Score one file in a worker process, loading the model once per process."""
    key = (str(model), device)
    if key not in _WORKER_SCORERS:
        _WORKER_SCORERS[key] = Scorer(model, device)
    return _WORKER_SCORERS[key].score_file(path)
