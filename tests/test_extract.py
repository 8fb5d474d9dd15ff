import os

import numpy as np
import pandas as pd
import pytest

from conftest import click_track, sine, write_wav
from pianokit.errors import InputError
from pianokit.extract import collect_inputs, run_extract
from pianokit.contract import COMPUTABLE_FEATURE_VERSIONS
from pianokit.features import FeatureConfig
from pianokit.store import FeatureStore


@pytest.fixture
def audio_dir(tmp_path):
    d = tmp_path / "audio"
    write_wav(d / "sine.wav", sine(440, 3))
    write_wav(d / "clicks.wav", click_track(120, 6))
    write_wav(d / "sub" / "low.wav", sine(220, 2))
    return d


def test_extract_folder_into_readable_store(audio_dir, tmp_path):
    store_dir = tmp_path / "store"
    summary = run_extract(collect_inputs([audio_dir]), store_dir, jobs=2, progress=False)
    assert (summary.done, summary.skipped, summary.failures) == (3, 0, [])
    table = pd.read_csv(store_dir / "features.csv")
    assert sorted(table["id"]) == ["clicks", "low", "sine"]
    mel = np.load(store_dir / "mels" / "sine.npy")
    assert mel.shape == (128, FeatureConfig().frames(3.0))
    store = FeatureStore.open(store_dir)
    assert store.config == FeatureConfig()
    f = dict(zip(store.config.features, store.features(["sine"])[0]))
    assert f["spectral_centroid_mean"] == pytest.approx(440, rel=0.05)


def test_extract_is_incremental(audio_dir, tmp_path):
    store_dir = tmp_path / "store"
    inputs = collect_inputs([audio_dir])
    run_extract(inputs, store_dir, progress=False)
    again = run_extract(inputs, store_dir, progress=False)
    assert (again.done, again.skipped) == (0, 3)
    write_wav(audio_dir / "sine.wav", sine(880, 3))
    os.utime(audio_dir / "sine.wav", ns=(1, 1))
    changed = run_extract(inputs, store_dir, progress=False)
    assert (changed.done, changed.skipped) == (1, 2)
    f = dict(zip(FeatureConfig().features, FeatureStore.open(store_dir).features(["sine"])[0]))
    assert f["spectral_centroid_mean"] == pytest.approx(880, rel=0.05)


def test_failures_are_summarised_not_fatal(audio_dir, tmp_path, bad_audio):
    inputs = collect_inputs([audio_dir]) + [("corrupt", bad_audio["corrupt"]), ("short", bad_audio["short"])]
    summary = run_extract(inputs, tmp_path / "store", progress=False)
    assert summary.done == 3
    assert sorted(i for i, _, _ in summary.failures) == ["corrupt", "short"]
    failures = pd.read_csv(tmp_path / "store" / "failures.csv")
    assert set(failures["id"]) == {"corrupt", "short"}
    assert "corrupt" not in set(pd.read_csv(tmp_path / "store" / "features.csv")["id"])


def test_a_manifest_row_whose_file_is_gone_fails_with_a_plain_reason(audio_dir, tmp_path):
    """A manifest may name files that were moved or deleted since: the row fails with "no such
    file", the others are extracted."""
    gone = tmp_path / "moved.wav"
    inputs = collect_inputs([audio_dir]) + [("moved", gone)]
    summary = run_extract(inputs, tmp_path / "store", progress=False)
    assert summary.done == 3
    [(item, _, reason)] = summary.failures
    assert item == "moved" and reason == f"{gone}: no such file"


def test_store_from_other_config_is_refused(audio_dir, tmp_path):
    run_extract(collect_inputs([audio_dir]), tmp_path / "store", progress=False)
    with pytest.raises(InputError, match="another FeatureConfig \\(n_mels 128 here, 64 asked\\)"):
        run_extract(collect_inputs([audio_dir]), tmp_path / "store", FeatureConfig(n_mels=64), progress=False)


