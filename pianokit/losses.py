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


@keras.saving.register_keras_serializable(package="pianokit", name="PassageLoss")
class PassageLoss(keras.losses.Loss):
    """masked_mse plus ``weight`` x the squared error of each rating's deviation from its passage's
    mean in the batch: what tells two performances of the same music apart.

    ``y_true`` carries one extra last column, a number naming the row's passage; a row whose passage
    has no other row in the batch adds nothing to the second term."""

    def __init__(self, weight: float = 1.0, name: str = "passage_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight = float(weight)

    def call(self, y_true, y_pred):
        labels, passage = y_true[:, :-1], y_true[:, -1]
        mask = ops.logical_not(ops.isnan(labels))
        m = ops.cast(mask, y_pred.dtype)
        same = ops.cast(ops.equal(passage[:, None], passage[None, :]), y_pred.dtype)
        count = ops.matmul(same, m)
        mean_true = ops.matmul(same, ops.where(mask, labels, 0.0)) / ops.maximum(count, 1.0)
        mean_pred = ops.matmul(same, y_pred * m) / ops.maximum(count, 1.0)
        paired = mask & (count >= 2.0)
        dev = (ops.where(mask, labels, 0.0) - mean_true) - (y_pred - mean_pred)
        within = ops.sum(ops.where(paired, ops.square(dev), 0.0), axis=-1) / ops.maximum(
            ops.sum(ops.cast(paired, y_pred.dtype), axis=-1), 1.0)
        return masked_mse(labels, y_pred) + self.weight * within

    def get_config(self) -> dict:
        return {**super().get_config(), "weight": self.weight}
