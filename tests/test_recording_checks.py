from pathlib import Path

import numpy as np
import pytest

from conftest import SR, needs_fluidsynth, sine, tiny_midi, write_wav
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


@pytest.mark.parametrize("condition, flagged", [("clean", False), ("phone_band", False), ("mp3_low", False),
                                                ("ogg_low", False), ("gsm", True), ("8kHz_file", True)])
def test_a_telephone_channel_is_flagged_as_narrow_band(piano, tmp_path, condition, flagged):
    """GSM (8 kHz inside) and a file recorded at 8 kHz leave nothing above 6 kHz; a gentle phone
    band-pass and lossy codecs leave enough."""
    from pianokit import conditions
    from pianokit.audio import load_audio

    if condition == "8kHz_file":
        import soxr

        y = load_audio(write_wav(tmp_path / "phone.wav", soxr.resample(piano, SR, 8000), sr=8000), SR)
    else:
        y = {"clean": lambda: piano, "phone_band": lambda: conditions.phone(piano, SR, codec=False),
             "mp3_low": lambda: conditions.mp3(piano, SR, 9.0), "ogg_low": lambda: conditions.ogg(piano, SR, 0.0),
             "gsm": lambda: conditions.phone(piano, SR)}[condition]()
    assert any(w.startswith("narrow band") for w in warnings_for(y)) == flagged


def test_the_band_is_not_judged_below_a_20_khz_rate(piano):
    import soxr

    from pianokit import conditions

    stats = RecordingStats()
    stats.add(soxr.resample(conditions.phone(piano, SR), SR, 16000), 16000)
    assert stats.high_band_db() is None and not any(w.startswith("narrow band") for w in stats.warnings())


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


NOT_PIANO = "does not sound like a piano"


def not_piano(y: np.ndarray, sr: int = SR) -> bool:
    stats = RecordingStats()
    stats.add(y, sr)
    return any(w.startswith(NOT_PIANO) for w in stats.warnings())


def steady_chord(seconds: float) -> np.ndarray:
    """A C major chord of sines, held without change."""
    t = np.arange(int(seconds * SR)) / SR
    return (0.1 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))).astype(np.float32)


def test_steady_tones_do_not_sound_like_a_piano():
    assert not_piano(sine(440, 8))
    assert not_piano(steady_chord(8))


