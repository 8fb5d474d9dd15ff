import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import labelled_manifest, needs_fluidsynth, sine, write_wav
from pianokit.cli import cli
from test_dataset import make_source


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    for needle in needles:
        assert str(needle) in lines[0]
    assert "Traceback" not in result.output


def test_help_is_fast_and_lists_commands():
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "pianokit", "--help"],
                         capture_output=True, text=True, check=True)
    for command in ("dataset", "extract", "analyze"):
        assert command in out.stdout
    heavy = [m for m in ("tensorflow", "keras", "librosa", "onnxruntime", "pandas") if f" {m}\n" in out.stderr]
    assert heavy == []


def test_extract_files_and_summary(tmp_path):
    a = write_wav(tmp_path / "a.wav", sine())
    result = run("extract", a, "--out", tmp_path / "store", "--jobs", 1, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "1 extracted, 0 already current, 0 failed" in result.output
    assert (tmp_path / "store" / "mels" / "a.npy").exists()


def test_extract_manifest(tmp_path):
    audio = [write_wav(tmp_path / f"s{i}.wav", sine(220 * (i + 1))) for i in range(2)]
    m = labelled_manifest(tmp_path / "m.csv", audio)
    result = run("extract", "--manifest", m, "--out", tmp_path / "store", "--no-progress")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "store" / "features.csv")["id"]) == {"s0", "s1"}


def test_extracting_another_manifest_keeps_the_previous_one(tmp_path):
    """Adding rows from a second manifest must not silently drop the manifest fit reads by default."""
    audio = [write_wav(tmp_path / f"s{i}.wav", sine(220 * (i + 1))) for i in range(3)]
    first = labelled_manifest(tmp_path / "first.csv", audio[:2])
    second = labelled_manifest(tmp_path / "second.csv", audio, role=["a", "b", "c"])
    store = tmp_path / "store"
    assert run("extract", "--manifest", first, "--out", store, "--no-progress").exit_code == 0
    saved_first = (store / "manifest.csv").read_text()
    again = run("extract", "--manifest", first, "--out", store, "--no-progress")
    assert again.exit_code == 0 and "previous" not in again.output and not (store / "manifest.previous.csv").exists()
    result = run("extract", "--manifest", second, "--out", store, "--no-progress")
    assert result.exit_code == 0 and "manifest.previous.csv" in result.output
    assert (store / "manifest.previous.csv").read_text() == saved_first
    assert list(pd.read_csv(store / "manifest.csv")["segment_id"]) == ["s0", "s1", "s2"]
    assert set(pd.read_csv(store / "features.csv")["id"]) == {"s0", "s1", "s2"}


def test_extract_reports_bad_files_and_goes_on(tmp_path, bad_audio):
    good = write_wav(tmp_path / "good.wav", sine())
    result = run("extract", good, bad_audio["corrupt"], bad_audio["silent"], "--out", tmp_path / "s",
                 "--no-progress", "-j", 1)
    assert result.exit_code == 1  # some inputs failed, each named
    assert "1 extracted, 0 already current, 2 failed" in result.output
    assert f"failed: {bad_audio['corrupt']}: not a readable audio file" in result.output


def test_extract_errors(tmp_path):
    assert_one_line_error(run("extract", tmp_path / "missing.wav", "--out", tmp_path / "s"), "missing.wav")
    no_audio_col = tmp_path / "m.csv"
    pd.DataFrame({"segment_id": ["a"]}).to_csv(no_audio_col, index=False)
    assert_one_line_error(run("extract", "--manifest", no_audio_col, "--out", tmp_path / "s"), "audio", "m.csv")
    assert_one_line_error(run("extract", "--manifest", tmp_path / "none.csv", "--out", tmp_path / "s"), "none.csv")
    assert run("extract", "--out", tmp_path / "s").exit_code == 2  # neither paths nor manifest


def test_analyze_writes_tables_and_heatmap(tmp_path):
    audio = [tmp_path / f"s{i}.wav" for i in range(12)]
    m = labelled_manifest(tmp_path / "m.csv", audio, piece=["A"] * 6 + ["B"] * 6)
    result = run("analyze", "--manifest", m, "--out", tmp_path / "an")
    assert result.exit_code == 0, result.output
    assert "12 segments, 2 pieces" in result.output
    corr = pd.read_csv(tmp_path / "an" / "correlation.csv", index_col=0)
    assert corr.shape == (19, 19) and (abs(corr.values.diagonal() - 1) < 1e-9).all()
    stats = pd.read_csv(tmp_path / "an" / "dimensions.csv")
    assert len(stats) == 19 and stats["mean"].between(0.2, 0.9).all()
    assert (tmp_path / "an" / "correlation.png").read_bytes()[:4] == b"\x89PNG"


