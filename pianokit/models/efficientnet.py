"""EfficientNetB0 on the log-mel image: dB scaled to 0..255, tiled to 3 channels, fixed-length crop.

``weights`` is "imagenet" (downloaded by Keras), a path to a local weights file for
``EfficientNetB0(include_top=False)``, or None (random initialisation).
"""

from __future__ import annotations

from pathlib import Path

import keras

from pianokit.errors import InputError
from pianokit.models.common import MEL_INPUT, regression_head
from pianokit.models.layers import Affine
from pianokit.models.spec import ModelSpec

DEFAULTS = {"weights": None, "hidden": 0, "dropout": 0.3, "db_floor": -100.0, "db_top": 0.0}
BACKBONE = "efficientnetb0"


def backbone(spec: ModelSpec, weights=None) -> keras.Model:
    """EfficientNetB0 without its top for (n_mels, crop_frames, 3) images, pooled to a vector."""
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise InputError(f"{weights}: backbone weights file not found")
    try:
        net = keras.applications.EfficientNetB0(
            include_top=False, weights=weights, input_shape=(spec.n_mels, spec.crop_frames, 3), pooling="avg"
        )
    except (ValueError, OSError) as exc:
        raise InputError(f"{weights}: cannot load EfficientNetB0 weights ({str(exc).splitlines()[0]})") from None
    net.name = BACKBONE
    return net


def image_branch(inp, spec: ModelSpec, weights=None, db_floor=-100.0, db_top=0.0):
    """(batch, crop_frames, n_mels) dB -> the backbone's pooled features."""
    scale = 255.0 / (db_top - db_floor)
    x = Affine(scale, -db_floor * scale, name="db_to_pixels")(inp)
    x = keras.layers.ReLU(max_value=255.0, name="clip_pixels")(x)
    x = keras.layers.Permute((2, 1), name="freq_major")(x)
    x = keras.layers.Reshape((spec.n_mels, spec.crop_frames, 1), name="mel_image")(x)
    x = keras.layers.Concatenate(axis=-1, name="rgb")([x, x, x])
    return backbone(spec, weights)(x)


def build(spec: ModelSpec, weights=None, hidden=0, dropout=0.3, db_floor=-100.0, db_top=0.0) -> keras.Model:
    inp = keras.Input((spec.crop_frames, spec.n_mels), name=MEL_INPUT)
    x = image_branch(inp, spec, weights, db_floor, db_top)
    return keras.Model({MEL_INPUT: inp}, regression_head(x, spec, hidden, dropout), name="efficientnet")


def set_backbone_trainable(model: keras.Model, top_blocks: int | None) -> None:
    """Freeze the backbone (None), or unfreeze its last ``top_blocks`` of blocks 1-7 plus the top conv.

    Batch-norm layers stay frozen either way, as Keras's transfer-learning guide advises.
    """
    net = model.get_layer(BACKBONE)
    net.trainable = top_blocks is not None
    if top_blocks is None:
        return
    prefixes = tuple(f"block{b}" for b in range(8 - top_blocks, 8)) + ("top_",)
    for layer in net.layers:
        layer.trainable = layer.name.startswith(prefixes) and not isinstance(layer, keras.layers.BatchNormalization)
