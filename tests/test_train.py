import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner  # noqa: E402

from pianokit.cli import cli  # noqa: E402


def fit(*args):
    return CliRunner().invoke(cli, ["fit", *map(str, args), "--no-progress"])


def metrics(run):
    return json.loads((run / "metrics.json").read_text())


def test_multitask_learns_a_planted_key_strike_heard_as_brightness(planted_store, tmp_path):
    out = tmp_path / "run"
    result = fit("--arch", "multitask", "--store", planted_store, "--out", out, "--epochs", 150, "--patience", 30,
                 "--seed", 1, "--lr", 3e-3)
    assert result.exit_code == 0, result.output
    loud = metrics(out)["model"]["per_dimension"]["timbre_soft_loud"]
    baselines = metrics(out)["baselines"]
    base = baselines["train_mean"]["per_dimension"]["timbre_soft_loud"]
    assert loud["r"] > 0.7 and loud["r2"] > base["r2"] + 0.15
    assert set(baselines) == {"train_mean", "player_mean", "passage_mean", "ridge", "symbolic"}
    # the strike is planted in the audio (brightness) and in the MIDI velocity: ridge and the symbolic reference find it
    for name in ("ridge", "symbolic"):
        assert baselines[name]["per_dimension"]["timbre_soft_loud"]["r"] > 0.7, name
    # players are drawn at random here, so knowing the player does not help
    assert baselines["player_mean"]["per_dimension"]["timbre_soft_loud"]["r2"] < 0.2
    within = metrics(out)["model"]["within_passage"]["per_dimension"]["timbre_soft_loud"]
    assert within["r"] > 0.7
    for k in range(4):
        for name in ("model.keras", "spec.json", "history.csv", "metrics.json", "predictions.csv"):
            assert (out / f"fold{k}" / name).is_file()
    table = pd.read_csv(out / "metrics.csv")
    assert set(table["fold"].astype(str)) == {"0", "1", "2", "3", "mean"}
    assert {"r2", "r", "mae", "within_r2", "within_r", "train_mean_r2", "player_mean_within_r2",
            "ridge_r2", "symbolic_within_r2"} <= set(table.columns)
    preds = pd.concat(pd.read_csv(out / f"fold{k}" / "predictions.csv") for k in range(4))
    assert sorted(preds["segment_id"]) == sorted(pd.read_csv(planted_store / "manifest.csv")["segment_id"])
    config = json.loads((out / "config.json").read_text())
    assert config["arch"] == "multitask" and config["command"].startswith("pianokit")
    assert "MEAN (4 folds, passage)" in result.output and "wp R2" in result.output
    assert (planted_store / "symbolic.csv").is_file()


def test_mlp_single_target_learns_loudness(planted_store, tmp_path):
    out = tmp_path / "mlp"
    result = fit("--arch", "mlp", "--target", "timbre_soft_loud", "--store", planted_store, "--out", out,
                 "--epochs", 200, "--patience", 40, "--lr", 1e-2)
    assert result.exit_code == 0, result.output
    m = metrics(out)
    assert list(m["model"]["per_dimension"]) == ["timbre_soft_loud"]
    # r is the mean over 4 folds of 12 tones each (chance: about 0 +- 0.15); seeds 0-4 give 0.52-0.71, the
    # onset features of single decaying tones being noise that the 36 training tones must learn to ignore
    assert m["model"]["mean"]["r"] > 0.5 and m["model"]["mean"]["r2"] > m["baselines"]["train_mean"]["mean"]["r2"] + 0.15


