"""`fit --strategy`: data-parallel training on several devices with tf.distribute (Keras 3 on the
TensorFlow backend builds and compiles the model inside the strategy's scope; each batch of
``--batch-size`` is split over the replicas and their gradients are summed)."""

from __future__ import annotations

import contextlib

from pianokit.errors import InputError

STRATEGIES = ("none", "mirrored")


def devices() -> list[str]:
    """The GPUs TensorFlow sees, else its (logical) CPU devices."""
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    return gpus or [d.name for d in tf.config.list_logical_devices("CPU")]


def make_strategy(name: str):
    """None for ``none``; a MirroredStrategy over every GPU (or logical CPU device) for ``mirrored``."""
    if name == "none":
        return None
    if name != "mirrored":
        raise InputError(f"unknown --strategy {name!r}; choose {' or '.join(STRATEGIES)}")
    found = devices()
    if len(found) < 2:
        raise InputError(f"--strategy mirrored needs at least 2 devices; TensorFlow sees {len(found)} ({', '.join(found)})")
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=found)


def scope(strategy):
    """The strategy's scope, or nothing."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()
