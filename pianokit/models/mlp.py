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
    """A shared trunk, then one small head (``head_units`` ReLU units, one output) per target.

    The heads are two EinsumDense layers holding every head's weights (targets x in x units,
    targets x units): the same model as a Dense pair per target, in a graph several times quicker to
    trace. Each head starts from the Glorot-uniform draw a Dense pair built in that order would get."""
    inp, x = feature_input(spec)
    for i, u in enumerate(trunk):
        x = keras.layers.Dense(u, activation="relu", name=f"trunk{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"trunk_dropout{i}")(x)
    width, n = x.shape[-1], len(spec.targets)
    # (output, hidden) per target: the order in which Dense(1)(Dense(head_units)(x)) drew its seeds
    draws = [(keras.initializers.GlorotUniform(), keras.initializers.GlorotUniform()) for _ in spec.targets]
    hidden = keras.layers.EinsumDense("bi,tiu->btu", output_shape=(n, head_units), bias_axes="tu",
                                      activation="relu", kernel_initializer="zeros", name="head_hidden")
    out = keras.layers.EinsumDense("btu,tu->bt", output_shape=(n,), bias_axes="t", kernel_initializer="zeros",
                                   name="head_out")
    z = out(hidden(x))
    hidden.kernel.assign(keras.ops.stack([h((width, head_units)) for _, h in draws]))
    out.kernel.assign(keras.ops.stack([o((head_units, 1))[:, 0] for o, _ in draws]))
    return keras.Model({FEATURE_INPUT: inp}, Affine(spec.label_std, spec.label_mean, name="ratings")(z), name="multitask")