def test_same_seed_same_metrics(planted_store, tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        assert fit("--arch", "mlp", "--store", planted_store, "--out", run, "--epochs", 5, "--seed", 3,
                   "--folds", 2).exit_code == 0
    a, b = (metrics(r)["model"]["per_dimension"] for r in runs)
    for dim in a:
        for key in ("r2", "r", "mae"):
            assert a[dim][key] == pytest.approx(b[dim][key], abs=1e-6)


def test_cnn_with_augmentation_and_final_model(planted_store, tmp_path):
    out = tmp_path / "cnn"
    result = fit("--arch", "cnn", "--store", planted_store, "--out", out, "--epochs", 2, "--folds", 1,
                 "--augment", "pitch,stretch", "--crop-seconds", 1, "--param", "filters=[8,8]", "--final")
    assert result.exit_code == 0, result.output
    assert (out / "fold0" / "model.keras").is_file() and (out / "final" / "model.keras").is_file()
    spec = json.loads((out / "fold0" / "spec.json").read_text())
    assert spec["hparams"] == {"filters": [8, 8]} and spec["crop_frames"] == 44
    config = json.loads((out / "config.json").read_text())
    assert config["augment"] == ["pitch", "stretch"]


def test_ensemble_averages_its_members(planted_store, tmp_path):
    import keras

    import pianokit.models.layers  # noqa: F401

    out = tmp_path / "ens"
    result = fit("--arch", "multitask", "--store", planted_store, "--out", out, "--epochs", 3, "--folds", 1,
                 "--ensemble", 2)
    assert result.exit_code == 0, result.output
    model = keras.saving.load_model(out / "fold0" / "model.keras", compile=False)
    x = {"features": np.random.default_rng(0).standard_normal((5, 79)).astype("float32")}
    members = [model.get_layer(f"member{i}").predict(x, verbose=0) for i in range(2)]
    assert not np.allclose(members[0], members[1])
    np.testing.assert_allclose(model.predict(x, verbose=0), np.mean(members, axis=0), rtol=1e-5, atol=1e-6)
    assert set(pd.read_csv(out / "fold0" / "history.csv")["member"]) == {0, 1}


def test_kernel_ridge_blend_is_the_weighted_mean_of_the_ensemble_and_the_kernel_ridge(planted_store, tmp_path):
    import keras

    import pianokit.models.layers  # noqa: F401
    from pianokit import kernel_ridge
    from pianokit.export import export_model
    from pianokit.models.spec import ModelSpec

    out = tmp_path / "blend"
    result = fit("--arch", "multitask", "--store", planted_store, "--out", out, "--epochs", 3, "--folds", 1,
                 "--ensemble", 2, "--kernel-ridge")
    assert result.exit_code == 0, result.output
    chosen = metrics(out / "fold0")["kernel_ridge"]
    assert chosen["alpha"] in kernel_ridge.ALPHAS and chosen["width"] in kernel_ridge.WIDTHS
    assert chosen["weight"] > 0  # three epochs leave the network far behind the closed-form fit
    model = keras.saving.load_model(out / "fold0" / "model.keras", compile=False)
    table = pd.read_csv(planted_store / "features.csv").set_index("id")
    spec = ModelSpec.from_dict(json.loads((out / "fold0" / "spec.json").read_text()))
    x = {"features": table[list(spec.feature_names)].to_numpy("float32")[:6]}
    members = np.mean([model.get_layer(f"member{i}").predict(x, verbose=0) for i in range(2)], axis=0)
    kernel = model.get_layer("kernel_ridge_member").predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), (1 - chosen["weight"]) * members + chosen["weight"] * kernel,
                               atol=1e-5)
    assert np.abs(kernel - members).max() > 1e-3  # two different models were blended
    meta = export_model(out, tmp_path / "blend_model")
    assert meta["training"]["kernel_ridge"] is True and meta["kernel_ridge"] == chosen
    assert meta["outputs"] == ["ratings", "members"] and meta["parity_max_abs_diff"] <= 1e-4


def test_final_model_takes_the_median_of_the_folds_kernel_ridge_shares(planted_store, tmp_path):
    import keras

    import pianokit.models.layers  # noqa: F401

    out = tmp_path / "final_blend"
    result = fit("--arch", "multitask", "--store", planted_store, "--out", out, "--epochs", 3, "--folds", 3,
                 "--kernel-ridge", "--final")
    assert result.exit_code == 0, result.output
    shares = [metrics(out / f"fold{k}")["kernel_ridge"]["weight"] for k in range(3)]
    final = json.loads((out / "final" / "info.json").read_text())["kernel_ridge"]
    assert final["weight"] == float(np.median(shares)) and final["fold_weights"] == shares
    assert f"final model: kernel ridge share {final['weight']:g} (the median of the folds'" in result.output
    model = keras.saving.load_model(out / "final" / "model.keras", compile=False)
    assert model.get_layer("ratings_blend").weights_values == [1 - final["weight"], final["weight"]]


