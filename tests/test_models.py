import numpy as np
import pytest

keras = pytest.importorskip("keras")

from pianokit.feature_names import BASIC_FEATURES, EXTENDED_FEATURES  # noqa: E402
from pianokit.models import ARCHITECTURES, build, defaults  # noqa: E402
from pianokit.models.spec import ModelSpec  # noqa: E402
from pianokit.losses import masked_mse  # noqa: E402

N_MELS, FRAMES = 32, 64


def small_spec(arch, **hparams):
    a = ARCHITECTURES[arch]
    targets = ("timing_stable_unstable",) if arch == "mlp" else ModelSpec(arch).targets
    if arch in ("cnn", "hybrid"):
        hparams.setdefault("filters", (8, 8))
    if arch == "efficientnet":
        hparams.setdefault("weights", None)
    return ModelSpec(arch, n_mels=N_MELS, crop_frames=FRAMES, feature_names=a.features, targets=targets,
                     hparams=hparams)


def random_inputs(arch, n=4):
    rng = np.random.default_rng(0)
    a, inputs = ARCHITECTURES[arch], {}
    if a.uses_mel:
        inputs["mel"] = (rng.standard_normal((n, FRAMES, N_MELS)) * 15 - 60).astype("float32")
    if a.features:
        inputs["features"] = rng.standard_normal((n, len(a.features))).astype("float32")
    return inputs


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_builder_builds_trains_and_predicts(arch):
    spec = small_spec(arch)
    model = build(arch, spec)
    inputs = random_inputs(arch)
    labels = np.random.default_rng(1).uniform(0.2, 0.8, (4, len(spec.targets))).astype("float32")
    model.compile(optimizer="adam", loss=masked_mse)
    before = [w.copy() for w in model.get_weights()]
    model.fit(inputs, labels, epochs=2, batch_size=2, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
    out = model.predict(inputs, verbose=0)
    assert out.shape == (4, 1 if arch == "mlp" else 19)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize("arch", ["cnn", "transformer", "hybrid"])
def test_variable_length_models_take_any_length(arch):
    model = build(arch, small_spec(arch))
    for frames in (40, 96):
        inputs = random_inputs(arch)
        inputs["mel"] = np.full((2, frames, N_MELS), -50, "float32")
        if "features" in inputs:
            inputs["features"] = inputs["features"][:2]
        assert model.predict(inputs, verbose=0).shape == (2, 19)


def test_feature_sets():
    assert ARCHITECTURES["mlp"].features == BASIC_FEATURES
    assert ARCHITECTURES["hybrid"].features == EXTENDED_FEATURES
    assert not ARCHITECTURES["cnn"].features


def test_feature_lists_resolve_sets_names_and_patterns():
    from pianokit.feature_names import ALL_FEATURES, TRANSCRIPTION_FEATURES, resolve_features

    assert resolve_features("extended") == EXTENDED_FEATURES
    assert resolve_features("all,-extended") == TRANSCRIPTION_FEATURES
    no_means = resolve_features("all,-mfcc*_mean")
    assert len(no_means) == len(ALL_FEATURES) - 13 and "mfcc0_std" in no_means and "mfcc0_mean" not in no_means
    assert resolve_features("rms_mean, tempo") == ("tempo", "rms_mean")  # ALL_FEATURES order
    for bad in ("loudness", "tempo,-tempo", ""):
        with pytest.raises(ValueError):
            resolve_features(bad)


def test_label_statistics_are_baked_in():
    spec = small_spec("multitask").with_statistics(
        np.zeros((10, len(EXTENDED_FEATURES))), None, np.full((10, 19), 0.7) + np.linspace(0, 0.01, 10)[:, None]
    )
    model = build("multitask", spec)
    for layer in model.layers:
        if layer.name.startswith("out_") or layer.name.startswith("head_"):
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    out = model.predict({"features": np.zeros((1, len(EXTENDED_FEATURES)), "float32")}, verbose=0)
    np.testing.assert_allclose(out, 0.705, atol=1e-4)


def test_multitask_heads_are_independent_and_start_as_dense_pairs_would():
    """Each target has its own head: changing head k's weights changes rating k only. The heads start
    from the draws one Dense(16, relu) -> Dense(1) pair per target, built in target order, would get."""
    spec = small_spec("multitask")
    keras.utils.set_random_seed(5)
    model = build("multitask", spec)
    hidden, out = model.get_layer("head_hidden"), model.get_layer("head_out")
    keras.utils.set_random_seed(5)
    for units in (128, 64):  # the trunk's layers draw their seeds first
        keras.layers.Dense(units)
        keras.layers.Dropout(0.3)
    for k in range(len(spec.targets)):
        dense_out, dense_hidden = keras.layers.Dense(1), keras.layers.Dense(16, activation="relu")
        dense_out.build((None, 16))
        dense_hidden.build((None, 64))
        np.testing.assert_array_equal(hidden.kernel.numpy()[k], dense_hidden.kernel.numpy())
        np.testing.assert_array_equal(out.kernel.numpy()[k], dense_out.kernel.numpy()[:, 0])
    x = random_inputs("multitask")
    before = model.predict(x, verbose=0)
    kernel = hidden.kernel.numpy()
    kernel[7] *= -1
    hidden.kernel.assign(kernel)
    changed = np.abs(model.predict(x, verbose=0) - before).max(axis=0) > 1e-6
    assert changed.tolist() == [k == 7 for k in range(len(spec.targets))]


def test_unknown_hyperparameter_is_refused():
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        build("cnn", small_spec("cnn", nonsense=3))
    assert defaults("cnn")["filters"] == (16, 32, 64, 64)


def test_efficientnet_loads_a_local_weights_file(tmp_path):
    reference = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                                  input_shape=(N_MELS, FRAMES, 3), pooling="avg")
    path = tmp_path / "b0.weights.h5"
    reference.save_weights(path)
    model = build("efficientnet", small_spec("efficientnet", weights=str(path), backbone="b0"))
    loaded = model.get_layer("efficientnetb0").get_weights()
    for a, b in zip(reference.get_weights(), loaded):
        np.testing.assert_array_equal(a, b)


