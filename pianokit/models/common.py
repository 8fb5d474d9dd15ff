"""Inputs and heads shared by every builder."""

from __future__ import annotations

import keras
import numpy as np

from pianokit.models.layers import Affine
from pianokit.models.spec import ModelSpec

MEL_INPUT = "mel"
FEATURE_INPUT = "features"
EMBEDDING_INPUT = "embedding"  # a frozen backbone's cached window embedding


def feature_scaling(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) that standardise the features with the training fold's mean and std."""
    std = np.asarray(spec.feature_std or [1.0] * len(spec.feature_names), dtype="float32")
    mean = np.asarray(spec.feature_mean or [0.0] * len(spec.feature_names), dtype="float32")
    return 1.0 / std, -mean / std


def feature_input(spec: ModelSpec):
    """The 'features' input, standardised in-graph (``feature_scaling``)."""
    inp = keras.Input((len(spec.feature_names),), name=FEATURE_INPUT)
    return inp, Affine(*feature_scaling(spec), name="feature_scaling")(inp)


def mel_input(spec: ModelSpec, frames: int | None = None):
    """The 'mel' input, time-major (batch, frames, n_mels) in dB; returned standardised."""
    inp = keras.Input((frames, spec.n_mels), name=MEL_INPUT)
    return inp, Affine(1.0 / spec.mel_std, -spec.mel_mean / spec.mel_std, name="mel_scaling")(inp)


def regression_head(x, spec: ModelSpec, hidden: int, dropout: float):
    """Dense head predicting standardised ratings, un-scaled in-graph to the label range."""
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu", name="head_dense")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    z = keras.layers.Dense(len(spec.targets), name="head_out")(x)
    return Affine(spec.label_std, spec.label_mean, name="ratings")(z)


def conv_blocks(x, filters, n_mels: int, dropout: float = 0.0):
    """(batch, T, n_mels) -> Conv2D blocks (conv, batch norm, ReLU, 2x2 pool) -> (batch, T', F'*C)."""
    x = keras.layers.Reshape((-1, n_mels, 1), name="mel_image")(x)
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
        if dropout:
            x = keras.layers.SpatialDropout2D(dropout, name=f"drop{i}")(x)
    freq = n_mels // 2 ** len(filters)
    return keras.layers.Reshape((-1, freq * filters[-1]), name="frames")(x)
