"""Spectrogram branch (CNN or EfficientNet) fused with the extended hand-crafted features."""

from __future__ import annotations

import keras

from pianokit.models import efficientnet
from pianokit.models.cnn import cnn_branch
from pianokit.models.common import FEATURE_INPUT, MEL_INPUT, feature_input, mel_input, regression_head
from pianokit.models.spec import ModelSpec

DEFAULTS = {"branch": "cnn", "filters": (16, 32, 64, 64), "frame_units": 128, "feature_units": 64,
            "hidden": 64, "dropout": 0.3, "weights": None}


def build(spec: ModelSpec, branch="cnn", filters=(16, 32, 64, 64), frame_units=128, feature_units=64,
          hidden=64, dropout=0.3, weights=None) -> keras.Model:
    if branch == "efficientnet":
        mel_in = keras.Input((spec.crop_frames, spec.n_mels), name=MEL_INPUT)
        audio = efficientnet.image_branch(mel_in, spec, weights)
    elif branch == "cnn":
        mel_in, x = mel_input(spec)
        audio = cnn_branch(x, spec, filters, frame_units)
    else:
        raise ValueError(f"unknown hybrid branch {branch!r} (cnn or efficientnet)")
    feat_in, f = feature_input(spec)
    f = keras.layers.Dense(feature_units, activation="relu", name="feature_dense")(f)
    f = keras.layers.Dropout(dropout, name="feature_dropout")(f)
    x = keras.layers.Concatenate(name="fusion")([audio, f])
    return keras.Model({MEL_INPUT: mel_in, FEATURE_INPUT: feat_in}, regression_head(x, spec, hidden, dropout), name="hybrid")
