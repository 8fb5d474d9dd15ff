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


def within_group_error(labels, y_pred, group):
    """Per row, the mean squared error of each rating's deviation from its group's mean in the batch
    (labels' deviation vs prediction's); 0 for a row alone in its group."""
    mask = ops.logical_not(ops.isnan(labels))
    m = ops.cast(mask, y_pred.dtype)
    same = ops.cast(ops.equal(group[:, None], group[None, :]), y_pred.dtype)
    count = ops.matmul(same, m)
    mean_true = ops.matmul(same, ops.where(mask, labels, 0.0)) / ops.maximum(count, 1.0)
    mean_pred = ops.matmul(same, y_pred * m) / ops.maximum(count, 1.0)
    paired = mask & (count >= 2.0)
    dev = (ops.where(mask, labels, 0.0) - mean_true) - (y_pred - mean_pred)
    return ops.sum(ops.where(paired, ops.square(dev), 0.0), axis=-1) / ops.maximum(
        ops.sum(ops.cast(paired, y_pred.dtype), axis=-1), 1.0)


@keras.saving.register_keras_serializable(package="pianokit", name="PassageLoss")
class PassageLoss(keras.losses.Loss):
    """masked_mse plus two within-group terms (pianokit.losses.within_group_error):

    - ``weight`` x the error of each rating's deviation from its *passage's* mean in the batch: what
      tells two performances of the same music apart;
    - ``consistency`` x the same over rows of one *consistency group* (a segment's renders and
      augmented recordings, which share their labels): the spread of the ratings one performance
      gets across recordings, i.e. a penalty on rating shifts caused by the piano, room, noise or codec.

    ``y_true`` carries one extra column per nonzero weight, after the labels: the passage number
    (when ``weight``), then the consistency group number (when ``consistency``)."""

    def __init__(self, weight: float = 1.0, name: str = "passage_loss", consistency: float = 0.0, **kwargs):
        super().__init__(name=name, **kwargs)
        self.weight, self.consistency = float(weight), float(consistency)

    def call(self, y_true, y_pred):
        extra = int(bool(self.weight)) + int(bool(self.consistency))
        labels = y_true[:, :y_true.shape[-1] - extra]
        loss = masked_mse(labels, y_pred)
        column = labels.shape[-1]
        for w in (self.weight, self.consistency):
            if w:
                loss = loss + w * within_group_error(labels, y_pred, y_true[:, column])
                column += 1
        return loss

    def get_config(self) -> dict:
        return {**super().get_config(), "weight": self.weight, "consistency": self.consistency}
