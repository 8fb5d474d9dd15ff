"""Keras 3 functional builders, one per architecture, behind one registry: ``build(arch, spec)``."""

from __future__ import annotations

from dataclasses import dataclass

from pianokit.feature_names import BASIC_FEATURES, EXTENDED_FEATURES


@dataclass(frozen=True)
class Architecture:
    name: str
    uses_mel: bool
    features: tuple[str, ...]
    summary: str


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("mlp", False, BASIC_FEATURES, "single-task MLP on the basic 10 features (--target)"),
        Architecture("multitask", False, EXTENDED_FEATURES, "shared MLP trunk + 19 heads on 79 features"),
        Architecture("cnn", True, (), "log-mel CNN, 4 conv blocks, mean+std pooling"),
        Architecture("transformer", True, (), "mel patches + positions, encoder, attention pooling"),
        Architecture("efficientnet", True, (), "EfficientNetB0 on the log-mel image, frozen then fine-tuned"),
        Architecture("hybrid", True, EXTENDED_FEATURES, "CNN (or EfficientNet) branch + feature branch"),
    )
}


def defaults(arch: str) -> dict:
    """Each builder's hyper-parameters with their defaults (the one place they are set)."""
    from pianokit.models import cnn, efficientnet, hybrid, mlp, transformer

    table = {"mlp": mlp.MLP_DEFAULTS, "multitask": mlp.MULTITASK_DEFAULTS, "cnn": cnn.DEFAULTS,
             "transformer": transformer.DEFAULTS, "efficientnet": efficientnet.DEFAULTS, "hybrid": hybrid.DEFAULTS}
    return dict(table[check_arch(arch)])


def check_arch(arch: str) -> str:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return arch


def build(arch: str, spec):
    """Build ``arch`` for ``spec``; ``spec.hparams`` override the defaults."""
    from pianokit.models import cnn, efficientnet, hybrid, mlp, transformer

    builders = {"mlp": mlp.build_mlp, "multitask": mlp.build_multitask, "cnn": cnn.build,
                "transformer": transformer.build, "efficientnet": efficientnet.build, "hybrid": hybrid.build}
    params = defaults(arch)
    unknown = set(spec.hparams) - set(params)
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) for {arch}: {', '.join(sorted(unknown))}")
    params.update(spec.hparams)
    return builders[arch](spec, **params)


def needs_fixed_frames(arch: str, hparams: dict) -> bool:
    """EfficientNet inputs have a fixed time length; the other mel models take any length."""
    return arch == "efficientnet" or (arch == "hybrid" and hparams.get("branch") == "efficientnet")


def uses_cached_embeddings(arch: str, hparams: dict) -> bool:
    """A frozen EfficientNet branch: the head trains on embeddings cached in the store."""
    return needs_fixed_frames(arch, hparams) and bool(hparams.get("frozen"))
