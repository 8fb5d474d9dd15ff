from pathlib import Path

import numpy as np
import pytest

from conftest import SR, sine, write_wav
from pianokit.recording_checks import RecordingStats
from pianokit.scorer import DEFAULT_MODEL, Scorer

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"


def warnings_for(y: np.ndarray) -> list[str]:
    stats = RecordingStats()
    stats.add(y)
    return stats.warnings()


@pytest.fixture(scope="module")
def piano() -> np.ndarray:
    import soundfile as sf

    y, sr = sf.read(EXAMPLE, dtype="float32")
    assert sr == SR
    return y


def test_a_recording_like_the_training_data_gets_no_warning(piano):
    assert warnings_for(piano) == []


def test_clipping_is_flagged(piano):
    clipped = np.clip(piano * 40, -1, 1)
    assert any(w.startswith("clipped") for w in warnings_for(clipped))


@pytest.mark.parametrize("gain_db, flagged", [(0, False), (-20, False), (12, False), (-45, True)])
def test_only_a_very_quiet_recording_is_flagged_for_level(piano, gain_db, flagged):
    y = np.clip(piano * 10 ** (gain_db / 20), -1, 1)
    assert any("recording level" in w for w in warnings_for(y)) == flagged


@pytest.mark.parametrize("snr_db, flagged", [(40, False), (10, True)])
def test_noise_is_flagged(piano, snr_db, flagged):
    noise = np.random.default_rng(0).standard_normal(len(piano)).astype(np.float32)
    noise *= np.sqrt(np.mean(piano ** 2) / np.mean(noise ** 2)) / 10 ** (snr_db / 20)
    assert any(w.startswith("noisy") for w in warnings_for(piano + noise)) == flagged


def test_white_noise_is_not_vouched_for():
    y = 0.05 * np.random.default_rng(1).standard_normal(SR * 4).astype(np.float32)
    assert any(w.startswith("noisy") for w in warnings_for(y))


def test_scorer_reports_warnings_in_every_format(tmp_path, piano):
    import json

    from click.testing import CliRunner

    from pianokit.cli import cli

    loud = write_wav(tmp_path / "loud.wav", np.clip(piano * 40, -1, 1))
    rating = Scorer(DEFAULT_MODEL, "cpu").score_file(loud)
    assert any(w.startswith("clipped") for w in rating.warnings)
    assert Scorer(DEFAULT_MODEL, "cpu").score_file(EXAMPLE).warnings == []
    as_json = CliRunner().invoke(cli, ["score", str(loud), "--format", "json"])
    assert any(w.startswith("clipped") for w in json.loads(as_json.stdout)["recordings"][0]["warnings"])
    table = CliRunner().invoke(cli, ["score", str(loud)])
    assert "warning: clipped" in table.stdout
    quiet = write_wav(tmp_path / "quiet.wav", sine(440, 3, amp=0.3))
    as_csv = CliRunner().invoke(cli, ["score", str(quiet), "--format", "csv"])
    assert as_csv.stdout.splitlines()[0].endswith(",warnings")
