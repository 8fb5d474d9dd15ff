"""Scoring on CUDA runs the models in fixed-size batches (pianokit.cuda); the results must equal one run.

No GPU here: the batching is checked on CPU sessions, which compute the same function."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pianokit import cuda, transcribe
from pianokit.audio import load_audio
from pianokit.scorer import DEFAULT_MODEL, Scorer

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"


class RowwiseSession:
    """Stands in for an onnxruntime session: two outputs computed row by row; records input shapes."""

    def __init__(self):
        self.shapes = []

    def run(self, names, inputs):
        x, f = inputs["mel"], inputs["features"]
        self.shapes.append((x.shape, f.shape))
        return [x.sum(axis=(1, 2))[:, None] + f, x.max(axis=(1, 2))[:, None] * np.ones((1, 3))]


@pytest.mark.parametrize("rows", [1, 7, 32, 33, 70])
def test_run_fixed_equals_one_run_and_keeps_one_shape(rows):
    rng = np.random.default_rng(rows)
    inputs = {"mel": rng.normal(size=(rows, 5, 4)).astype(np.float32),
              "features": rng.normal(size=(rows, 3)).astype(np.float32)}
    whole = RowwiseSession().run(None, inputs)
    session = RowwiseSession()
    batched = cuda.run_fixed(session, inputs, batch=32)
    for a, b in zip(whole, batched):
        np.testing.assert_array_equal(a, b)
    assert {s for s, _ in session.shapes} == {(32, 5, 4)}
    assert len(session.shapes) == -(-rows // 32)


def test_scorer_ratings_are_the_same_in_fixed_size_runs():
    """The shipped model through Scorer.run's CUDA path (fixed runs of 32 windows; here on the CPU)
    gives the ratings of one run over all windows (a 50 s recording: several windows)."""
    scorer = Scorer(DEFAULT_MODEL, "cpu")
    y = load_audio(EXAMPLE, scorer.config.sample_rate)
    inputs = scorer.inputs_for(np.concatenate([y, y[::-1], y, y[::-1], y])[: 50 * scorer.config.sample_rate])
    assert 1 < len(inputs["mel"]) < 32
    whole = scorer.session.run(None, inputs)
    for a, b in zip(whole, cuda.run_fixed(scorer.session, inputs)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_transcription_posteriors_are_the_same_in_fixed_size_runs(monkeypatch):
    """On CUDA the transcription model also runs in fixed-size batches; with the CPU session standing
    in, the posteriors equal the plain run's (a 26 s recording spans two batches of 16 windows)."""
    y = load_audio(EXAMPLE, transcribe.SAMPLE_RATE)
    y = np.concatenate([y, y[::-1], y])[: 26 * transcribe.SAMPLE_RATE]
    transcribe.run_on_cuda(False)
    plain = transcribe.posteriors(y)
    cpu_session = transcribe._session(False)
    monkeypatch.setattr(transcribe, "_session", lambda on_cuda=False: cpu_session)
    transcribe.run_on_cuda(True)
    try:
        batched = transcribe.posteriors(y)
    finally:
        transcribe.run_on_cuda(False)
    assert plain.keys() == batched.keys()
    for k in plain:
        np.testing.assert_allclose(plain[k], batched[k], atol=1e-5)


def test_extract_on_cuda_without_cuda_is_one_line_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from pianokit.cli import cli

    if cuda.starts(transcribe.MODEL_PATH):
        pytest.skip("CUDA works here")
    out = tmp_path / "store"
    result = CliRunner().invoke(cli, ["extract", str(EXAMPLE), "--out", str(out), "--device", "cuda"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: --device cuda: CUDA is not available here (needs onnxruntime-gpu, an NVIDIA GPU and its CUDA libraries)"]
    assert not out.exists()


def test_extract_on_cuda_gives_the_cpus_features(monkeypatch, tmp_path):
    """`extract --device cuda` runs the transcription in fixed-size batches; with the CPU session
    standing in for the CUDA one, every feature equals the CPU extraction's."""
    from pianokit.extract import run_extract

    y = load_audio(EXAMPLE, transcribe.SAMPLE_RATE)
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([y, y[::-1], y]), transcribe.SAMPLE_RATE)
    inputs = [("long", long), ("example", EXAMPLE)]
    plain = run_extract(inputs, tmp_path / "cpu", progress=False)
    cpu_session = transcribe._session(False)
    monkeypatch.setattr(cuda, "starts", lambda path: True)
    monkeypatch.setattr(transcribe, "_session", lambda on_cuda=False: cpu_session)
    calls = []
    real = cuda.run_fixed
    monkeypatch.setattr(cuda, "run_fixed", lambda *a, **k: calls.append(1) or real(*a, **k))
    try:
        batched = run_extract(inputs, tmp_path / "cuda", progress=False, device="cuda")
    finally:
        transcribe.run_on_cuda(False)
    assert plain.done == batched.done == 2 and calls
    a, b = (pd.read_csv(tmp_path / d / "features.csv").set_index("id").sort_index() for d in ("cpu", "cuda"))
    assert any(c.startswith("tr_") for c in a.columns)
    numbers = a.drop(columns=["source_mtime_ns"]).select_dtypes("number").columns
    np.testing.assert_allclose(a[numbers].to_numpy(), b[numbers].to_numpy(), rtol=1e-5, atol=1e-6)