def test_efficientnet_bad_weights_path(tmp_path):
    from pianokit.errors import InputError

    with pytest.raises(InputError, match="not found"):
        build("efficientnet", small_spec("efficientnet", weights=str(tmp_path / "none.h5")))
    bad = tmp_path / "bad.weights.h5"
    bad.write_bytes(b"junk")
    with pytest.raises(InputError, match="cannot load"):
        build("efficientnet", small_spec("efficientnet", weights=str(bad)))


@pytest.mark.parametrize("kind, layer, top", [("b0", "efficientnetb0", ("block6", "block7", "top_")),
                                               ("lite0", "efficientnet_lite0",
                                                tuple(f"block{i}_" for i in range(11, 16)) + ("head_",))])
def test_backbone_freeze_then_fine_tune_top_blocks(kind, layer, top):
    from pianokit.models.efficientnet import set_backbone_trainable

    model = build("efficientnet", small_spec("efficientnet", backbone=kind))
    set_backbone_trainable(model, None)
    frozen = len(model.trainable_weights)
    set_backbone_trainable(model, 2)
    net = model.get_layer(layer)
    trainable = {w.path.split("/")[0] for w in net.trainable_weights}
    assert trainable and all(n.startswith(top) for n in trainable)
    assert any(n.startswith(top[-2]) for n in trainable)  # the last stage's blocks are all open
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.trainable for layer in net.layers)
    assert len(model.trainable_weights) > frozen


def test_masked_loss_ignores_nan_targets():
    y_true = np.array([[0.5, np.nan], [0.2, 0.4]], "float32")
    y_pred = np.array([[0.7, 100.0], [0.2, 0.6]], "float32")
    loss = np.asarray(masked_mse(y_true, y_pred))
    np.testing.assert_allclose(loss, [0.04, 0.02], rtol=1e-5)


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_builder_exports_to_onnx_with_equal_output(arch, tmp_path):
    import onnxruntime as ort

    model = build(arch, small_spec(arch))
    inputs = random_inputs(arch, n=3)
    expected = model.predict(inputs, verbose=0)
    from pianokit.export import to_onnx

    path = tmp_path / f"{arch}.onnx"
    to_onnx(model, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert {i.name for i in session.get_inputs()} == set(inputs)
    got = session.run(None, inputs)[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    if arch in ("cnn", "transformer", "hybrid"):  # time stays dynamic in the exported graph
        longer = dict(inputs, mel=np.concatenate([inputs["mel"], inputs["mel"]], axis=1))
        np.testing.assert_allclose(session.run(None, longer)[0], model.predict(longer, verbose=0), atol=1e-4)