def vowels(seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """Speech-like sound: a gliding harmonic voice through formants, in syllables that swell and fade."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 140 * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * t) + 0.05 * np.sin(2 * np.pi * 3.1 * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 30))
    out = np.zeros_like(t)
    for formant in (rng.uniform(500, 800), rng.uniform(1000, 1800), rng.uniform(2300, 3000)):
        b, a = scipy.signal.iirpeak(formant, 5, SR)
        out += scipy.signal.lfilter(b, a, voice)
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    out *= syllables * (1 - 0.9 * (np.sin(2 * np.pi * 0.5 * t) > 0.9))
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def test_speech_like_sound_does_not_sound_like_a_piano():
    assert not_piano(vowels())
    assert not_piano(vowels(seed=1), sr=SR)


def test_real_speech_does_not_sound_like_a_piano(tmp_path):
    import shutil
    import subprocess

    import librosa

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng (Debian package) is not installed")
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), "Please play the second movement a little more slowly, and "
                    "listen to the left hand before the lesson on Thursday."], check=True)
    y, _ = librosa.load(wav, sr=SR)
    assert not_piano(y)
    assert not_piano(np.concatenate([y, y]))


@pytest.mark.parametrize("condition", ["clean", "gain_-18dB", "reverb_2s", "pink_30dB", "room_20dB", "phone_gsm",
                                       "ogg_low", "mp3_64k", "colour"])
def test_piano_under_everyday_conditions_still_sounds_like_a_piano(piano, condition):
    from pianokit import conditions

    rng = np.random.default_rng(0)
    y = {"clean": lambda: piano,
         "gain_-18dB": lambda: conditions.gain(piano, -18),
         "reverb_2s": lambda: conditions.reverberate(piano, SR, 2.0, rng),
         "pink_30dB": lambda: conditions.add_noise(piano, SR, 30, "pink", rng),
         "room_20dB": lambda: conditions.add_noise(piano, SR, 20, "room", rng),
         "phone_gsm": lambda: conditions.phone(piano, SR),
         "ogg_low": lambda: conditions.ogg(piano, SR, 0.0),
         "mp3_64k": lambda: conditions.mp3(piano, SR, 6.0),
         "colour": lambda: conditions.colour(piano, SR, 6, -9, 2000, 5)}[condition]()
    stats = RecordingStats()
    stats.add(y, SR)
    assert stats.shape() is not None
    assert not any(w.startswith(NOT_PIANO) for w in stats.warnings())


MELODY = tuple((p, 0.6 * i, 0.6 * i + 0.55) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64]))


@needs_fluidsynth
def test_a_rendered_piano_melody_sounds_like_a_piano(tmp_path):
    import soundfile as sf

    from pianokit.render import find_soundfont, render_midi

    midi = tiny_midi(tmp_path / "melody.mid", MELODY, pedal=False)
    y, sr = sf.read(render_midi(midi, tmp_path / "melody.wav", find_soundfont()), dtype="float32")
    assert not not_piano(y, sr)


@pytest.mark.parametrize("seconds", [2.5, 3.0, 5.0])
def test_a_short_steady_tone_does_not_sound_like_a_piano(seconds):
    """A pure tone has few loud bands, so few level steps; held over two seconds it is still judged."""
    assert not_piano(sine(440, seconds))
    assert not_piano(steady_chord(seconds))


@pytest.mark.parametrize("seconds", [2.5, 3.0, 5.0])
def test_a_short_piano_clip_sounds_like_a_piano(piano, seconds):
    start = int(np.argmax(np.abs(piano) > 1e-3 * np.abs(piano).max()))
    clip = piano[start:start + int(seconds * SR)]
    assert not not_piano(clip)
    assert not_piano(clip[::-1].copy())  # played backwards: notes swell and stop abruptly


def test_a_short_recording_is_not_judged_by_its_shape():
    stats = RecordingStats()
    stats.add(sine(440, 1.0), SR)
    assert stats.shape() is None
    assert not any(w.startswith(NOT_PIANO) for w in stats.warnings())


def test_shape_adds_up_over_segments(piano):
    whole, parts = RecordingStats(), RecordingStats()
    whole.add(piano, SR)
    half = len(piano) // 2
    parts.add(piano[:half], SR)
    parts.add(piano[half:], SR)
    a, b = whole.shape(), parts.shape()
    assert abs(a["skewness"] - b["skewness"]) < 0.25 and abs(a["abrupt_falls"] - b["abrupt_falls"]) < 0.05


def test_shape_is_measured_the_same_at_other_sample_rates(piano):
    import librosa

    at_48k = RecordingStats()
    at_48k.add(librosa.resample(piano, orig_sr=SR, target_sr=48000), 48000)
    at_sr = RecordingStats()
    at_sr.add(piano, SR)
    assert abs(at_48k.shape()["skewness"] - at_sr.shape()["skewness"]) < 0.1


@pytest.mark.parametrize("drive", [2.0, 10.0])
def test_clipping_is_flagged_after_scaling_down(piano, drive):
    y = piano / np.abs(piano).max()
    clipped = np.clip(y * drive, -1, 1) * 0.5
    assert any(w.startswith("clipped") for w in warnings_for(clipped))
    assert not any(w.startswith("clipped") for w in warnings_for(y * 0.5))


@pytest.mark.parametrize("freq", [50.0, 440.0, 4000.0])
def test_a_pure_tone_below_full_scale_is_not_called_clipped(freq):
    assert not any(w.startswith("clipped") for w in warnings_for(sine(freq, 5, amp=0.3)))
