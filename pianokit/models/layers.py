"""Custom Keras layers shared by the builders; registered so saved .keras models load back."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="pianokit")
class SinusoidalPositions(keras.layers.Layer):
    """Add sinusoidal position encodings to a (batch, time, dim) sequence of any length."""

    def call(self, x):
        length, dim = ops.shape(x)[1], x.shape[-1]
        positions = ops.cast(ops.arange(length), "float32")[:, None]
        rates = ops.exp(ops.cast(ops.arange(0, dim, 2), "float32") * (-9.210340371976184 / dim))  # ln(1e4)
        angles = positions * rates[None, :]
        encoding = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, dim))
        return x + ops.cast(encoding[None], x.dtype)


@keras.saving.register_keras_serializable(package="pianokit")
class AttentionPooling(keras.layers.Layer):
    """Weighted mean over time with learned softmax weights: (batch, time, dim) -> (batch, dim)."""

    def build(self, input_shape):
        self.score = keras.layers.Dense(1)
        self.score.build(input_shape)

    def call(self, x):
        weights = ops.softmax(self.score(x), axis=1)
        return ops.sum(weights * x, axis=1)


@keras.saving.register_keras_serializable(package="pianokit")
class MeanStdPooling(keras.layers.Layer):
    """Statistics pooling over time: concatenated mean and std, (batch, time, dim) -> (batch, 2*dim)."""

    def call(self, x):
        mean = ops.mean(x, axis=1)
        std = ops.sqrt(ops.maximum(ops.mean(ops.square(x - mean[:, None]), axis=1), 1e-6))
        return ops.concatenate([mean, std], axis=-1)


@keras.saving.register_keras_serializable(package="pianokit")
class Affine(keras.layers.Layer):
    """y = x * scale + shift with fixed per-channel constants (input scaling, label un-scaling)."""

    def __init__(self, scale, shift, **kwargs):
        super().__init__(**kwargs)
        self.scale_values = np.asarray(scale, dtype="float32").reshape(-1).tolist()
        self.shift_values = np.asarray(shift, dtype="float32").reshape(-1).tolist()

    def call(self, x):
        scale = ops.convert_to_tensor(self.scale_values, dtype=x.dtype)
        shift = ops.convert_to_tensor(self.shift_values, dtype=x.dtype)
        return x * scale + shift

    def get_config(self):
        return {**super().get_config(), "scale": self.scale_values, "shift": self.shift_values}
