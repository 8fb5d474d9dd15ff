"""The kernel ridge member (`fit --kernel-ridge`): standardised features -> fixed RBF kernel ridge."""

from __future__ import annotations

import keras
import numpy as np

from pianokit.kernel_ridge import KernelRidgeFit
from pianokit.models.common import FEATURE_INPUT, feature_input, feature_scaling
from pianokit.models.layers import KernelRidge
from pianokit.models.spec import ModelSpec


def standardise(spec: ModelSpec, features: np.ndarray) -> np.ndarray:
    """Features as the model's 'feature_scaling' layer makes them (float32, training-fold statistics)."""
    scale, shift = feature_scaling(spec)
    return np.asarray(features, dtype="float32") * scale + shift


def kernel_ridge_member(spec: ModelSpec, fitted: KernelRidgeFit) -> keras.Model:
    """A Keras model of ``fitted``: the features input, standardised in-graph, through KernelRidge."""
    inp, z = feature_input(spec)
    layer = KernelRidge(len(fitted.centres), len(spec.feature_names), len(spec.targets), fitted.gamma,
                        name="kernel_ridge")
    out = layer(z)
    layer.set_weights([fitted.centres.astype("float32"), fitted.coef.astype("float32"),
                       fitted.offset.astype("float32")])
    return keras.Model({FEATURE_INPUT: inp}, out, name="kernel_ridge_member")
