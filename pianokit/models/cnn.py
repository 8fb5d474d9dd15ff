"""Log-mel CNN: conv blocks, then mean+std pooling over time, then a dense head."""

from __future__ import annotations

import keras

from pianokit.models.common import MEL_INPUT, conv_blocks, mel_input, regression_head
from pianokit.models.layers import MeanStdPooling
from pianokit.models.spec import ModelSpec

DEFAULTS = {"filters": (16, 32, 64, 64), "frame_units": 128, "hidden": 64, "dropout": 0.3}


def cnn_branch(x, spec: ModelSpec, filters, frame_units):
    x = conv_blocks(x, list(filters), spec.n_mels)
    x = keras.layers.Dense(frame_units, activation="relu", name="frame_dense")(x)
    return MeanStdPooling(name="time_pooling")(x)


def build(spec: ModelSpec, filters=(16, 32, 64, 64), frame_units=128, hidden=64, dropout=0.3) -> keras.Model:
    inp, x = mel_input(spec)
    x = cnn_branch(x, spec, filters, frame_units)
    return keras.Model({MEL_INPUT: inp}, regression_head(x, spec, hidden, dropout), name="cnn")
