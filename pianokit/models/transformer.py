"""Mel frames as a sequence: patch embedding, sinusoidal positions, encoder blocks, attention pooling."""

from __future__ import annotations

import keras

from pianokit.models.common import MEL_INPUT, mel_input, regression_head
from pianokit.models.layers import AttentionPooling, SinusoidalPositions
from pianokit.models.spec import ModelSpec

DEFAULTS = {"d_model": 64, "patch": 4, "heads": 4, "blocks": 2, "ff_units": 128, "hidden": 64, "dropout": 0.2}


def build(spec: ModelSpec, d_model=64, patch=4, heads=4, blocks=2, ff_units=128, hidden=64, dropout=0.2) -> keras.Model:
    inp, x = mel_input(spec)
    x = keras.layers.Conv1D(d_model, patch, strides=patch, name="patch_embedding")(x)
    x = SinusoidalPositions(name="positions")(x)
    for i in range(blocks):
        attn = keras.layers.MultiHeadAttention(heads, d_model // heads, dropout=dropout, name=f"attention{i}")(x, x)
        x = keras.layers.LayerNormalization(name=f"norm{i}a")(x + attn)
        ff = keras.layers.Dense(ff_units, activation="relu", name=f"ff{i}a")(x)
        ff = keras.layers.Dense(d_model, name=f"ff{i}b")(keras.layers.Dropout(dropout)(ff))
        x = keras.layers.LayerNormalization(name=f"norm{i}b")(x + ff)
    x = AttentionPooling(name="attention_pooling")(x)
    return keras.Model({MEL_INPUT: inp}, regression_head(x, spec, hidden, dropout), name="transformer")
