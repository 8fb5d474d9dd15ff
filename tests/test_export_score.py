import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner  # noqa: E402

from conftest import SR, in_room, labelled_manifest, piano_phrase, sine, write_wav  # noqa: E402
from pianokit.cli import cli  # noqa: E402
from pianokit.errors import InputError  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"


MULTITASK_FEATURES = "all,-mfcc*_mean"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def exported(planted_store, tmp_path_factory):
    """A hybrid (CNN + the 79 features) and a two-member multitask ensemble on a feature list (all
    features, the transcription ones included, less the MFCC means), fitted briefly and exported."""
    root = tmp_path_factory.mktemp("export")
    models = {}
    for arch, extra in (("hybrid", ["--param", "filters=[8,8]", "--crop-seconds", 1]),
                        ("multitask", ["--ensemble", 2, "--features", MULTITASK_FEATURES])):
        run = root / arch
        result = invoke("fit", "--arch", arch, "--store", planted_store, "--out", run, "--epochs", 3, "--folds", 1,
                        "--final", "--no-progress", *extra)
        assert result.exit_code == 0, result.output
        result = invoke("export", run, "--out", root / "models" / arch)
        assert result.exit_code == 0, result.output
        models[arch] = (run, root / "models" / arch)
    return models


def keras_predict(run, inputs):
    from pianokit.export import load_keras_model

    return load_keras_model(run / "final" / "model.keras").predict(inputs, verbose=0)


@pytest.mark.parametrize("arch", ["hybrid", "multitask"])
def test_score_equals_keras_predict(exported, tmp_path, arch):
    from pianokit.scorer import Scorer

    run, model = exported[arch]
    wav = write_wav(tmp_path / "a.wav", (sine(330, 3.2) + sine(660, 3.2, amp=0.1)) * np.linspace(1, 0.2, int(3.2 * SR)))
    scorer = Scorer(model, "cpu")
    rating = scorer.score_file(wav)
    inputs = scorer.inputs_for(__import__("pianokit.audio", fromlist=["load_audio"]).load_audio(wav, SR))
    expected = keras_predict(run, inputs)
    np.testing.assert_allclose(np.asarray(rating.window_ratings), np.clip(expected, 0, 1), atol=1e-4)
    np.testing.assert_allclose(list(rating.ratings.values()), np.clip(expected.mean(axis=0), 0, 1), atol=1e-4)
    if arch == "hybrid":
        assert len(rating.window_starts_s) > 1  # 3.2 s in 1 s windows
    else:
        from pianokit.feature_names import resolve_features

        names = resolve_features(MULTITASK_FEATURES)
        assert inputs["features"].shape == (1, len(names)) and "mfcc0_mean" not in names
        assert scorer.metadata.feature_names == names and "tr_note_density" in names


def test_metadata_contract(exported):
    _, model = exported["hybrid"]
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["format"] == "pianokit-model" and meta["format_version"] == 1
    assert meta["architecture"] == "hybrid"
    assert {i["name"] for i in meta["inputs"]} == {"mel", "features"}
    mel = next(i for i in meta["inputs"] if i["name"] == "mel")
    assert mel["shape"][0] is None and mel["shape"][1] is None and mel["shape"][2] == 128  # dynamic batch, time
    assert meta["feature_config"]["sample_rate"] == 22050 and len(meta["dimensions"]) == 19
    assert meta["window"] == {"frames": 44, "hop_frames": 22, "seconds": 1.022, "segment_seconds": 120.0}
    assert meta["outputs"] == ["ratings"]
    assert meta["parity_max_abs_diff"] <= 1e-4
    assert set(meta["cv_metrics"]["per_dimension"]) == set(meta["dimensions"])
    assert meta["training_audio"]["sources"] == {"all": {"rows": 48, "trained_on": True, "evaluated": True}}
    assert "level_dbfs" in meta["feature_config"] and "95th-percentile" in meta["training_audio"]["level"]
    embedded = {p.key: p.value for p in onnx.load(str(model.with_suffix(".onnx"))).metadata_props}
    assert json.loads(embedded["pianokit"]) == meta


