"""Keras 3 functional builders, one per architecture, behind one registry: ``build(arch, spec)``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from pianokit.feature_names import BASIC_FEATURES, EXTENDED_FEATURES


@dataclass(frozen=True)
class Architecture:
    """One architecture: what it reads, and where its builder and default hyper-parameters live
    (``pianokit.models.<module>``, imported only when a model is built)."""

    name: str
    uses_mel: bool
    features: tuple[str, ...]
    summary: str
    module: str
    builder: str
    defaults: str = "DEFAULTS"

    def load(self) -> tuple[Callable, dict]:
        module = importlib.import_module(f"pianokit.models.{self.module}")
        return getattr(module, self.builder), dict(getattr(module, self.defaults))


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("mlp", False, BASIC_FEATURES, "single-task MLP on the 10 basic features (--target)",
                     "mlp", "build_mlp", "MLP_DEFAULTS"),
        Architecture("multitask", False, EXTENDED_FEATURES, "shared MLP trunk + 19 heads on the features (--features)",
                     "mlp", "build_multitask", "MULTITASK_DEFAULTS"),
        Architecture("cnn", True, (), "log-mel CNN, 4 conv blocks, mean+std pooling", "cnn", "build"),
        Architecture("transformer", True, (), "mel patches + positions, encoder, attention pooling",
                     "transformer", "build"),
        Architecture("efficientnet", True, (), "EfficientNet-Lite0/B0 on the log-mel image (ImageNet weights; "
                     "frozen=true trains on cached embeddings)", "efficientnet", "build"),
        Architecture("hybrid", True, EXTENDED_FEATURES, "CNN or EfficientNet branch + feature branch (the default model)",
                     "hybrid", "build"),
    )
}


def defaults(arch: str) -> dict:
    """Each builder's hyper-parameters with their defaults (the one place they are set)."""
    return ARCHITECTURES[check_arch(arch)].load()[1]


def check_arch(arch: str) -> str:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return arch


def build(arch: str, spec):
    """Build ``arch`` for ``spec``; ``spec.hparams`` override the defaults."""
    builder, params = ARCHITECTURES[check_arch(arch)].load()
    unknown = set(spec.hparams) - set(params)
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) for {arch}: {', '.join(sorted(unknown))}")
    params.update(spec.hparams)
    return builder(spec, **params)


def needs_fixed_frames(arch: str, hparams: dict) -> bool:
    """EfficientNet inputs have a fixed time length; the other mel models take any length."""
    return arch == "efficientnet" or (arch == "hybrid" and hparams.get("branch") == "efficientnet")


def uses_cached_embeddings(arch: str, hparams: dict) -> bool:
    """A frozen EfficientNet branch: the head trains on embeddings cached in the store."""
    return needs_fixed_frames(arch, hparams) and bool(hparams.get("frozen"))