def test_analyze_errors(tmp_path):
    audio = [tmp_path / "a.wav"]
    m = labelled_manifest(tmp_path / "m.csv", audio)
    pd.read_csv(m).drop(columns=["emotion_pleasant_dark"]).to_csv(m, index=False)
    assert_one_line_error(run("analyze", "--manifest", m), "emotion_pleasant_dark")


def test_dataset_errors(tmp_path):
    assert_one_line_error(run("dataset", "percepiano", "--source", tmp_path / "nope"), "no such directory")
    src = make_source(tmp_path / "src")
    assert_one_line_error(run("dataset", "percepiano", "--source", src, "--soundfont", tmp_path / "x.sf2",
                              "--out", tmp_path / "o"), "SoundFont not found")


@needs_fluidsynth
def test_dataset_percepiano_cli(tmp_path):
    src = make_source(tmp_path / "src")
    result = run("dataset", "percepiano", "--source", src, "--out", tmp_path / "o", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "2 labelled segments" in result.output
    result = run("extract", "--manifest", tmp_path / "o" / "manifest.csv", "--out", tmp_path / "st", "--no-progress")
    assert result.exit_code == 0 and "2 extracted" in result.output


def test_depends_on_exactly_one_onnxruntime_package():
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    meta = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
    every = meta["dependencies"] + [d for extra in meta["optional-dependencies"].values() for d in extra]
    from packaging.requirements import Requirement

    runtimes = [Requirement(d) for d in every if Requirement(d).name in ("onnxruntime", "onnxruntime-gpu")]
    for platform, machine in (("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"), ("darwin", "x86_64"),
                              ("win32", "AMD64"), ("win32", "ARM64")):
        env = {"sys_platform": platform, "platform_machine": machine}
        chosen = [r.name for r in runtimes if r.marker is None or r.marker.evaluate(env)]
        assert len(chosen) == 1, (env, chosen)  # both would fight over the onnxruntime module


@pytest.mark.parametrize("blocked, command", [("pandas", ["extract", "{wav}", "--out", "{tmp}/store"]),
                                              ("tensorflow", ["fit", "--arch", "mlp", "--store", "{tmp}", "--out",
                                                              "{tmp}/run"])])
def test_a_training_command_on_the_scoring_install_says_what_to_install(tmp_path, blocked, command):
    """Without the training extra, a command that needs it fails in one line naming the extra."""
    wav = write_wav(tmp_path / "a.wav", sine())
    args = [a.format(wav=wav, tmp=tmp_path) for a in command]
    code = (f"import sys; sys.modules[{blocked!r}] = None; sys.argv = ['pianokit', *{args!r}]; "
            "from pianokit.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pianokit[train]" in lines[0] and blocked in lines[0]
    assert not (tmp_path / "store").exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("args", [["extract", "x.wav", "--out", "store", "--noise-floor", "nan"],
                                  ["export", "m.onnx", "--out", "m2", "--noise-floor", "NaN"],
                                  ["fit", "--arch", "mlp", "--store", "s", "--out", "r", "--lr", "nan"],
                                  ["fit", "--arch", "mlp", "--store", "s", "--out", "r", "--crop-seconds", "nan"],
                                  ["dataset", "augment", "--manifest", "m.csv", "--out", "a", "--phone-share", "nan"],
                                  ["dataset", "augment", "--manifest", "m.csv", "--out", "a", "--compress-share", "nan"]])
def test_nan_is_refused_by_every_number_range_option(tmp_path, args, monkeypatch):
    """NaN compares false with both bounds of a range, so it must be refused by name, before any work."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "is not a number" in result.output and "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("jobs, compiled", [("1", 0), ("2", 1)])
def test_parallel_scoring_compiles_numba_in_the_parent_first(tmp_path, monkeypatch, jobs, compiled):
    """As for extract: with more than one worker, `score` compiles librosa's numba functions once
    in the parent before the workers start (numba/numba#10128)."""
    from pianokit import features

    calls = []
    monkeypatch.setattr(features, "compile_in_parent", lambda config: calls.append(config))
    wavs = [str(write_wav(tmp_path / f"{k}.wav", sine(330 + 110 * k, 2))) for k in range(2)]
    result = CliRunner().invoke(cli, ["score", *wavs, "-j", jobs, "--format", "csv", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert len(calls) == compiled