def test_scorer_never_imports_tensorflow(exported, tmp_path):
    _, model = exported["hybrid"]
    wav = write_wav(tmp_path / "a.wav", sine(440, 2))
    code = (f"import sys; from pianokit.scorer import Scorer; Scorer({str(model)!r}, 'cpu').score_file({str(wav)!r});"
            "bad=[m for m in ('tensorflow','keras','tf2onnx','pandas','matplotlib') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("worker", [False, True])
def test_onnx_sessions_take_one_thread_in_a_pool_worker(monkeypatch, worker):
    """In a pool or cluster worker (the workers already fill the cores) the scorer's and the
    transcription's onnxruntime sessions use one intra-op thread; elsewhere onnxruntime chooses."""
    from pianokit import transcribe
    from pianokit.parallel import WORKER_ENV
    from pianokit.scorer import DEFAULT_MODEL, Scorer

    monkeypatch.delenv(WORKER_ENV, raising=False)
    if worker:
        monkeypatch.setenv(WORKER_ENV, "1")
    sessions = (Scorer(DEFAULT_MODEL, "cpu").session, transcribe._session.__wrapped__())
    assert [s.get_session_options().intra_op_num_threads for s in sessions] == [1 if worker else 0] * 2


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_scoring_with_the_default_model_needs_no_training_or_plotting_package(fmt):
    """The shipped model reads the transcription features too; `pianokit score` in every output
    format imports none of TensorFlow, Keras, pandas or matplotlib (the scoring install lacks them)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "pianokit", "score", str(EXAMPLE), "--format",
                           fmt], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time")}
    assert not imported & {"tensorflow", "keras", "tf2onnx", "pandas", "matplotlib", "tabulate"}


def test_long_file_is_the_mean_of_its_windows_over_equal_segments(exported):
    from pianokit.features import extract
    from pianokit.scorer import Scorer

    _, model = exported["hybrid"]
    scorer = Scorer(model, "cpu")
    rng = np.random.default_rng(0)
    envelope = np.repeat(rng.uniform(0.05, 1.0, 130), SR)  # loudness changes every second
    y = (sine(440, 130) * envelope + 0.01 * rng.standard_normal(130 * SR)).astype("float32")
    rating = scorer.score_audio(y)
    segments = scorer.segments(y)
    assert [(o, len(s)) for o, s in segments] == [(0.0, 65 * SR), (65.0, 65 * SR)]  # 120 s at most, equal
    frames, hop = scorer.window.frames, scorer.window.hop_frames
    singles = []
    for _, segment in segments:
        vector, mel = extract(segment, scorer.config)
        features = dict(zip(scorer.config.features, vector))
        feats = np.array([[features[n] for n in scorer.metadata.feature_names]], "float32")
        mel = mel.T.astype("float16").astype("float32")  # as the store keeps it
        starts = list(range(0, len(mel) - frames + 1, hop))
        if starts[-1] != len(mel) - frames:
            starts.append(len(mel) - frames)
        singles += [scorer.session.run(None, {"mel": mel[None, s:s + frames], "features": feats})[0][0] for s in starts]
    assert len(singles) == len(rating.window_starts_s)
    assert rating.window_starts_s[0] == 0 and rating.window_starts_s[-1] > 125
    assert rating.window_ends_s[-1] == 130.0 and all(e - s <= 1.03 for s, e in zip(rating.window_starts_s,
                                                                                rating.window_ends_s))
    np.testing.assert_allclose(rating.window_ratings, np.clip(singles, 0, 1), atol=1e-5)
    np.testing.assert_allclose(list(rating.ratings.values()), np.clip(np.mean(singles, axis=0), 0, 1), atol=1e-5)
    assert np.ptp(np.asarray(singles), axis=0).max() > 1e-4  # windows differ: the mean is not of copies


def test_score_cli_formats_and_timeline(exported, tmp_path):
    _, model = exported["hybrid"]
    a = write_wav(tmp_path / "in" / "a.wav", sine(440, 3))
    write_wav(tmp_path / "in" / "b.wav", sine(220, 2))
    table = invoke("score", a, "--model", model, "--device", "cpu")
    assert table.exit_code == 0, table.output
    assert "large dynamic range" in table.output and "1-7" in table.output and "on CPU" in table.output
    js = invoke("score", tmp_path / "in", "--model", model, "--format", "json", "--timeline", tmp_path / "t.csv",
                "--no-progress")
    assert js.exit_code == 0, js.output
    payload = json.loads(js.stdout)
    assert [r["file"].endswith(n) for r, n in zip(payload["recordings"], ("a.wav", "b.wav"))] == [True, True]
    for rec in payload["recordings"]:
        assert all(0 <= v <= 1 for v in rec["ratings"].values())
        assert all(abs(rec["ratings_1_to_7"][d] - 7 * v) < 0.01 for d, v in rec["ratings"].items())
    import pandas as pd

    timeline = pd.read_csv(tmp_path / "t.csv")
    assert set(timeline["file"]) == {str(a), str(tmp_path / "in" / "b.wav")}
    assert len(timeline) == sum(r["windows"] for r in payload["recordings"])
    csv_out = invoke("score", a, "--model", model, "--format", "csv")
    rows = pd.read_csv(__import__("io").StringIO(csv_out.stdout))
    from pianokit.report import CSV_FIELDS

    assert len(rows) == 19 and tuple(rows.columns) == CSV_FIELDS and set(rows["file"]) == {str(a)}
    assert list(rows["dimension"]) == list(payload["recordings"][0]["ratings"])


def assert_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert str(needle) in result.output


def test_score_errors(exported, tmp_path, bad_audio):
    _, model = exported["hybrid"]
    for kind in ("corrupt", "silent", "short", "missing", "empty"):
        assert_exit_2(invoke("score", bad_audio[kind], "--model", model), bad_audio[kind])
    wav = write_wav(tmp_path / "ok.wav", sine())
    assert_exit_2(invoke("score", wav, "--model", tmp_path / "nope"), "model file not found")
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "a.onnx").write_bytes(b"")
    assert_exit_2(invoke("score", wav, "--model", folder), "is a folder, not a model", "it holds a.onnx")
    assert_exit_2(invoke("score", wav, "--model", wav), "ok.wav: not a pianokit model", "pianokit export")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not onnx")
    assert_exit_2(invoke("score", wav, "--model", junk), "not an ONNX model")
    assert_exit_2(invoke("score", wav, "--model", model, "--device", "cuda"), "cuda")


def _copy_without_metadata(model, target):
    proto = onnx.load(str(model.with_suffix(".onnx")))
    del proto.metadata_props[:]
    onnx.save(proto, str(target.with_suffix(".onnx")))
    return target


def test_model_metadata_errors(exported, tmp_path):
    _, model = exported["hybrid"]
    wav = write_wav(tmp_path / "ok.wav", sine())
    bare = _copy_without_metadata(model, tmp_path / "bare")
    assert_exit_2(invoke("score", wav, "--model", bare), "no pianokit metadata")
    meta = json.loads(model.with_suffix(".json").read_text())
    (tmp_path / "bare.json").write_text(json.dumps({**meta, "format_version": 99}))
    assert_exit_2(invoke("score", wav, "--model", bare), "format version 99")
    (tmp_path / "bare.json").write_text(json.dumps({**meta, "inputs": [{"name": "mel", "shape": [None, None, 128]}]}))
    assert_exit_2(invoke("score", wav, "--model", bare), "do not match")
    (tmp_path / "bare.json").write_text("{not json")
    assert_exit_2(invoke("score", wav, "--model", bare), "not valid JSON")
    (tmp_path / "bare.json").write_text(json.dumps({**meta, "window": {"frames": 0}}))
    assert_exit_2(invoke("score", wav, "--model", bare), "malformed window")
    (tmp_path / "bare.json").write_text(json.dumps({**meta, "format": "other"}))
    assert_exit_2(invoke("score", wav, "--model", bare), "not pianokit model metadata")


def test_a_version_5_model_is_scored_over_the_floor_it_was_trained_with(exported, tmp_path):
    """Feature version 5 shaped the noise floor at the recording's own length; a model of that version
    (the shipped default is one) is scored over that same floor, and a version this code cannot
    compute is refused."""
    from pianokit.conditions import noise_floor
    from pianokit.features import normalise_level
    from pianokit.scorer import Scorer

    _, model = exported["multitask"]
    meta = json.loads(model.with_suffix(".json").read_text())
    y = (sine(330, 3.2) + sine(660, 3.2, amp=0.1)) * np.linspace(1, 0.2, int(3.2 * SR)).astype(np.float32)
    plain = Scorer(model, "cpu")
    level = normalise_level(y, plain.config)
    ratings = {}
    for version in (5, 6):
        old = _copy_without_metadata(model, tmp_path / f"v{version}")
        config = {**meta["feature_config"], "version": version, "noise_floor_db": 35.0}
        old.with_suffix(".json").write_text(json.dumps({**meta, "feature_config": config}))
        ratings[version] = Scorer(old, "cpu").score_audio(y).ratings
        by_hand = plain.score_audio(noise_floor(level, SR, 35, exact_length=version == 5)).ratings
        assert max(abs(ratings[version][d] - by_hand[d]) for d in by_hand) < 1e-3
    assert ratings[5] != ratings[6]
    wav = write_wav(tmp_path / "ok.wav", sine())
    old.with_suffix(".json").write_text(json.dumps({**meta, "feature_config": {**config, "version": 4}}))
    assert_exit_2(invoke("score", wav, "--model", old), "feature code version 4", "computes versions 5 and 6")


def test_export_errors(tmp_path, exported):
    assert_exit_2(invoke("export", tmp_path / "nothing", "--out", tmp_path / "m"), "no such run folder")
    (tmp_path / "empty_run").mkdir()
    assert_exit_2(invoke("export", tmp_path / "empty_run", "--out", tmp_path / "m"), "run 'pianokit fit' first")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"junk")
    (tmp_path / "spec.json").write_text("{}")
    assert_exit_2(invoke("export", bad, "--out", tmp_path / "m"))
    assert not list(tmp_path.glob("m.*"))


def test_default_model_ships_and_scores_the_example():
    from pianokit.scorer import DEFAULT_MODEL, Scorer

    example = EXAMPLE
    if not DEFAULT_MODEL.with_suffix(".onnx").is_file():
        pytest.fail("exported_models/default.onnx is not shipped")
    rating = Scorer(DEFAULT_MODEL, "cpu").score_file(example)
    values = np.array(list(rating.ratings.values()))
    assert len(values) == 19 and np.all(np.isfinite(values)) and np.all((values >= 0) & (values <= 1))
    assert 0.1 < values.mean() < 0.9
    with pytest.raises(InputError):
        Scorer(DEFAULT_MODEL, "bogus")


def test_a_model_carries_its_feature_config_outside_its_run(exported, tmp_path):
    """The spec travels with the model: exported from a copy of its folder, away from the run's
    config.json, it still gets the store's FeatureConfig; without it, export refuses to guess."""
    import shutil

    run, _ = exported["multitask"]
    loose = tmp_path / "loose"
    shutil.copytree(run / "final", loose)
    result = invoke("export", loose / "model.keras", "--out", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "warning: the model has no cross-validated metrics" in result.stderr
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["feature_config"] == json.loads((run / "config.json").read_text())["feature_config"]
    spec = json.loads((loose / "spec.json").read_text())
    del spec["feature_config"]
    (loose / "spec.json").write_text(json.dumps(spec))
    result = invoke("export", loose / "model.keras", "--out", tmp_path / "n")
    assert result.exit_code == 2 and "FeatureConfig" in result.output and "run folder" in result.output
    assert not list(tmp_path.glob("n.*"))


def test_export_warns_when_a_model_is_no_better_than_a_baseline():
    from pianokit.cli import baseline_warnings

    cv = {"mean": {"r2": 0.10}, "baselines_mean": {"train_mean": {"mean": {"r2": -0.05}},
                                                   "ridge": {"mean": {"r2": 0.20}}, "symbolic": {"mean": {"r2": 0.4}}}}
    assert baseline_warnings(cv) == ["cross-validated mean R² 0.100 is not above the ridge baseline's 0.200 on the "
                                     "same folds"]
    cv["mean"]["r2"] = 0.25
    assert baseline_warnings(cv) == []
    cv["mean"]["r2"] = -1.1
    assert len(baseline_warnings(cv)) == 2


def test_store_and_cv_predictions_equal_the_scorer_for_long_and_short_files(exported, tmp_path):
    """The parity contract: for a 40 s recording (longer than the old 30 s scoring segment) and a
    3 s one, the feature store holds exactly the inputs the scorer computes (features to float32
    precision, log-mels bit for bit at the store's float16), and the trainer's CV-time predictions
    (Keras, pianokit.inference, clipped to [0, 1] as the scorer clips) equal the scorer's (ONNX) within 1e-4."""
    from conftest import labelled_manifest
    from pianokit.audio import load_audio
    from pianokit.export import load_keras_model
    from pianokit.extract import run_extract
    from pianokit.scorer import Scorer
    from pianokit.store import FeatureStore
    from pianokit.train import FitConfig, Trainer

    run, model = exported["hybrid"]
    scorer = Scorer(model, "cpu")
    rng = np.random.default_rng(3)
    files = []
    for k, seconds in enumerate((40.0, 3.0, 2.0, 2.0, 2.5, 2.0, 3.5, 2.0)):
        n = int(seconds * SR)
        tone = sum(sine(220 * 2 ** (j / 12), seconds, amp=0.1) for j in rng.choice(24, 3, replace=False))
        y = tone * np.repeat(rng.uniform(0.1, 1, int(np.ceil(seconds * 2))), SR // 2)[:n]
        files.append(write_wav(tmp_path / "audio" / f"r{k}.wav", (y + 0.003 * rng.standard_normal(n)).astype("float32")))
    store_dir = tmp_path / "store"
    summary = run_extract([(f.stem, f) for f in files], store_dir, scorer.config, progress=False)
    assert summary.done == len(files) and not summary.failures
    manifest = labelled_manifest(store_dir / "manifest.csv", files)
    store = FeatureStore.open(store_dir)

    for f in files[:2]:
        stored_features = store.features([f.stem], scorer.metadata.feature_names)[0]
        [(_, y)] = scorer.segments(load_audio(f, SR))  # one segment: 40 s is within the model's 120 s
        inputs = scorer.inputs_for(y)
        np.testing.assert_allclose(inputs["features"][0], stored_features, rtol=1e-6, atol=1e-6)
        from pianokit.windows import windows

        stored_windows = windows(store.mel(f.stem).T, scorer.window.frames, scorer.window.hop_frames,
                                 scorer.config.mel_floor_db)
        np.testing.assert_array_equal(inputs["mel"], stored_windows)

    config = json.loads((run / "config.json").read_text())
    trainer = Trainer(FitConfig(arch="hybrid", store=str(store_dir), manifest=str(manifest),
                                crop_seconds=config["crop_seconds"], hparams=config["hparams"]),
                      tmp_path / "unused_run", progress=False)
    cv_time = trainer.predict(load_keras_model(run / "final" / "model.keras"), np.arange(len(files)))
    order = list(trainer.data.ids)
    for f in files:
        rating = scorer.score_file(f)
        np.testing.assert_allclose(list(rating.ratings.values()), cv_time[order.index(f.stem)], atol=1e-4)
    assert len(scorer.score_file(files[0]).window_starts_s) > 30  # 40 s in 1 s windows, half-overlapping


def test_long_training_recording_is_refused_with_a_reason(tmp_path):
    from pianokit.contract import SEGMENT_SECONDS
    from pianokit.extract import run_extract
    from pianokit.features import FeatureConfig

    long = write_wav(tmp_path / "long.wav", sine(440, SEGMENT_SECONDS + 2, amp=0.2))
    short = write_wav(tmp_path / "short.wav", sine(440, 2))
    config = FeatureConfig(features=("tempo", "rms_mean"))
    summary = run_extract([("long", long), ("short", short)], tmp_path / "store", config, progress=False)
    assert summary.done == 1 and [f[0] for f in summary.failures] == ["long"]
    assert "longer than the 120 s" in summary.failures[0][2]


def test_ensemble_reports_every_member(exported, tmp_path):
    from pianokit.scorer import Scorer

    _, model = exported["multitask"]
    scorer = Scorer(model, "cpu")
    assert scorer.metadata.outputs == ("ratings", "members")
    rating = scorer.score_file(write_wav(tmp_path / "a.wav", sine(330, 3) + sine(990, 3, amp=0.05)))
    assert rating.member_ratings.shape == (2, 19)
    np.testing.assert_allclose(list(rating.ratings.values()), np.clip(rating.member_ratings.mean(axis=0), 0, 1),
                               atol=1e-5)
    spread = rating.spread()
    assert set(spread) == set(scorer.dimensions) and max(spread.values()) > 0  # two seeds disagree somewhere


def test_a_noise_floor_is_exported_and_added_before_scoring(exported, tmp_path):
    """export --noise-floor writes the floor into the metadata's FeatureConfig; the scorer then rates a
    recording as the same model without a floor rates that recording with the seeded pink noise added
    by hand to the level-normalised audio."""
    from pianokit.conditions import noise_floor
    from pianokit.features import normalise_level
    from pianokit.scorer import Scorer

    run, plain = exported["multitask"]
    result = invoke("export", run, "--out", tmp_path / "floored", "--noise-floor", 35)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "floored.json").read_text())["feature_config"]["noise_floor_db"] == 35
    assert "noise_floor_db" not in json.loads(plain.with_suffix(".json").read_text())["feature_config"]
    y = (sine(330, 3.2) + sine(660, 3.2, amp=0.1)) * np.linspace(1, 0.2, int(3.2 * SR)).astype(np.float32)
    plain_scorer = Scorer(plain, "cpu")
    floored = Scorer(tmp_path / "floored", "cpu").score_audio(y).ratings
    by_hand = plain_scorer.score_audio(noise_floor(normalise_level(y, plain_scorer.config), SR, 35)).ratings
    without = plain_scorer.score_audio(y).ratings
    gap = {d: abs(floored[d] - by_hand[d]) for d in floored}  # the renormalised noisy audio is 0.002 dB louder
    floor_effect = {d: abs(floored[d] - without[d]) for d in floored}
    assert max(gap.values()) < 1e-3 and max(gap.values()) < 0.1 * max(floor_effect.values())
    assert_exit_2(invoke("export", run, "--out", tmp_path / "bad", "--noise-floor", 5), "10<=x<=80")
    assert not list(tmp_path.glob("bad.*"))


def test_an_exported_model_is_written_again_with_another_noise_floor(exported, tmp_path):
    """export NAME.onnx --noise-floor DB: same graph and metadata but the floor; nothing written for a
    file that is not a pianokit model."""
    from pianokit.scorer import Scorer

    _, plain = exported["hybrid"]
    result = invoke("export", plain.with_suffix(".onnx"), "--out", tmp_path / "floored", "--noise-floor", 40)
    assert result.exit_code == 0, result.output
    before, after = (json.loads(p.with_suffix(".json").read_text()) for p in (plain, tmp_path / "floored"))
    assert after["feature_config"] == {**before["feature_config"], "noise_floor_db": 40}
    assert ({k: v for k, v in after.items() if k != "feature_config"}
            == {k: v for k, v in before.items() if k != "feature_config"})
    assert Scorer(tmp_path / "floored", "cpu").config.noise_floor_db == 40
    result = invoke("export", tmp_path / "floored.onnx", "--out", tmp_path / "again")
    assert result.exit_code == 0 and "noise floor none" in result.output
    assert json.loads((tmp_path / "again.json").read_text())["feature_config"] == before["feature_config"]
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    assert_exit_2(invoke("export", junk, "--out", tmp_path / "j", "--noise-floor", 30), "not an ONNX model")
    assert not list(tmp_path.glob("j.*"))


@pytest.fixture(scope="module")
def condition_store(tmp_path_factory):
    """72 piano-like phrases, a third dry, a third in rooms of 0.8-2 s, a third through a GSM phone,
    extracted as the exported models' training store was, with a manifest whose augmentation recipes
    say which; and three held-out phrases, one of each kind."""
    import json as _json

    from pianokit.conditions import phone
    from pianokit.extract import run_extract

    root = tmp_path_factory.mktemp("conditions")
    rng = np.random.default_rng(11)
    audio, recipes = [], []
    for i in range(75):
        y, recipe = piano_phrase(rng), {"rt60": None, "phone": False}
        if i % 3 == 1:
            recipe["rt60"] = float(rng.uniform(0.8, 2.0))
            y = in_room(y, recipe["rt60"], rng)
        elif i % 3 == 2:
            recipe["phone"], y = True, phone(y, SR)
        audio.append(write_wav(root / "audio" / f"s{i}.wav", y))
        recipes.append(_json.dumps(recipe))
    store = root / "store"
    run_extract([(a.stem, a) for a in audio[:72]], store, jobs=1, progress=False)
    labelled_manifest(store / "manifest.csv", audio[:72], augmentation=recipes[:72],
                      passage=[f"p{i // 6}" for i in range(72)], passage_group=[f"g{i // 18}" for i in range(72)],
                      fold_passage=[(i // 18) % 4 for i in range(72)])
    return store, audio[72:]


def test_condition_checks_are_fitted_into_an_exported_model_and_warn(exported, condition_store, tmp_path):
    """export NAME.onnx --condition-checks STORE: the metadata carries a room and a phone check fitted
    on the store's recordings (nothing else changes); the scorer warns of a reverberant room or a phone
    for a phrase it never heard recorded so, of neither for a dry one or for a sound that is not a
    piano's, and a model without checks never warns of them; the ratings are the same with and
    without checks."""
    from pianokit.scorer import Scorer

    store, (dry, wet, call) = condition_store
    run, plain = exported["multitask"]
    assert json.loads(plain.with_suffix(".json").read_text())["condition_checks"] is None  # its store has no recipes
    result = invoke("export", plain.with_suffix(".onnx"), "--out", tmp_path / "checked", "--condition-checks", store)
    assert result.exit_code == 0 and "room and phone checks fitted on 72 recordings" in result.output, result.output
    before, after = (json.loads(p.with_suffix(".json").read_text()) for p in (plain, tmp_path / "checked"))
    checks = after["condition_checks"]
    assert {name: c["rows_under"] for name, c in checks.items()} == {"room": 24, "phone": 24}
    assert all(c["features"] == before["feature_names"] for c in checks.values())
    assert ({k: v for k, v in after.items() if k != "condition_checks"}
            == {k: v for k, v in before.items() if k != "condition_checks"})
    checked, unchecked = Scorer(tmp_path / "checked", "cpu"), Scorer(plain, "cpu")

    def said(scorer, path):
        return {w.split(":")[0] for w in scorer.score_file(path).warnings} & {"reverberant room", "phone channel"}

    assert said(checked, dry) == set()
    assert said(checked, wet) == {"reverberant room"}
    assert said(checked, call) <= {"phone channel"} and ("phone channel" in said(checked, call) or any(
        w.startswith("narrow band") for w in checked.score_file(call).warnings))
    assert said(unchecked, wet) == said(unchecked, call) == set()
    tone = write_wav(tmp_path / "tone.wav", sine(440, 12))  # a steady tone is no piano in a long room
    assert said(checked, tone) == set() and any("not sound like a piano" in w for w in checked.score_file(tone).warnings)
    assert checked.score_file(wet).ratings == unchecked.score_file(wet).ratings
    result = invoke("score", wet, "--model", tmp_path / "checked")
    assert result.exit_code == 0 and "reverberant room" in result.output, result.output


def test_condition_check_errors(exported, condition_store, planted_store, tmp_path):
    """A store without rooms or phones in its recipes, or extracted with other settings, fits no check
    (one line, nothing written); a run's export refuses --condition-checks; malformed checks in the
    metadata are refused by the scorer."""
    from pianokit.contract import FeatureConfig
    from pianokit.export import _write, rewrite_exported
    from pianokit.extract import run_extract
    from pianokit.scorer import Scorer

    store, (dry, _, _) = condition_store
    run, plain = exported["multitask"]
    assert_exit_2(invoke("export", plain.with_suffix(".onnx"), "--out", tmp_path / "a", "--condition-checks",
                         planted_store), "too few recordings under any checked condition")
    floored = tmp_path / "floored_store"
    run_extract([(dry.stem, dry)], floored, FeatureConfig(noise_floor_db=30.0), jobs=1, progress=False)
    assert_exit_2(invoke("export", plain.with_suffix(".onnx"), "--out", tmp_path / "b", "--condition-checks", floored),
                  "other settings than the model's")
    assert_exit_2(invoke("export", run, "--out", tmp_path / "c", "--condition-checks", store), "for an exported model")
    assert not list(tmp_path.glob("[abc].*"))
    from pianokit.export import _store_condition_checks

    with pytest.raises(InputError, match="reads no features"):
        _store_condition_checks(store, {"feature_config": {}, "feature_names": []})
    meta = rewrite_exported(plain.with_suffix(".onnx"), tmp_path / "good", None, store)
    proto = onnx.load(str(tmp_path / "good.onnx"))
    meta["condition_checks"]["room"]["features"] = ["no_such_feature"]
    _write(proto, meta, tmp_path, tmp_path / "broken.onnx", tmp_path / "broken.json")
    with pytest.raises(InputError, match="condition checks are malformed"):
        Scorer(tmp_path / "broken", "cpu")


def test_a_fold_model_checks_read_only_the_rows_the_fold_trained_on(condition_store):
    """A fold model's checks are fitted on its fold's training and validation rows (whole passage
    groups held out), a final model's on every trainable row."""
    from pianokit.condition_checks import CONDITIONS
    from pianokit.export import condition_rows
    from pianokit.manifest import read_manifest
    from pianokit.training_data import make_folds

    store, _ = condition_store
    names = ["decay_rate", "rms_db_std", "tr_overlap_mean"]
    config = {"split": "passage", "folds": 4, "seed": 0, "val_fraction": 0.15}
    table = read_manifest(store / "manifest.csv")
    for k, fold in enumerate(make_folds(table, "passage")):
        x, recipes = condition_rows(store, None, names, k, config)
        rows = np.concatenate([fold.train, fold.val])
        assert len(x) == len(recipes) == len(rows) == 54 and x.shape[1] == 3
        assert [CONDITIONS["room"].label(r) for r in recipes] == list(rows % 3 == 1)
        assert [CONDITIONS["phone"].label(r) for r in recipes] == list(rows % 3 == 2)
    x, recipes = condition_rows(store, None, names)
    assert len(x) == 72 and sum(CONDITIONS["phone"].label(r) for r in recipes) == 24


def test_condition_checks_alone_keep_the_models_noise_floor(exported, condition_store, tmp_path):
    """export NAME.onnx --condition-checks STORE without --noise-floor keeps the floor the model has
    (the checks are fitted on a store extracted over that floor)."""
    import pandas as pd

    from pianokit.contract import FeatureConfig
    from pianokit.extract import run_extract

    store, _ = condition_store
    _, plain = exported["multitask"]
    assert invoke("export", plain.with_suffix(".onnx"), "--out", tmp_path / "floored", "--noise-floor", 35).exit_code == 0
    audio = [store.parent / "audio" / f"s{i}.wav" for i in range(60)]  # 20 dry, 20 in rooms, 20 phones
    floored_store = tmp_path / "store35"
    run_extract([(a.stem, a) for a in audio], floored_store, FeatureConfig(noise_floor_db=35.0), jobs=1, progress=False)
    table = pd.read_csv(store / "manifest.csv")
    table[table["segment_id"].isin([a.stem for a in audio])].to_csv(floored_store / "manifest.csv", index=False)
    result = invoke("export", tmp_path / "floored.onnx", "--out", tmp_path / "checked", "--condition-checks",
                    floored_store)
    assert result.exit_code == 0, result.output
    assert "noise floor 35 dB, room and phone checks fitted on 60 recordings" in result.output
    assert json.loads((tmp_path / "checked.json").read_text())["feature_config"]["noise_floor_db"] == 35
    assert_exit_2(invoke("export", tmp_path / "floored.onnx", "--out", tmp_path / "x", "--condition-checks", store),
                  "other settings than the model's")
