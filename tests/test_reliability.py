"""Bad input, interruption, bounded memory and fuzzing across the commands."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SR, labelled_manifest, needs_fluidsynth, sine, write_wav
from pianokit.audio import load_audio
from pianokit.cli import cli
from pianokit.errors import InputError
from pianokit.metadata import validate
from pianokit.scorer import DEFAULT_MODEL, Scorer

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean_failure(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("pianokit:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for needle in needles:
        assert str(needle) in lines[0]


BAD_KINDS = ["missing", "directory", "corrupt", "empty", "silent", "short", "odd_rate", "pipe", "dangling_link"]
BAD_KIND_SAYS = {"pipe": "not a regular file", "dangling_link": "a symbolic link to nothing"}


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_score_rejects_bad_audio(bad_audio, kind):
    assert_clean_failure(invoke("score", bad_audio[kind]), bad_audio[kind], BAD_KIND_SAYS.get(kind, ""))


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_extract_rejects_bad_audio_leaving_nothing(bad_audio, kind, tmp_path):
    result = invoke("extract", bad_audio[kind], "--out", tmp_path / "store", "--no-progress")
    assert_clean_failure(result, bad_audio[kind], BAD_KIND_SAYS.get(kind, ""))
    assert not (tmp_path / "store").exists()


def test_extract_manifest_of_only_bad_files_leaves_nothing(bad_audio, tmp_path):
    m = labelled_manifest(tmp_path / "m.csv", [bad_audio["corrupt"], bad_audio["silent"]])
    result = invoke("extract", "--manifest", m, "--out", tmp_path / "store", "--no-progress")
    assert result.exit_code == 2 and "none of the 2 files could be used" in result.output
    assert str(bad_audio["corrupt"]) in result.output and not (tmp_path / "store").exists()


def test_truncated_wav(tmp_path):
    good = write_wav(tmp_path / "good.wav", sine(440, 3))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:200])  # header claims 3 s, data stops after 78 samples
    with pytest.raises(InputError, match="cut.wav"):
        load_audio(cut, SR)


def test_a_recording_cut_short_is_rated_with_a_warning_and_not_trained_on(tmp_path):
    whole = write_wav(tmp_path / "whole.wav", sine(440, 6))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * 4 * SR])  # header: 6 s; data: 4 s
    result = invoke("score", cut, "--format", "csv", "--no-progress")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output[result.output.index("file,"):]))
    assert (table["duration_s"] == 4.0).all()
    assert table["warnings"].str.contains("ends at 4.0 s but its header announces 6.0 s").all()
    assert_clean_failure(invoke("extract", cut, "--out", tmp_path / "store", "--no-progress"), "cut.wav", "cut short")
    assert not (tmp_path / "store").exists()


def test_non_audio_with_wav_name(tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is a text file\n" * 100)
    assert_clean_failure(invoke("score", fake), "notes.wav", "not a readable audio file")


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root can read files without read permission")
def test_unreadable_file(tmp_path):
    path = write_wav(tmp_path / "locked.wav", sine())
    path.chmod(0)
    assert_clean_failure(invoke("score", path), "permission denied")


def _write_minutes(path, minutes: int) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", SR, 1, "PCM_16") as f:
        for minute in range(minutes):
            t = np.arange(60 * SR) / SR
            f.write((0.2 * np.sin(2 * np.pi * 220 * (1 + minute % 5) * t) + 0.01 * rng.standard_normal(60 * SR)))


def _peak_bytes(scorer, path):
    tracemalloc.start()
    rating = scorer.score_file(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rating, peak


def test_a_long_file_is_scored_in_bounded_memory(tmp_path):
    """Memory does not grow with the recording: an 8-minute file (four 120 s segments) peaks no higher
    than a 2-minute one (one segment), as each is read and rated one segment at a time; holding the
    longer file's samples alone would add 32 MB."""
    _write_minutes(tmp_path / "long.wav", 8)
    _write_minutes(tmp_path / "short.wav", 2)
    scorer = Scorer(DEFAULT_MODEL, "cpu")
    scorer.score_audio(sine(440, 2))  # lazy imports (librosa, scipy, numba) are not the file's memory
    _, short_peak = _peak_bytes(scorer, tmp_path / "short.wav")
    rating, peak = _peak_bytes(scorer, tmp_path / "long.wav")
    seconds = 8 * 60
    assert rating.duration_s == pytest.approx(seconds, abs=0.01)
    segments = int(np.ceil(seconds / scorer.segment_seconds))
    assert segments == 4 * int(np.ceil(2 * 60 / scorer.segment_seconds))
    per_segment = windows_per_segment(scorer, seconds / segments)
    assert len(rating.window_starts_s) == segments * len(per_segment)
    assert rating.window_starts_s[-1] == pytest.approx(seconds - seconds / segments + per_segment[-1], abs=0.1)
    extra_bytes = (seconds - 2 * 60) * SR * 4  # the longer file's extra audio as float32
    assert peak - short_peak < 0.2 * extra_bytes, f"peak {peak / 1e6:.1f} MB for 8 min, {short_peak / 1e6:.1f} MB for 2 min"


