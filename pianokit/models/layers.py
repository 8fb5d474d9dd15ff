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


@keras.saving.register_keras_serializable(package="pianokit")
class KernelRidge(keras.layers.Layer):
    """RBF kernel ridge on standardised features with fixed centres and coefficients
    (pianokit.kernel_ridge): exp(-gamma |x - c|^2) @ coef + offset. Its constants are
    non-trainable weights, so they are saved with the model and folded into the ONNX graph."""

    def __init__(self, centres: int, features: int, targets: int, gamma: float, **kwargs):
        super().__init__(**kwargs)
        self.shape_values = (int(centres), int(features), int(targets))
        self.gamma = float(gamma)
        self.trainable = False

    def build(self, input_shape):
        m, d, t = self.shape_values
        self.centres = self.add_weight(shape=(m, d), initializer="zeros", trainable=False, name="centres")
        self.coef = self.add_weight(shape=(m, t), initializer="zeros", trainable=False, name="coef")
        self.offset = self.add_weight(shape=(t,), initializer="zeros", trainable=False, name="offset")

    def call(self, x):
        d2 = (ops.sum(ops.square(x), axis=-1, keepdims=True) - 2 * ops.matmul(x, ops.transpose(self.centres))
              + ops.sum(ops.square(self.centres), axis=-1)[None, :])
        return ops.matmul(ops.exp(-self.gamma * ops.maximum(d2, 0.0)), self.coef) + self.offset

    def get_config(self):
        m, d, t = self.shape_values
        return {**super().get_config(), "centres": m, "features": d, "targets": t, "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="pianokit")
class Projection(keras.layers.Layer):
    """clip(x * scale + shift, +-clip) @ kernel + bias with fixed constants (the kernel ridge's
    principal components of an embedding, pianokit.kernel_ridge.EmbeddingProjection), kept as
    non-trainable weights."""

    def __init__(self, inputs: int, outputs: int, clip: float, **kwargs):
        super().__init__(**kwargs)
        self.shape_values = (int(inputs), int(outputs))
        self.clip = float(clip)
        self.trainable = False

    def build(self, input_shape):
        d, k = self.shape_values
        self.scale = self.add_weight(shape=(d,), initializer="ones", trainable=False, name="scale")
        self.shift = self.add_weight(shape=(d,), initializer="zeros", trainable=False, name="shift")
        self.kernel = self.add_weight(shape=(d, k), initializer="zeros", trainable=False, name="kernel")
        self.bias = self.add_weight(shape=(k,), initializer="zeros", trainable=False, name="bias")

    def call(self, x):
        return ops.matmul(ops.clip(x * self.scale + self.shift, -self.clip, self.clip), self.kernel) + self.bias

    def get_config(self):
        d, k = self.shape_values
        return {**super().get_config(), "inputs": d, "outputs": k, "clip": self.clip}


@keras.saving.register_keras_serializable(package="pianokit")
class WeightedSum(keras.layers.Layer):
    """A fixed weighted sum of same-shaped inputs (the blend of an ensemble and a kernel ridge)."""

    def __init__(self, weights_values, **kwargs):
        super().__init__(**kwargs)
        self.weights_values = [float(w) for w in weights_values]

    def call(self, inputs):
        return sum(w * x for w, x in zip(self.weights_values, inputs))

    def get_config(self):
        return {**super().get_config(), "weights_values": self.weights_values}