def test_extract_with_a_noise_floor_keeps_it_in_the_store_and_computes_everything_over_it(audio_dir, tmp_path):
    """`pianokit extract --noise-floor DB`: the store's config holds the floor, its mels are those of the
    level-normalised audio plus the seeded pink floor, and a plain re-run into that store is refused."""
    from click.testing import CliRunner

    from pianokit.audio import load_audio
    from pianokit.cli import cli
    from pianokit.conditions import noise_floor
    from pianokit.features import log_mel, normalise_level

    store_dir = tmp_path / "store"
    result = CliRunner().invoke(cli, ["extract", str(audio_dir), "--out", str(store_dir), "--noise-floor", "30",
                                      "-j", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(store_dir)
    assert store.config == FeatureConfig(noise_floor_db=30.0)
    plain = FeatureConfig()
    y = load_audio(audio_dir / "sine.wav", plain.sample_rate, plain.min_duration)
    by_hand = log_mel(noise_floor(normalise_level(y, plain), plain.sample_rate, 30), plain)
    np.testing.assert_allclose(store.mel("sine"), by_hand, atol=0.05)
    assert store.mel("sine").min() > log_mel(y, plain).min() + 20  # the floor fills the empty bands
    again = CliRunner().invoke(cli, ["extract", str(audio_dir), "--out", str(store_dir), "--no-progress"])
    assert again.exit_code == 2 and "Traceback" not in again.output
    assert "another FeatureConfig (noise_floor_db 30.0 here, none asked)" in again.output


def test_collect_inputs_errors_and_unique_ids(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        collect_inputs([tmp_path / "nope.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no audio files"):
        collect_inputs([tmp_path / "empty"])
    a = write_wav(tmp_path / "a" / "x.wav", sine())
    b = write_wav(tmp_path / "b" / "x.wav", sine())
    ids = [i for i, _ in collect_inputs([a, b])]
    assert len(set(ids)) == 2 and all(i.startswith("x-") for i in ids)


def test_not_a_store(tmp_path):
    with pytest.raises(InputError, match="not a feature store"):
        FeatureStore.open(tmp_path)


def test_a_store_made_by_older_feature_code_is_refused_when_opened(audio_dir, tmp_path):
    import json

    store = tmp_path / "store"
    run_extract([("a", next(audio_dir.glob("*.wav")))], store, jobs=1, progress=False)
    config = json.loads((store / "config.json").read_text())
    config["version"] = min(COMPUTABLE_FEATURE_VERSIONS) - 1
    del config["feature_floor_db"]  # version 4 stores did not have it
    (store / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=f"feature code version {config['version']}.*computes versions 5 and 6; "
                                         "extract into a new store"):
        FeatureStore.open(store)


def test_a_version_5_store_opens_and_is_not_extended_with_version_6_features(audio_dir, tmp_path):
    from click.testing import CliRunner

    from pianokit.cli import cli

    store_dir = tmp_path / "store"
    old = FeatureConfig(noise_floor_db=35.0, version=5)
    run_extract([("sine", audio_dir / "sine.wav")], store_dir, old, jobs=1, progress=False)
    before = (store_dir / "features.csv").read_bytes()
    assert FeatureStore.open(store_dir).config == old
    result = CliRunner().invoke(cli, ["extract", str(audio_dir), "--out", str(store_dir), "--noise-floor", "35",
                                      "-j", "1", "--no-progress"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "made by feature code version 5 and this pianokit extracts version 6; use a new --out folder" in result.output
    assert (store_dir / "features.csv").read_bytes() == before


@pytest.mark.parametrize("jobs, compiled", [(1, 0), (2, 1)])
def test_parallel_extract_compiles_numba_in_the_parent_first(audio_dir, tmp_path, monkeypatch, jobs, compiled):
    """Workers never compile librosa's numba functions at the same time (numba/numba#10128): with
    more than one worker, the parent compiles them once first, with the store's feature settings;
    a rerun with nothing left to extract starts no worker and compiles nothing."""
    import pianokit.extract as extract_module
    from pianokit import features

    calls = []
    monkeypatch.setattr(extract_module, "compile_in_parent", lambda config: calls.append(config))
    summary = run_extract(collect_inputs([audio_dir]), tmp_path / "store", jobs=jobs, progress=False)
    assert summary.done > 0 and len(calls) == compiled
    assert all(c == FeatureStore.open(tmp_path / "store").config for c in calls)
    again = run_extract(collect_inputs([audio_dir]), tmp_path / "store", jobs=jobs, progress=False)
    assert again.done == 0 and len(calls) == compiled
    features.compile_in_parent(FeatureConfig())  # and the real one runs


def test_a_full_disk_ends_the_run_keeping_the_rows_already_written(audio_dir, tmp_path, monkeypatch):
    """Once writing a log-mel fails with the disk full, every later file would be computed only to
    fail too: the run ends with one error saying so, the rows written before are kept, and a rerun
    with space again resumes."""
    import errno
    import shutil
    from collections import namedtuple

    real_write = FeatureStore.write_mel
    written = []
    usage = namedtuple("usage", "total used free")

    def write_mel(self, item_id, mel):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(item_id)
        real_write(self, item_id, mel)

    monkeypatch.setattr(FeatureStore, "write_mel", write_mel)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, (1 << 30) - (1 << 20), 1 << 20))
    store_dir = tmp_path / "store"
    inputs = collect_inputs([audio_dir])
    with pytest.raises(InputError) as caught:
        run_extract(inputs, store_dir, jobs=1, progress=False)
    message = str(caught.value)
    assert "the disk is full (1 MB left" in message and "No space left on device" in message and "\n" not in message
    assert list(pd.read_csv(store_dir / "features.csv")["id"]) == written  # the one row written is kept
    monkeypatch.undo()
    summary = run_extract(inputs, store_dir, jobs=1, progress=False)
    assert (summary.done, summary.skipped, summary.failures) == (2, 1, [])


def test_checkpoints_are_part_files_folded_into_features_csv(tmp_path):
    """A checkpoint writes only its own rows (a part file); the table reads the parts, a later row
    replacing an earlier one with its id, and update() folds them into features.csv."""
    config = FeatureConfig()
    store = FeatureStore.create(tmp_path / "store", config)

    def row(item_id, value):
        return {"id": item_id, "audio": f"{item_id}.wav", "source_size": 1, "source_mtime_ns": 2,
                "duration_s": 3.0, "frames": 4, **{name: value for name in config.features}}

    store.update([row("a", 0.5), row("b", 0.25)])
    store.checkpoint([row("c", 1.0)])
    store.checkpoint([row("a", 2.0), row("d", 0.125)])
    parts = sorted((tmp_path / "store").glob("features.part-*.csv"))
    assert [len(pd.read_csv(p)) for p in parts] == [1, 2]
    assert list(pd.read_csv(tmp_path / "store" / "features.csv")["id"]) == ["a", "b"]
    reopened = FeatureStore.open(tmp_path / "store")
    assert list(reopened.table["id"]) == ["a", "b", "c", "d"]
    assert reopened.features(["a", "c"])[:, 0].tolist() == [2.0, 1.0]
    reopened.update([])
    assert not list((tmp_path / "store").glob("features.part-*.csv"))
    folded = pd.read_csv(tmp_path / "store" / "features.csv")
    assert list(folded["id"]) == ["a", "b", "c", "d"] and folded[config.features[0]].tolist() == [2.0, 0.25, 1.0, 0.125]


def test_a_run_killed_after_checkpoints_resumes_from_them(audio_dir, tmp_path, monkeypatch):
    """Rows checkpointed before a run dies without its last write (killed) are current for the next
    run, which ends with the same features.csv as one uninterrupted run and no part files."""
    from pianokit import extract

    inputs = collect_inputs([audio_dir])
    run_extract(inputs, tmp_path / "whole", progress=False)
    monkeypatch.setattr(extract, "CHECKPOINT_SECONDS", 0.0)
    real_update = FeatureStore.update
    monkeypatch.setattr(FeatureStore, "update", lambda self, rows: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        run_extract(inputs, tmp_path / "store", progress=False)
    assert len(list((tmp_path / "store").glob("features.part-*.csv"))) == 3
    assert not (tmp_path / "store" / "features.csv").exists()
    monkeypatch.setattr(FeatureStore, "update", real_update)
    again = run_extract(inputs, tmp_path / "store", progress=False)
    assert (again.done, again.skipped) == (0, 3)
    assert not list((tmp_path / "store").glob("features.part-*.csv"))
    whole, resumed = (pd.read_csv(tmp_path / d / "features.csv") for d in ("whole", "store"))
    pd.testing.assert_frame_equal(whole, resumed)


def test_files_run_longest_first(tmp_path):
    """The pool gets the longest files first (it ends on short ones); a file whose length cannot be
    read goes last, and is still tried (and reported) there."""
    d = tmp_path / "audio"
    for name, seconds in (("b", 2), ("a", 5), ("c", 3)):
        write_wav(d / f"{name}.wav", sine(330, seconds))
    (d / "bad.wav").write_bytes(b"not audio")
    order = []

    def run(worker, todo, desc, progress):
        order.extend(item_id for item_id, _ in todo)
        return iter([])

    from pianokit.extract import _extract_into

    _extract_into(FeatureStore.create(tmp_path / "store", FeatureConfig()), collect_inputs([d]), run, False)
    assert order == ["a", "c", "b", "bad"]