def windows_per_segment(scorer, seconds: float) -> list[float]:
    """Start times (s) of the windows the scorer rates in one segment of ``seconds``: one for a
    features-only model, half-overlapping log-mel windows otherwise."""
    from pianokit.windows import window_starts

    if "mel" not in {i.name for i in scorer.session.get_inputs()}:
        return [0.0]
    hop = scorer.config.hop_length
    frames = 1 + int(round(seconds * scorer.config.sample_rate)) // hop
    return [f * hop / scorer.config.sample_rate for f in window_starts(frames, scorer.window.frames, scorer.window.hop_frames)]


def test_file_and_memory_scoring_agree(tmp_path):
    scorer = Scorer(DEFAULT_MODEL, "cpu")
    seconds = 2 * scorer.segment_seconds + 10  # three equal segments
    y = (sine(330, seconds) * np.linspace(0.2, 1, int(seconds * SR))).astype(np.float32)
    path = write_wav(tmp_path / "long.wav", y, subtype="FLOAT")
    a, b = scorer.score_file(path), scorer.score_audio(y)
    third = seconds / 3
    starts = [round(offset + s, 3) for offset in (0.0, third, 2 * third) for s in windows_per_segment(scorer, third)]
    assert a.window_starts_s == b.window_starts_s
    np.testing.assert_allclose(a.window_starts_s, starts, atol=2e-3)
    np.testing.assert_allclose(a.window_ratings, b.window_ratings, atol=1e-6)


def test_a_dc_offset_does_not_move_the_ratings(tmp_path):
    import soundfile as sf

    scorer = Scorer(DEFAULT_MODEL, "cpu")
    example = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"
    y, rate = sf.read(example, dtype="float32")
    shifted = write_wav(tmp_path / "offset.wav", y + 0.5 * np.abs(y).max(), sr=rate, subtype="FLOAT")
    plain, offset = scorer.score_file(example), scorer.score_file(shifted)
    assert max(abs(plain.ratings[d] - offset.ratings[d]) for d in plain.ratings) < 1e-3
    in_memory = scorer.score_audio(load_audio(shifted, scorer.config.sample_rate) + 0.1)
    assert max(abs(plain.ratings[d] - in_memory.ratings[d]) for d in plain.ratings) < 1e-3


def test_scoring_is_deterministic(tmp_path):
    path = write_wav(tmp_path / "a.wav", sine(440, 5))
    first = Scorer(DEFAULT_MODEL, "cpu").score_file(path).ratings
    assert Scorer(DEFAULT_MODEL, "cpu").score_file(path).ratings == first


@pytest.mark.parametrize("problem", ["nan", "range", "column"])
def test_fit_rejects_bad_manifest(planted_store, tmp_path, problem):
    manifest = pd.read_csv(planted_store / "manifest.csv")
    if problem == "nan":
        manifest.loc[3, "timbre_soft_loud"] = np.nan
    elif problem == "range":
        manifest.loc[3, "timbre_soft_loud"] = 4.0
    else:
        manifest = manifest.drop(columns=["fold_passage"])
    bad = tmp_path / "bad.csv"
    manifest.to_csv(bad, index=False)
    result = invoke("fit", "--arch", "mlp", "--store", planted_store, "--manifest", bad, "--out", tmp_path / "run",
                    "--no-progress")
    assert_clean_failure(result, "bad.csv" if problem != "column" else "fold_passage")
    assert not (tmp_path / "run").exists()


def test_analyze_rejects_labels_out_of_range(tmp_path):
    m = labelled_manifest(tmp_path / "m.csv", [tmp_path / "a.wav", tmp_path / "b.wav"], np.full((2, 19), 1.5))
    assert_clean_failure(invoke("analyze", "--manifest", m, "--out", tmp_path / "an"), "m.csv", "[0, 1]")
    assert not (tmp_path / "an").exists()


