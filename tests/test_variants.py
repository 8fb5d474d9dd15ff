"""Augmented variants and combined manifests: labels travel, folds stay leak-free, roles are obeyed."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import labelled_manifest, sine, write_wav
from pianokit.cli import cli
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.training_data import final_holdout, make_folds, straddling_groups
from pianokit.variants import combine_manifests

pytest.importorskip("pedalboard")
pytest.importorskip("pyroomacoustics")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def piano_manifest(folder, n_passages=8, players=3, freq=440.0):
    """A manifest of short tones laid out like PercePiano: passages 2k, 2k+1 share a group."""
    audio, extra = [], {"passage": [], "passage_group": [], "fold_passage": [], "player": []}
    for p in range(n_passages):
        for player in range(players):
            audio.append(write_wav(folder / "audio" / f"p{p}_{player}.wav", sine(freq * (1 + 0.05 * player), 1.5)))
            extra["passage"].append(f"p{p}")
            extra["passage_group"].append(f"g{p // 2}")
            extra["fold_passage"].append((p // 2) % 4)
            extra["player"].append(str(player))
    return labelled_manifest(folder / "manifest.csv", audio, **extra)


def test_augment_writes_labelled_seeded_variants_and_resumes(tmp_path):
    source = piano_manifest(tmp_path / "piano", n_passages=2, players=2)
    out = tmp_path / "aug"
    result = invoke("dataset", "augment", "--manifest", source, "--out", out, "--copies", 2, "--seed", 4, "-j", 1,
                    "--no-progress")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "manifest.csv")
    original = pd.read_csv(source).set_index("segment_id")
    assert len(table) == 8 and set(table["segment_id"]) == {f"p{p}_{k}@aug{c}" for p in (0, 1) for k in (0, 1)
                                                            for c in (1, 2)}
    for _, row in table.iterrows():
        np.testing.assert_allclose(row[list(DIMENSIONS)].to_numpy(float),
                                   original.loc[row["source_id"], list(DIMENSIONS)].to_numpy(float))
        assert row["passage_group"] == original.loc[row["source_id"], "passage_group"]
        assert '"rt60"' in row["augmentation"]
    files = sorted((out / "audio").glob("*.flac"))
    assert len(files) == 8
    before = {f.name: f.stat().st_mtime_ns for f in files}
    again = invoke("dataset", "augment", "--manifest", source, "--out", out, "--copies", 2, "--seed", 4,
                   "--no-progress")
    assert again.exit_code == 0 and {f.name: f.stat().st_mtime_ns for f in files} == before
    other = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / "aug_same", "--copies", 2,
                   "--seed", 4, "-j", 2, "--no-progress")
    assert other.exit_code == 0
    import soundfile as sf

    for f in files:
        np.testing.assert_array_equal(sf.read(f)[0], sf.read(tmp_path / "aug_same" / "audio" / f.name)[0])


def augmented(tmp_path, folder: str, *options) -> tuple[object, pd.DataFrame]:
    """(source manifest, augmented manifest) of `dataset augment --seed 4 OPTIONS` on a small piano set."""
    source = piano_manifest(tmp_path / "piano", n_passages=2, players=2)
    result = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / folder, "--seed", 4, *options,
                    "-j", 1, "--no-progress")
    assert result.exit_code == 0, result.output
    return source, pd.read_csv(tmp_path / folder / "manifest.csv")


def test_augment_can_add_a_phones_compression_and_the_model_card_counts_it(tmp_path):
    from pianokit.variants import describe_training_audio

    source, table = augmented(tmp_path, "aug", "--compress-share", 1)
    out = tmp_path / "aug"
    assert table["augmentation"].str.contains('"compress"').all()
    plain = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / "plain", "--seed", 4, "-j", 1,
                   "--no-progress")
    assert plain.exit_code == 0
    assert not pd.read_csv(tmp_path / "plain" / "manifest.csv")["augmentation"].str.contains('"compress"').any()
    combined = combine_manifests({"aug": out / "manifest.csv", "plain": tmp_path / "plain" / "manifest.csv"})
    sources = describe_training_audio(combined)["sources"]
    assert sources["aug"]["compressed_rows"] == 4 and sources["plain"]["compressed_rows"] == 0
    bad = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / "bad", "--compress-share", 1.5)
    assert bad.exit_code == 2 and "--compress-share" in bad.output
    files = sorted((tmp_path / "plain" / "audio").glob("*.flac"))
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    for other in (["--seed", 4, "--compress-share", 1], ["--seed", 5], ["--seed", 4, "--phone-share", 1]):
        mixed = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / "plain", *other, "--no-progress")
        assert mixed.exit_code == 2 and "another --seed, --compress-share or --phone-share" in mixed.output
        assert {f.name: f.stat().st_mtime_ns for f in files} == stamps
    again = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / "plain", "--seed", 4,
                   "--compress-share", 0, "--no-progress")
    assert again.exit_code == 0, again.output


def test_augment_phone_share_sends_that_share_through_a_phone_and_the_model_card_counts_them(tmp_path):
    from pianokit.variants import describe_training_audio

    source, table = augmented(tmp_path, "phone", "--phone-share", 1)
    assert table["augmentation"].map(json.loads).map(lambda r: r["phone"]).all()
    import soundfile as sf

    y, sr = sf.read(table["audio"].iloc[0])
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    hz = np.fft.rfftfreq(len(y), 1 / sr)
    assert spectrum[hz > 4500].sum() < 1e-3 * spectrum[(hz > 300) & (hz < 3400)].sum()  # the phone's band
    assert describe_training_audio(table.assign(source="phone"))["sources"]["phone"]["phone_rows"] == len(table)
    bad = invoke("dataset", "augment", "--manifest", source, "--out", tmp_path / "bad", "--phone-share", -0.1)
    assert bad.exit_code == 2 and "--phone-share" in bad.output and not (tmp_path / "bad").exists()
    from pianokit.conditions import PHONE_SHARE

    option = next(o for o in cli.commands["dataset"].commands["augment"].params if o.name == "phone_share")
    assert option.default == PHONE_SHARE  # the CLI states the library's default (it does not import numpy)


def test_augment_refuses_a_bad_manifest_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"segment_id": ["a"], "audio": ["a.wav"]}).to_csv(bad, index=False)
    result = invoke("dataset", "augment", "--manifest", bad, "--out", tmp_path / "aug")
    assert result.exit_code == 2 and "missing column" in result.output
    assert not (tmp_path / "aug" / "manifest.csv").exists()


def test_combine_names_ids_and_roles(tmp_path):
    a = piano_manifest(tmp_path / "a")
    b = piano_manifest(tmp_path / "b", freq=300.0)
    out = tmp_path / "combined.csv"
    result = invoke("dataset", "combine", f"grand={a}", f"upright={b}", "--train", "grand", "--eval", "upright",
                    "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 48 and table["segment_id"].is_unique
    grand = table[table["source"] == "grand"]
    assert set(grand["train"]) == {1} and set(grand["eval"]) == {0}
    assert set(table[table["source"] == "upright"]["train"]) == {0}
    assert (table["segment_id"] == table["source_id"] + "@" + table["source"]).all()
    assert invoke("dataset", "combine", f"grand={a}", "--out", out).exit_code == 2  # never overwritten
    for args in ((f"grand={a}", "--eval", "nope"), ("grand",), (f"a@b={a}",)):
        result = invoke("dataset", "combine", *args, "--out", tmp_path / "x.csv")
        assert result.exit_code == 2 and "Error:" in result.output and "Traceback" not in result.output, result.output


def test_folds_keep_variants_together_train_on_train_rows_and_test_on_eval_rows(tmp_path):
    a = piano_manifest(tmp_path / "a")
    b = piano_manifest(tmp_path / "b", freq=300.0)
    table = combine_manifests({"grand": a, "upright": b, "grand_aug": a}, train=["grand", "grand_aug"],
                              eval_names=["upright"])
    folds = make_folds(table, "passage", 4, seed=1)
    groups = table["passage_group"].astype(str).to_numpy()
    for fold in folds:
        assert set(table.loc[fold.train, "source"]) == {"grand", "grand_aug"}
        assert set(table.loc[fold.val, "source"]) <= {"grand", "grand_aug"}
        assert set(table.loc[fold.test, "source"]) == {"upright"}
        assert straddling_groups(groups, fold) == []
        # no source segment of a test passage group is trained on, under any name
        test_sources = set(table.loc[fold.test, "source_id"])
        assert not test_sources & set(table.loc[np.concatenate([fold.train, fold.val]), "source_id"])
    held = final_holdout(table, 0.25, 0)
    assert set(table.loc[held, "source"]) <= {"grand", "grand_aug"}


def test_a_role_column_must_be_zero_or_one(tmp_path):
    table = combine_manifests({"grand": piano_manifest(tmp_path / "a")})
    table.loc[0, "train"] = 2
    with pytest.raises(InputError, match="train column"):
        make_folds(table, "passage", 4)


def test_a_full_disk_ends_augment_keeping_the_recordings_made(tmp_path, monkeypatch):
    """Writing a recording fails with the disk full: the run ends with one error instead of drawing
    and failing every later one; what was written is kept and a rerun with space finishes it."""
    import errno
    import os
    import shutil
    from collections import namedtuple

    import soundfile as sf

    source = piano_manifest(tmp_path / "piano", n_passages=2, players=2)
    out = tmp_path / "aug"
    real_write = sf.write

    def write(path, *args, **kwargs):
        if list((out / "audio").glob("*.flac")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, *args, **kwargs)

    monkeypatch.setattr(sf, "write", write)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: namedtuple("usage", "total used free")(1 << 30, 0, 1 << 20))
    result = invoke("dataset", "augment", "--manifest", source, "--out", out, "--copies", 2, "-j", 1, "--no-progress")
    assert result.exit_code == 2 and "the disk is full (1 MB left" in result.output, result.output
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert len(list((out / "audio").glob("*.flac"))) == 1 and not (out / "manifest.csv").exists()
    monkeypatch.undo()
    again = invoke("dataset", "augment", "--manifest", source, "--out", out, "--copies", 2, "-j", 1, "--no-progress")
    assert again.exit_code == 0 and len(pd.read_csv(out / "manifest.csv")) == 8
