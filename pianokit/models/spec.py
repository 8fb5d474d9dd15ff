"""ModelSpec: everything a builder needs, including the training-fold statistics baked into the graph."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from pianokit.dimensions import DIMENSIONS


@dataclass
class ModelSpec:
    arch: str
    n_mels: int = 128
    crop_frames: int = 512
    feature_names: tuple[str, ...] = ()
    feature_mean: list[float] = field(default_factory=list)
    feature_std: list[float] = field(default_factory=list)
    mel_mean: float = -60.0
    mel_std: float = 20.0
    targets: tuple[str, ...] = DIMENSIONS
    label_mean: list[float] = field(default_factory=list)
    label_std: list[float] = field(default_factory=list)
    hparams: dict = field(default_factory=dict)
    feature_config: dict = field(default_factory=dict)  # the FeatureConfig the inputs were computed with

    def __post_init__(self):
        if len(self.label_mean) != len(self.targets):
            self.label_mean = [0.5] * len(self.targets)
        if len(self.label_std) != len(self.targets):
            self.label_std = [0.1] * len(self.targets)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["feature_names"], d["targets"] = list(self.feature_names), list(self.targets)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelSpec":
        d = dict(d)
        d["feature_names"], d["targets"] = tuple(d.get("feature_names", ())), tuple(d.get("targets", DIMENSIONS))
        return cls(**d)

    def with_statistics(self, features: np.ndarray | None, mels: list[np.ndarray] | None,
                        labels: np.ndarray) -> "ModelSpec":
        """Copy with normalisation statistics from training-fold data only."""
        updates = {"label_mean": labels.mean(axis=0).tolist(),
                   "label_std": np.maximum(labels.std(axis=0), 1e-3).tolist()}
        if features is not None and len(self.feature_names):
            updates["feature_mean"] = features.mean(axis=0).tolist()
            updates["feature_std"] = np.maximum(features.std(axis=0), 1e-6).tolist()
        if mels:
            sample = np.concatenate([m[:: max(1, len(m) // 64)] for m in mels]).astype(np.float64)
            updates["mel_mean"], updates["mel_std"] = float(sample.mean()), float(max(sample.std(), 1e-3))
        return dataclasses.replace(self, **updates)