def _wait_for(predicate, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_extract_resumes(tmp_path, sig):
    audio = tmp_path / "audio"
    for i in range(60):
        write_wav(audio / f"s{i:02d}.wav", sine(200 + 10 * i, 2))
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "pianokit", "extract", str(audio), "--out", str(store), "--jobs", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # pathlib's glob also matches the hidden .<id>.<pid>.tmp.npy of a mel still being written: not counted
    assert _wait_for(lambda: sum(not p.name.startswith(".") for p in (store / "mels").glob("*.npy")) >= 5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    table = pd.read_csv(store / "features.csv")  # complete rows only, never a torn file
    assert 5 <= len(table) < 60 and table.notna().all().all()
    assert not list(store.glob(".*tmp*")) and not list((store / "mels").glob(".*tmp*"))
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"{60 - len(table)} extracted, {len(table)} already current, 0 failed" in again.stdout
    assert len(pd.read_csv(store / "features.csv")) == 60


def test_interrupted_fit_resumes(planted_store, tmp_path):
    """Stopped as fold 0 ends (SIGTERM at the fold change, where it can land in a weakref callback whose
    exception Python drops): exit 130, fold 0 kept; a rerun with other
    settings is refused, the same command finishes the other fold and leaves fold 0 as it was."""
    run = tmp_path / "run"
    epochs = "100"  # fold 1 runs for seconds after fold 0's metrics appear; the signal lands inside it
    cmd = [sys.executable, "-m", "pianokit", "fit", "--arch", "multitask", "--store", str(planted_store), "--out",
           str(run), "--epochs", epochs, "--patience", epochs, "--folds", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert _wait_for(lambda: (run / "fold0" / "metrics.json").is_file(), timeout=300)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert not (run / "metrics.json").exists()
    assert json.loads((run / "fold0" / "metrics.json").read_text())["fold"] == 0
    stamp = (run / "fold0" / "model.keras").stat().st_mtime_ns
    quick = [c if c != epochs else "3" for c in cmd]
    assert subprocess.run(quick, capture_output=True, text=True).returncode == 2  # other settings are refused
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run / "fold0" / "model.keras").stat().st_mtime_ns == stamp
    assert json.loads((run / "metrics.json").read_text())["folds"] == 2


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=0, max_size=4096), st.booleans())
def test_fuzz_audio_loader(tmp_path, payload, with_header):
    path = tmp_path / "fuzz.wav"
    path.write_bytes((b"RIFF\x24\x08\x00\x00WAVEfmt " if with_header else b"") + payload)
    try:
        y = load_audio(path, SR, min_duration=0.0)
    except InputError as exc:
        assert "\n" not in str(exc) and "fuzz.wav" in str(exc)
    else:
        assert y.dtype == np.float32 and np.all(np.isfinite(y))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["format", "format_version", "architecture", "inputs", "feature_config",
                                        "window", "dimensions", "name"]), json_values, max_size=8))
def test_fuzz_metadata_reader(meta):
    try:
        out = validate(meta, "m.json")
    except InputError as exc:
        assert str(exc).startswith("m.json: ") and "\n" not in str(exc)
    else:
        assert out["format"] == "pianokit-model" and out["format_version"] == 1


@settings(max_examples=100, deadline=None)
@given(st.fixed_dictionaries({"frames": json_values, "hop_frames": json_values}), json_values, json_values)
def test_fuzz_metadata_near_valid(window, inputs, dims):
    meta = {"format": "pianokit-model", "format_version": 1, "architecture": "x", "inputs": inputs,
            "feature_config": {}, "window": window, "dimensions": dims}
    try:
        validate(meta, "m.json")
    except InputError as exc:
        assert "\n" not in str(exc)


@needs_fluidsynth
def test_dataset_reports_a_corrupt_midi_and_keeps_the_rest(tmp_path):
    from test_dataset import STEMS, make_source

    src = make_source(tmp_path / "src")
    (src / "midi" / f"{STEMS[1]}.mid").write_bytes(b"MThd garbage")
    result = invoke("dataset", "percepiano", "--source", src, "--out", tmp_path / "out", "--no-progress")
    assert result.exit_code == 1 and "1 MIDI file(s) could not be rendered" in result.output
    assert f"{STEMS[1]}.mid" in result.output and "Traceback" not in result.output
    assert sorted(p.stem for p in (tmp_path / "out" / "audio").glob("*.wav")) == sorted([STEMS[0], STEMS[2]])
    assert list(pd.read_csv(tmp_path / "out" / "manifest.csv")["segment_id"]) == [STEMS[0]]
    assert not list((tmp_path / "out" / "audio").glob(".render-*"))
