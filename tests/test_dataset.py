import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import labelled_manifest, needs_fluidsynth, sine, tiny_midi, write_wav
from pianokit.dataset import MANIFEST_COLUMNS, Source, prepare_percepiano
from pianokit.manifest import read_manifest
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.render import find_soundfont

STEMS = ["PieceA_4bars_1_1", "PieceA_4bars_2_1", "PieceA_4bars_Score_1"]


def make_source(root, labelled=(1, 1, 0)):
    """A three-file folder laid out like PercePiano."""
    for i, stem in enumerate(STEMS):
        name = f" {stem}.mid" if i == 0 else f"{stem}.mid"  # upstream has one name with a leading space
        tiny_midi(root / "midi" / name, notes=((60 + i, 0.0, 0.6), (64 + i, 0.6, 1.4)))
    rng = np.random.default_rng(0)
    ratings = rng.uniform(0.2, 0.9, (3, 19))
    manifest = pd.DataFrame(ratings, columns=list(DIMENSIONS))
    manifest.insert(0, "has_label", list(labelled))
    manifest.insert(0, "player", ["1", "2", "Score"])
    manifest.insert(0, "piece", "PieceA")
    manifest.insert(0, "segment_id", STEMS)
    manifest.to_csv(root / "manifest.csv", index=False)
    pd.DataFrame({"segment_id": STEMS, "passage": "PieceA_4bars_1", "passage_group": "PieceA_4bars_1",
                  "fold_passage": [0, 0, 0],
                  "performer_group": [1, 2, 0]}).to_csv(root / "folds.csv", index=False)
    (root / "labels_mean.json").write_text(json.dumps({s: list(r) + [0] for s, r in zip(STEMS, ratings)}))
    return root


def test_source_lists_labelled_segments_with_folds(tmp_path):
    src = Source.open(make_source(tmp_path / "src"))
    seg = src.labelled_segments()
    assert list(seg["segment_id"]) == STEMS[:2]
    assert {"fold_passage", "performer_group", "passage", "passage_group"} <= set(seg.columns)
    assert len(src.midi_files()) == 3


def test_source_missing_parts(tmp_path):
    root = make_source(tmp_path / "src")
    (root / "folds.csv").unlink()
    with pytest.raises(InputError, match="missing folds.csv"):
        Source.open(root)
    with pytest.raises(InputError, match="no such directory"):
        Source.open(tmp_path / "nope")


def test_source_manifest_missing_column(tmp_path):
    root = make_source(tmp_path / "src")
    pd.read_csv(root / "manifest.csv").drop(columns=["timbre_bright_dark"]).to_csv(root / "manifest.csv")
    with pytest.raises(InputError, match="missing column.*timbre_bright_dark"):
        Source.open(root).labelled_segments()


def test_read_manifest_checks(tmp_path):
    audio = [write_wav(tmp_path / f"a{i}.wav", sine()) for i in range(2)]
    ok = read_manifest(labelled_manifest(tmp_path / "m.csv", audio))
    assert list(ok["audio"]) == [str(a) for a in audio]
    bad = np.full((2, 19), 0.5)
    bad[1, 3] = np.nan
    with pytest.raises(InputError, match="NaN.*pedal_sparse_saturated"):
        read_manifest(labelled_manifest(tmp_path / "nan.csv", audio, bad))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        read_manifest(labelled_manifest(tmp_path / "range.csv", audio, np.full((2, 19), 3.0)))
    pd.read_csv(tmp_path / "m.csv").drop(columns=["audio"]).to_csv(tmp_path / "noaudio.csv", index=False)
    with pytest.raises(InputError, match="missing column.*audio"):
        read_manifest(tmp_path / "noaudio.csv")


@pytest.mark.parametrize("export", ["semicolons", "semicolons_decimal_commas", "tabs", "utf8_bom", "crlf",
                                    "utf16_tabs"])
def test_a_manifest_saved_by_a_spreadsheet_reads_the_same(tmp_path, export):
    """What spreadsheets write when asked for CSV or text, in other locales too, is read as the plain
    CSV is (it was 'missing column(s) segment_id, audio' or 'not a readable CSV')."""
    audio = [write_wav(tmp_path / f"a{i}.wav", sine(300 + 20 * i)) for i in range(3)]
    plain = labelled_manifest(tmp_path / "m.csv", audio, np.linspace(0.05, 0.95, 57).reshape(3, 19), n_ratings=[5, 6, 7])
    options = {"semicolons": {"sep": ";"}, "semicolons_decimal_commas": {"sep": ";", "decimal": ","},
               "tabs": {"sep": "\t"}, "utf8_bom": {"encoding": "utf-8-sig"}, "crlf": {"lineterminator": "\r\n"},
               "utf16_tabs": {"sep": "\t", "encoding": "utf-16"}}[export]
    pd.read_csv(plain).to_csv(tmp_path / "export.csv", index=False, **options)
    expected, got = read_manifest(plain), read_manifest(tmp_path / "export.csv")
    assert list(got.columns) == list(expected.columns)
    assert list(got["segment_id"]) == list(expected["segment_id"]) and list(got["audio"]) == list(expected["audio"])
    np.testing.assert_allclose(got[list(DIMENSIONS)].to_numpy(float), expected[list(DIMENSIONS)].to_numpy(float))
    assert list(got["n_ratings"]) == [5, 6, 7]


def test_relative_audio_paths_resolve_against_manifest(tmp_path):
    write_wav(tmp_path / "audio" / "x.wav", sine())
    pd.DataFrame({"segment_id": ["x"], "audio": ["audio/x.wav"]}).to_csv(tmp_path / "m.csv", index=False)
    assert read_manifest(tmp_path / "m.csv", labelled=False)["audio"][0] == str(tmp_path / "audio" / "x.wav")


@needs_fluidsynth
def test_prepare_percepiano_renders_and_resumes(tmp_path):
    src = make_source(tmp_path / "src")
    out = tmp_path / "out"
    manifest, failures = prepare_percepiano(src, out, jobs=2, progress=False)
    assert failures == []
    assert sorted(p.name for p in (out / "audio").glob("*.wav")) == sorted(f"{s}.wav" for s in STEMS)
    written = pd.read_csv(out / "manifest.csv")
    assert list(written.columns) == [*MANIFEST_COLUMNS, "soundfont", *DIMENSIONS]
    assert set(written["soundfont"]) == {find_soundfont().name}
    assert list(written["segment_id"]) == STEMS[:2]
    assert read_manifest(out / "manifest.csv")["audio"].map(lambda p: __import__("os").path.exists(p)).all()
    midi = read_manifest(out / "manifest.csv")["midi"]
    assert [Path(m).resolve() for m in midi] == [p.resolve() for p in sorted((src / "midi").glob("*.mid"))[:2]]
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "audio").glob("*.wav")}
    (out / "audio" / f"{STEMS[0]}.wav").unlink()
    prepare_percepiano(src, out, jobs=1, progress=False)
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p.exists() and STEMS[0] not in p.name)
    assert (out / "audio" / f"{STEMS[0]}.wav").exists()
