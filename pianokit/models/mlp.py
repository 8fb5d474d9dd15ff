"""Feature-only models: the seed's single-task MLP and the multi-task MLP with one head per dimension."""

from __future__ import annotations

import keras

from pianokit.models.common import FEATURE_INPUT, feature_input
from pianokit.models.layers import Affine
from pianokit.models.spec import ModelSpec

MLP_DEFAULTS = {"units": (32, 16), "dropout": 0.1}
MULTITASK_DEFAULTS = {"trunk": (128, 64), "head_units": 16, "dropout": 0.3}


def build_mlp(spec: ModelSpec, units=(32, 16), dropout=0.1) -> keras.Model:
    inp, x = feature_input(spec)
    for i, u in enumerate(units):
        x = keras.layers.Dense(u, activation="relu", name=f"dense{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dropout{i}")(x)
    z = keras.layers.Dense(len(spec.targets), name="head_out")(x)
    return keras.Model({FEATURE_INPUT: inp}, Affine(spec.label_std, spec.label_mean, name="ratings")(z), name="mlp")


def build_multitask(spec: ModelSpec, trunk=(128, 64), head_units=16, dropout=0.3) -> keras.Model:
    inp, x = feature_input(spec)
    for i, u in enumerate(trunk):
        x = keras.layers.Dense(u, activation="relu", name=f"trunk{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"trunk_dropout{i}")(x)
    heads = [
        keras.layers.Dense(1, name=f"out_{name}")(keras.layers.Dense(head_units, activation="relu", name=f"head_{name}")(x))
        for name in spec.targets
    ]
    z = keras.layers.Concatenate(name="heads")(heads)
    return keras.Model({FEATURE_INPUT: inp}, Affine(spec.label_std, spec.label_mean, name="ratings")(z), name="multitask")
