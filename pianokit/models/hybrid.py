"""Spectrogram branch fused with the extended hand-crafted features.

Branches: cnn (conv blocks), stats (per-mel-bin mean and std over time, a dense layer) or
efficientnet (EfficientNet-Lite0 or B0 on the mel image, pianokit.models.efficientnet); with
frozen=true the EfficientNet branch reads cached embeddings (pianokit.embeddings) through a dense layer.
"""

from __future__ import annotations

import keras

from pianokit.models import efficientnet
from pianokit.models.cnn import cnn_branch
from pianokit.models.layers import MeanStdPooling
from pianokit.models.common import EMBEDDING_INPUT, FEATURE_INPUT, MEL_INPUT, feature_input, mel_input, regression_head
from pianokit.models.spec import ModelSpec

DEFAULTS = {"branch": "cnn", "filters": (16, 32, 64, 64), "frame_units": 128, "feature_units": 64,
            "hidden": 64, "dropout": 0.3, "weights": None, "backbone": "lite0", "frozen": False}


def build(spec: ModelSpec, branch="cnn", filters=(16, 32, 64, 64), frame_units=128, feature_units=64,
          hidden=64, dropout=0.3, weights=None, backbone="lite0", frozen=False) -> keras.Model:
    if frozen and branch != "efficientnet":
        raise ValueError("frozen=true needs branch=efficientnet (a pretrained backbone to freeze)")
    if frozen:
        mel_in = efficientnet.embedding_input(backbone)
        audio = keras.layers.Dense(frame_units, activation="relu", name="embedding_dense")(mel_in)
        audio = keras.layers.Dropout(dropout, name="embedding_dropout")(audio)
    elif branch == "efficientnet":
        mel_in = keras.Input((spec.crop_frames, spec.n_mels), name=MEL_INPUT)
        audio = efficientnet.image_branch(mel_in, spec, weights, kind=backbone)
    elif branch == "cnn":
        mel_in, x = mel_input(spec)
        audio = cnn_branch(x, spec, filters, frame_units)
    elif branch == "stats":
        mel_in, x = mel_input(spec)
        audio = keras.layers.Dense(frame_units, activation="relu", name="stats_dense")(
            MeanStdPooling(name="mel_statistics")(x))
        audio = keras.layers.Dropout(dropout, name="stats_dropout")(audio)
    else:
        raise ValueError(f"unknown hybrid branch {branch!r} (cnn, stats or efficientnet)")
    feat_in, f = feature_input(spec)
    f = keras.layers.Dense(feature_units, activation="relu", name="feature_dense")(f)
    f = keras.layers.Dropout(dropout, name="feature_dropout")(f)
    x = keras.layers.Concatenate(name="fusion")([audio, f])
    audio_name = EMBEDDING_INPUT if frozen else MEL_INPUT
    return keras.Model({audio_name: mel_in, FEATURE_INPUT: feat_in}, regression_head(x, spec, hidden, dropout),
                       name="hybrid_head" if frozen else "hybrid")
