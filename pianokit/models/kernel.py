"""The kernel ridge member (`fit --kernel-ridge`): standardised features (and, with
--kernel-components, an embedding's principal components) -> fixed RBF kernel ridge."""

from __future__ import annotations

import keras
import numpy as np

from pianokit.kernel_ridge import CLIP_SD, EmbeddingProjection, KernelRidgeFit
from pianokit.models.common import EMBEDDING_INPUT, FEATURE_INPUT, feature_input, feature_scaling
from pianokit.models.layers import KernelRidge, Projection
from pianokit.models.spec import ModelSpec


def standardise(spec: ModelSpec, features: np.ndarray) -> np.ndarray:
    """Features as the model's 'feature_scaling' layer makes them (float32, training-fold statistics)."""
    scale, shift = feature_scaling(spec)
    return np.asarray(features, dtype="float32") * scale + shift


def kernel_ridge_member(spec: ModelSpec, fitted: KernelRidgeFit,
                        projection: EmbeddingProjection | None = None) -> keras.Model:
    """A Keras model of ``fitted``: the features input, standardised in-graph, beside the
    ``projection`` of the 'embedding' input when given, through KernelRidge."""
    inp, z = feature_input(spec)
    inputs = {FEATURE_INPUT: inp}
    if projection is not None:
        dims, k = projection.kernel.shape
        emb = keras.Input((dims,), name=EMBEDDING_INPUT)
        layer = Projection(dims, k, CLIP_SD, name="embedding_projection")
        projected = layer(emb)
        layer.set_weights([(1.0 / projection.sd).astype("float32"), (-projection.mean / projection.sd).astype("float32"),
                           projection.kernel.astype("float32"), projection.bias.astype("float32")])
        inputs[EMBEDDING_INPUT] = emb
        z = keras.layers.Concatenate(name="kernel_inputs")([z, projected])
    layer = KernelRidge(len(fitted.centres), fitted.centres.shape[1], len(spec.targets), fitted.gamma,
                        name="kernel_ridge")
    out = layer(z)
    layer.set_weights([fitted.centres.astype("float32"), fitted.coef.astype("float32"),
                       fitted.offset.astype("float32")])
    return keras.Model(inputs, out, name="kernel_ridge_member")
