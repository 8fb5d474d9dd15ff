"""Training losses, registered with Keras so saved models load back."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pianokit", name="masked_mse")
def masked_mse(y_true, y_pred):
    """Mean squared error over the targets that are not NaN (time-stretched tempo labels are NaN)."""
    mask = ops.logical_not(ops.isnan(y_true))
    err = ops.where(mask, ops.square(y_pred - ops.where(mask, y_true, 0.0)), 0.0)
    return ops.sum(err, axis=-1) / ops.maximum(ops.sum(ops.cast(mask, y_pred.dtype), axis=-1), 1.0)