def test_kernel_ridge_needs_feature_inputs(planted_store, tmp_path):
    result = fit("--arch", "cnn", "--kernel-ridge", "--store", planted_store, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "--kernel-ridge reads the hand-made features" in result.output
    assert not (tmp_path / "x").exists()


def test_performer_split(planted_store, tmp_path):
    out = tmp_path / "perf"
    result = fit("--arch", "multitask", "--store", planted_store, "--out", out, "--split", "performer",
                 "--folds", 2, "--epochs", 3)
    assert result.exit_code == 0, result.output
    preds = pd.read_csv(out / "fold1" / "predictions.csv")
    groups = pd.read_csv(planted_store / "manifest.csv").set_index("segment_id")["performer_group"]
    assert set(groups[preds["segment_id"]]) == {1, 2}


def test_rerun_resumes_and_refuses_other_settings(planted_store, tmp_path):
    out = tmp_path / "resume"
    args = ("--arch", "mlp", "--store", planted_store, "--out", out, "--epochs", 3, "--folds", 2)
    assert fit(*args).exit_code == 0
    stamp = (out / "fold0" / "model.keras").stat().st_mtime_ns
    (out / "fold1" / "metrics.json").unlink()  # as if interrupted during fold 1
    assert fit(*args).exit_code == 0
    assert (out / "fold0" / "model.keras").stat().st_mtime_ns == stamp
    assert (out / "fold1" / "metrics.json").is_file()
    other = fit("--arch", "mlp", "--store", planted_store, "--out", out, "--epochs", 4, "--folds", 2)
    assert other.exit_code == 2 and "other settings" in other.output


def test_compare_runs(planted_store, tmp_path):
    for arch in ("mlp", "multitask"):
        assert fit("--arch", arch, "--store", planted_store, "--out", tmp_path / arch, "--epochs", 2,
                   "--folds", 1).exit_code == 0
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "mlp"), str(tmp_path / "multitask"),
                                      "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert list(table.columns) == ["dimension", "mlp", "multitask"]
    assert {"MEAN", "within-passage MEAN", "player_mean MEAN", "symbolic within-passage MEAN"} <= set(table["dimension"])
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(cli, ["compare", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "no metrics.json" in bad.output
    assert fit("--arch", "mlp", "--store", planted_store, "--out", tmp_path / "two", "--epochs", 2,
               "--folds", 2).exit_code == 0
    mixed = CliRunner().invoke(cli, ["compare", str(tmp_path / "mlp"), str(tmp_path / "two"), "--out",
                                     str(tmp_path / "cmp2")])
    assert mixed.exit_code == 2 and "not evaluated the same way" in mixed.output and "folds 1" in mixed.output
    assert not (tmp_path / "cmp2").exists()
    allowed = CliRunner().invoke(cli, ["compare", str(tmp_path / "mlp"), str(tmp_path / "two"), "--out",
                                       str(tmp_path / "cmp2"), "--allow-mixed"])
    assert allowed.exit_code == 0, allowed.output
    assert "two *" in (tmp_path / "cmp2" / "comparison.md").read_text()


def test_passage_loss_is_mse_plus_the_error_of_within_passage_deviations():
    from pianokit.losses import PassageLoss, masked_mse

    rng = np.random.default_rng(0)
    y, p = rng.random((7, 3)).astype("float32"), rng.random((7, 3)).astype("float32")
    y[1, 2] = np.nan  # a masked (time-stretched tempo) label
    passage = np.array([0, 0, 1, 1, 1, 2, 2], dtype="float32")
    expected = []
    for i in range(7):
        within = []
        for d in range(3):
            rows = [j for j in range(7) if passage[j] == passage[i] and not np.isnan(y[j, d])]
            if not np.isnan(y[i, d]) and len(rows) >= 2:
                within.append(((y[i, d] - y[rows, d].mean()) - (p[i, d] - p[rows, d].mean())) ** 2)
        expected.append(np.nanmean((p[i] - y[i]) ** 2) + 2.0 * (np.mean(within) if within else 0.0))
    got = PassageLoss(2.0)(np.concatenate([y, passage[:, None]], axis=1), p)
    assert float(got) == pytest.approx(np.mean(expected), rel=1e-5)
    # predictions off by a constant within each passage lose nothing on the second term
    shifted = np.nan_to_num(y, nan=0.5) + passage[:, None] * 0.1
    plain = masked_mse(y, shifted)
    assert float(PassageLoss(5.0)(np.concatenate([y, passage[:, None]], axis=1), shifted)) == \
        pytest.approx(float(np.mean(plain)))


def test_consistency_term_is_the_spread_of_one_sources_ratings():
    from pianokit.losses import PassageLoss, masked_mse

    rng = np.random.default_rng(1)
    source = np.array([0, 0, 0, 1, 1, 2], dtype="float32")
    y = rng.random((3, 4)).astype("float32")[source.astype(int)]  # recordings of one source share labels
    p = rng.random((6, 4)).astype("float32")
    spread = [np.mean((p[i] - p[source == source[i]].mean(axis=0)) ** 2) if (source == source[i]).sum() > 1 else 0.0
              for i in range(6)]
    mse = np.asarray(masked_mse(y, p))
    got = PassageLoss(0.0, consistency=3.0)(np.concatenate([y, source[:, None]], axis=1), p)
    assert float(got) == pytest.approx(np.mean(mse + 3.0 * np.array(spread)), rel=1e-5)
    passage = np.array([0, 0, 0, 0, 0, 1], dtype="float32")
    both = PassageLoss(2.0, consistency=3.0)(np.concatenate([y, passage[:, None], source[:, None]], axis=1), p)
    alone = PassageLoss(2.0)(np.concatenate([y, passage[:, None]], axis=1), p)
    assert float(both) == pytest.approx(float(alone) + 3.0 * np.mean(spread), rel=1e-5)
    config = PassageLoss(2.0, consistency=3.0).get_config()
    assert PassageLoss.from_config(config).consistency == 3.0


def test_grouped_order_is_a_permutation_in_runs_of_one_source():
    from pianokit.batching import grouped_order

    groups = np.repeat(np.array(["a", "b", "c", "d"]), [6, 3, 1, 5])
    rng = np.random.default_rng(0)
    orders = [grouped_order(groups, 4, rng) for _ in range(2)]
    for order in orders:
        assert sorted(order) == list(range(len(groups)))
        runs = np.split(order, np.flatnonzero(groups[order][1:] != groups[order][:-1]) + 1)
        assert sum(len(r) >= 2 for r in runs) >= 3  # every source with 2+ rows sits together
    assert not np.array_equal(*orders)  # a fresh order each epoch


@pytest.fixture(scope="module")
def two_room_store(planted_store, tmp_path_factory):
    """The planted tones recorded twice: as they are, and with hiss at a random 5-25 dB SNR; one
    combined manifest (source_id links the two recordings; both train and are evaluated)."""
    import soundfile as sf

    from conftest import write_wav
    from pianokit.extract import run_extract
    from pianokit.variants import combine_manifests

    root = tmp_path_factory.mktemp("two_rooms")
    clean = pd.read_csv(planted_store / "manifest.csv")
    noisy = clean.copy()
    rng = np.random.default_rng(3)
    for i, path in enumerate(clean["audio"]):
        y, sr = sf.read(path, dtype="float32")
        hiss = rng.standard_normal(len(y)).astype("float32")
        hiss *= np.sqrt(np.mean(y ** 2) / np.mean(hiss ** 2)) * 10 ** (-rng.uniform(5, 25) / 20)
        noisy.loc[i, "audio"] = str(write_wav(root / "noisy" / Path(path).name, y + hiss, sr))
    clean.to_csv(root / "clean.csv", index=False)
    noisy.to_csv(root / "noisy.csv", index=False)
    table = combine_manifests({"clean": root / "clean.csv", "noisy": root / "noisy.csv"})
    store = root / "store"
    run_extract([(i, Path(a)) for i, a in zip(table["segment_id"], table["audio"])], store, jobs=1, progress=False)
    table.to_csv(store / "manifest.csv", index=False)
    return store


def test_consistency_weight_pulls_one_segments_recordings_together(two_room_store, tmp_path):
    """On held-out passages, the ratings of the clean and the hissy recording of one performance
    differ less when training penalised that difference, and the planted rating is still learnt."""
    spread = {}
    for weight in (0, 10):
        out = tmp_path / f"cw{weight}"
        result = fit("--arch", "multitask", "--store", two_room_store, "--out", out, "--epochs", 150,
                     "--patience", 30, "--seed", 1, "--lr", 3e-3, "--consistency-weight", weight, "--folds", 2)
        assert result.exit_code == 0, result.output
        assert json.loads((out / "config.json").read_text())["consistency_weight"] == weight
        preds = pd.concat(pd.read_csv(f) for f in sorted(out.glob("fold*/predictions.csv")))
        preds["source"] = preds["segment_id"].str.split("@").str[0]
        columns = [c for c in preds.columns if c.startswith("pred_")]
        spread[weight] = preds.groupby("source")[columns].agg(lambda v: v.max() - v.min()).to_numpy().mean()
        assert metrics(out)["model"]["per_dimension"]["timbre_soft_loud"]["r"] > 0.7
    assert spread[10] < 0.7 * spread[0], spread


def test_consistency_groups_join_the_columns_given(two_room_store, tmp_path):
    """source_id,source puts each recording in a group of its own here (one per room), so there is
    nothing to hold alike and the fit is refused before training."""
    result = fit("--arch", "multitask", "--store", two_room_store, "--out", tmp_path / "x", "--consistency-weight", 1,
                 "--consistency-by", "source_id,source")
    assert result.exit_code == 2 and "source_id+source repeats" in result.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("arch, extra", [("multitask", ["--epochs", 150, "--patience", 30, "--lr", 3e-3, "--folds", 2]),
                                         ("cnn", ["--epochs", 1, "--augment", "pitch,stretch", "--crop-seconds", 1,
                                                  "--param", "filters=[8,8]", "--folds", 1])])
def test_passage_weight_trains_and_is_recorded(planted_store, tmp_path, arch, extra):
    out = tmp_path / arch
    result = fit("--arch", arch, "--store", planted_store, "--out", out, "--seed", 1, "--passage-weight", 2, *extra)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["passage_weight"] == 2.0
    if arch == "multitask":
        m = metrics(out)["model"]
        assert m["per_dimension"]["timbre_soft_loud"]["r"] > 0.7
        assert m["within_passage"]["per_dimension"]["timbre_soft_loud"]["r"] > 0.7


@pytest.mark.parametrize(
    "args, message",
    [
        (["--arch", "cnn", "--augment", "wobble"], "unknown augmentation"),
        (["--arch", "multitask", "--augment", "pitch"], "features only"),
        (["--arch", "mlp", "--target", "loudness"], "'loudness' is not one of 'timing_stable_unstable'"),
        (["--arch", "multitask", "--param", "widht=3"], "unknown --param 'widht' for multitask; its parameters:"),
        (["--arch", "multitask", "--passage-weight", "-1"], "--passage-weight"),
        (["--arch", "multitask", "--consistency-weight", "1"], "several recordings of a segment"),
        (["--arch", "multitask", "--consistency-weight", "1", "--consistency-by", "source_id,mic"],
         "no mic column(s), needed by --consistency-by"),
    ],
)
def test_fit_errors(planted_store, tmp_path, args, message):
    result = fit(*args, "--store", planted_store, "--out", tmp_path / "x")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_fit_help_lists_the_target_names():
    from click.testing import CliRunner

    from pianokit.cli import cli

    text = CliRunner().invoke(cli, ["fit", "--help"]).output
    assert "timing_stable_unstable" in text and "interpretation_unsatisfactory_convincing" in text


def test_fit_store_errors(tmp_path, planted_store):
    result = fit("--arch", "mlp", "--store", tmp_path, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "not a feature store" in result.output
    result = fit("--arch", "mlp", "--store", planted_store, "--manifest", tmp_path / "none.csv", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "none.csv" in result.output


@pytest.mark.slow
def test_cnn_learns_planted_loudness(planted_store, tmp_path):
    out = tmp_path / "cnn_slow"
    result = fit("--arch", "cnn", "--store", planted_store, "--out", out, "--epochs", 60, "--patience", 15,
                 "--crop-seconds", 1, "--batch-size", 8, "--param", "filters=[8,16]")
    assert result.exit_code == 0, result.output
    assert metrics(out)["model"]["per_dimension"]["timbre_soft_loud"]["r"] > 0.7


def test_feature_set_choice_is_checked_before_any_work(planted_store, tmp_path):
    result = fit("--arch", "mlp", "--features", "all", "--store", planted_store, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "applies to multitask and hybrid" in result.output
    assert not (tmp_path / "m").exists()


def test_a_feature_list_chooses_what_the_model_hears(planted_store, tmp_path):
    """The planted strike is heard as brightness: a model given the spectral-shape features learns
    it; one given only the timing features cannot. The fold models record the features they use."""
    common = ("--arch", "multitask", "--store", planted_store, "--epochs", 150, "--patience", 30, "--seed", 1,
              "--lr", 3e-3, "--folds", 2)
    bright = fit(*common, "--features", "spectral_centroid_*,spectral_rolloff_*,mfcc*", "--out", tmp_path / "bright")
    timing = fit(*common, "--features", "tempo,pulse_clarity,onset_rate,ioi_*", "--out", tmp_path / "timing")
    assert bright.exit_code == 0 and timing.exit_code == 0, bright.output + timing.output

    def loud_r(run):
        return metrics(run)["model"]["per_dimension"]["timbre_soft_loud"]["r"]
    assert loud_r(tmp_path / "bright") > 0.7 and loud_r(tmp_path / "timing") < 0.5
    spec = json.loads((tmp_path / "timing" / "fold0" / "spec.json").read_text())
    assert spec["feature_names"] == ["tempo", "pulse_clarity", "onset_rate", "ioi_mean", "ioi_std", "ioi_cv"]


@pytest.mark.parametrize("spec, message", [("loudness", "neither a feature set"), ("all,-all", "selects no feature")])
def test_a_bad_feature_list_is_refused_in_one_line(planted_store, tmp_path, spec, message):
    result = fit("--arch", "multitask", "--features", spec, "--store", planted_store, "--out", tmp_path / "r")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_all_features_need_a_store_that_has_them(planted_store, tmp_path):
    import shutil

    from pianokit.extract import run_extract
    from pianokit.feature_names import EXTENDED_FEATURES
    from pianokit.features import FeatureConfig

    manifest = pd.read_csv(planted_store / "manifest.csv").head(12)
    store = tmp_path / "old_store"
    run_extract([(i, __import__("pathlib").Path(a)) for i, a in zip(manifest["segment_id"], manifest["audio"])],
                store, FeatureConfig(features=EXTENDED_FEATURES), progress=False)
    shutil.copy(planted_store / "manifest.csv", store / "manifest.csv")
    result = fit("--arch", "multitask", "--features", "all", "--store", store, "--out", tmp_path / "r")
    assert result.exit_code == 2 and "tr_" in result.output and "new store" in result.output


def test_a_rerun_refreshes_baselines_without_retraining(planted_store, tmp_path):
    out = tmp_path / "again"
    args = ("--arch", "mlp", "--store", planted_store, "--out", out, "--epochs", 2, "--folds", 1)
    assert fit(*args).exit_code == 0
    stamp = (out / "fold0" / "model.keras").stat().st_mtime_ns
    fold = json.loads((out / "fold0" / "metrics.json").read_text())
    fold["baselines"] = {"train_mean": fold["baselines"]["train_mean"]}  # as if made by older code
    (out / "fold0" / "metrics.json").write_text(json.dumps(fold))
    (out / "metrics.json").unlink()
    assert fit(*args).exit_code == 0
    assert (out / "fold0" / "model.keras").stat().st_mtime_ns == stamp
    assert set(metrics(out)["baselines"]) == {"train_mean", "player_mean", "passage_mean", "ridge", "symbolic"}


def test_fit_says_when_manifest_rows_are_not_extracted(planted_store, tmp_path):
    manifest = pd.read_csv(planted_store / "manifest.csv")
    extra = manifest.iloc[:3].copy()
    extra["segment_id"] = [f"new_{i}" for i in range(3)]
    bigger = tmp_path / "manifest.csv"
    pd.concat([manifest, extra]).to_csv(bigger, index=False)
    result = fit("--arch", "mlp", "--store", planted_store, "--manifest", bigger, "--out", tmp_path / "run",
                 "--epochs", 1, "--folds", 1)
    assert result.exit_code == 0, result.output
    assert "warning: 3 labelled segment(s) of the manifest are not in" in result.stderr
    assert metrics(tmp_path / "run")["n"] == len(manifest)


def test_progress_names_the_fold_and_the_member(planted_store, tmp_path):
    from click.testing import CliRunner

    from pianokit.cli import cli

    result = CliRunner().invoke(cli, ["fit", "--arch", "mlp", "--store", str(planted_store), "--out",
                                      str(tmp_path / "run"), "--epochs", "1", "--folds", "2", "--ensemble", "2"])
    assert result.exit_code == 0, result.output
    for label in ("fold 1/2, member 1/2", "fold 1/2, member 2/2", "fold 2/2, member 2/2"):
        assert label in result.stderr
